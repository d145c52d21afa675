//! The held-back transaction (`tx::PgTx`) against a real PostgreSQL server (a private one in a
//! temp folder, as the end-to-end tests start): what a batch writes reads back at once inside
//! it, lands in the database in an order the constraints accept, and a large transaction is
//! sent in parts.

use std::collections::BTreeMap;

use gatepass_protocol::{AuditEvent, Host, Timestamp};
use gatepass_tests::pg::Cluster;
use postgres::{Client, NoTls};

use super::conn::Pipelined;
use super::schema;
use super::tx::{PgTx, Statements};
use crate::domain::{AuditHead, HostRecord, TokenRecord, Tx};
use crate::error::StoreError;
use crate::store::codec::decode_token;
use crate::store::redb::tests::token_record;

/// A database migrated to the schema: a blocking client to look at it, and the writer's kind
/// of connection.
fn connect(cluster: &Cluster, db: &str) -> (Client, Pipelined) {
    let url = cluster.database(db);
    let mut c = Client::connect(&url, NoTls).unwrap();
    schema::migrate(&mut c).unwrap();
    let p = Pipelined::connect(&url.parse().unwrap(), NoTls).unwrap();
    (c, p)
}

/// Runs `f` in one transaction and commits what it did.
fn in_tx(conn: &Pipelined, f: impl FnOnce(&mut PgTx<'_>)) {
    let st = Statements::prepare(conn).unwrap();
    let mut tx = PgTx::begin(conn, &st, &[7; 32], false, &[], false).unwrap();
    f(&mut tx);
    tx.commit(Vec::new()).map_err(StoreError::from).unwrap();
}

fn stored_tokens(c: &mut Client) -> Vec<(String, TokenRecord)> {
    c.query("SELECT name, record FROM gp_tokens ORDER BY name", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), decode_token(r.get::<_, &[u8]>(1)).unwrap()))
        .collect()
}

fn host(id: &str, token: &TokenRecord, key: &str) -> HostRecord {
    HostRecord {
        host: Host {
            id: id.into(),
            hostname: format!("h-{id}"),
            token_id: token.id.clone(),
            token_name: token.name.clone(),
            group: None,
            labels: BTreeMap::new(),
            owner: token.owner.clone(),
            source_addr: "192.0.2.1".into(),
            enrolled_at: Timestamp(1),
            key_fingerprint: Some(key.into()),
            facts: BTreeMap::new(),
            tenant: "default".into(),
        },
        cert_pem: None,
    }
}

fn named(i: u64, name: &str) -> TokenRecord {
    let mut t = token_record(i);
    t.name = name.into();
    t
}

#[test]
fn a_name_freed_in_a_transaction_is_taken_again_in_it_and_the_last_state_lands() {
    let cluster = Cluster::start();
    let (mut c, p) = connect(&cluster, "names");
    let old = named(1, "web");
    in_tx(&p, |tx| tx.insert_token(&old).unwrap());

    let (a, mut b) = (named(2, "db"), named(3, "web"));
    in_tx(&p, |tx| {
        // Read from the database, removed, and its name taken by a new token.
        assert_eq!(tx.token(&old.id).unwrap().as_ref(), Some(&old));
        tx.remove_token(&old).unwrap();
        assert_eq!(tx.token(&old.id).unwrap(), None);
        assert_eq!(tx.token_id_by_name("web").unwrap(), None);
        tx.insert_token(&b).unwrap();
        assert_eq!(tx.token_id_by_name("web").unwrap(), Some(b.id.clone()));
        // Made and removed in the same transaction: never sent.
        tx.insert_token(&a).unwrap();
        tx.remove_token(&a).unwrap();
        // Made, then changed twice: sent once, as it was last.
        b.uses += 1;
        tx.update_token(&b).unwrap();
        b.uses += 1;
        tx.update_token(&b).unwrap();
        assert_eq!(tx.token(&b.id).unwrap().map(|t| t.uses), Some(b.uses));
    });
    assert_eq!(stored_tokens(&mut c), vec![("web".to_string(), b.clone())]);

    // A later transaction updates what the last one inserted.
    in_tx(&p, |tx| {
        let mut t = tx.token(&b.id).unwrap().unwrap();
        t.uses = 7;
        tx.update_token(&t).unwrap();
    });
    assert_eq!(stored_tokens(&mut c)[0].1.uses, 7);
}

#[test]
fn a_host_looked_up_by_key_is_the_latest_as_the_transaction_sees_it() {
    let cluster = Cluster::start();
    let (mut c, p) = connect(&cluster, "hosts");
    let t = token_record(1);
    let first = host("h0001", &t, "sha256:aa");
    in_tx(&p, |tx| {
        tx.insert_token(&t).unwrap();
        tx.insert_host(&first).unwrap();
    });
    let second = host("h0002", &t, "sha256:aa");
    in_tx(&p, |tx| {
        let by_key = |tx: &mut PgTx<'_>| {
            tx.host_by_key(&t.id, "sha256:aa")
                .unwrap()
                .map(|h| h.host.id)
        };
        assert_eq!(by_key(tx).as_deref(), Some("h0001"));
        tx.insert_host(&second).unwrap();
        assert_eq!(by_key(tx).as_deref(), Some("h0002"));
        assert_eq!(tx.host("h0002").unwrap(), Some(second.clone()));
        tx.remove_host(&second).unwrap();
        assert_eq!(by_key(tx).as_deref(), Some("h0001"));
        assert_eq!(tx.host("h0002").unwrap(), None);
        tx.remove_host(&first).unwrap();
        assert_eq!(by_key(tx), None);
        assert_eq!(tx.host_by_key(&t.id, "sha256:bb").unwrap(), None);
    });
    let left: i64 = c
        .query_one("SELECT count(*) FROM gp_hosts", &[])
        .unwrap()
        .get(0);
    assert_eq!(left, 0);
}

#[test]
fn a_transaction_larger_than_one_send_lands_whole_with_its_head() {
    let cluster = Cluster::start();
    let (mut c, p) = connect(&cluster, "large");
    let n = 10_000u64;
    in_tx(&p, |tx| {
        for i in 0..n {
            tx.insert_token(&token_record(i)).unwrap();
            let event = AuditEvent {
                seq: i + 1,
                at: Timestamp(i as i64),
                actor: "admin".into(),
                action: gatepass_protocol::AuditAction::Created,
                target: format!("t{i}"),
                target_name: None,
                details: BTreeMap::new(),
                prev_hash: String::new(),
                tenant: "default".into(),
            };
            let json = serde_json::to_vec(&event).unwrap();
            tx.append_audit(
                &event,
                &json,
                AuditHead {
                    next_seq: i + 2,
                    last_hash: format!("h{i}"),
                },
            )
            .unwrap();
        }
    });
    let count = |c: &mut Client, sql: &str| -> i64 { c.query_one(sql, &[]).unwrap().get(0) };
    assert_eq!(count(&mut c, "SELECT count(*) FROM gp_tokens"), n as i64);
    assert_eq!(count(&mut c, "SELECT count(*) FROM gp_audit"), n as i64);
    assert_eq!(
        count(&mut c, "SELECT next_seq FROM gp_audit_head"),
        n as i64 + 1
    );
}

#[test]
fn a_write_refused_in_the_last_flight_fails_the_batch_and_its_commit_rolls_back() {
    let cluster = Cluster::start();
    let (mut c, p) = connect(&cluster, "refused");
    let first = named(1, "web");
    in_tx(&p, |tx| tx.insert_token(&first).unwrap());

    let st = Statements::prepare(&p).unwrap();
    let mut tx = PgTx::begin(&p, &st, &[7; 32], false, &[], false).unwrap();
    let mut changed = first.clone();
    changed.uses = 5;
    tx.update_token(&changed).unwrap();
    // A name the database holds, unknown to the transaction: refused by the unique index, in
    // the same flight as the update and the COMMIT.
    tx.insert_token(&named(2, "web")).unwrap();
    match tx.commit(Vec::new()) {
        Err(super::tx::SendFailed::Write(e)) => {
            assert!(format!("{e:?}").contains("duplicate key"), "{e:?}")
        }
        Err(super::tx::SendFailed::Commit(e)) => panic!("failed at the commit: {e}"),
        Ok(()) => panic!("a duplicate name was committed"),
    }
    // Nothing of the transaction landed, and the connection takes the next one.
    assert_eq!(
        stored_tokens(&mut c),
        vec![("web".to_string(), first.clone())]
    );
    in_tx(&p, |tx| {
        assert_eq!(tx.token(&first.id).unwrap(), Some(first.clone()))
    });
}
