//! The PostgreSQL schema and its versioned migrations, run at start under an advisory lock (so
//! daemons starting together migrate once). A database whose schema is newer than this build
//! knows is refused: an older daemon must not write rows it does not understand.
//!
//! Tables (every record is stored as the embedded engine stores it, beside the columns its
//! look-ups need):
//! - `gp_tokens(id, name UNIQUE, record)`: live tokens; `record` is `codec::encode_token`.
//! - `gp_hosts(id, token_id, key_fingerprint, enrolled_seq, record)`: JSON `HostRecord`s.
//! - `gp_api_tokens(id, owner, name, record)`, unique per owner and name.
//! - `gp_audit(seq, target, actor, at, event)`: the chain, `event` the exact JSON its hash
//!   covers (target, actor and time beside it for the filters).
//! - `gp_audit_head(next_seq, last_hash, seal)`: one row, locked by every write transaction
//!   first, so all daemons' writes take turns and the chain never forks; `seal` is an HMAC of
//!   the head under a key only the nodes hold (`seal`), so the head cannot be rewound by hand.
//! - `gp_meta(key, value)`: the fingerprints of the HMAC key and the CA the nodes share.

use postgres::Client;

use crate::error::StoreError;

/// Each migration, in order; its number is its place (1-based). Never edit one that shipped:
/// add the next.
const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    "CREATE TABLE gp_meta (key text PRIMARY KEY, value text NOT NULL);
     CREATE TABLE gp_tokens (id text PRIMARY KEY, name text NOT NULL UNIQUE, record bytea NOT NULL);
     CREATE TABLE gp_hosts (
         id text PRIMARY KEY,
         token_id text NOT NULL,
         key_fingerprint text,
         record bytea NOT NULL
     );
     CREATE INDEX gp_hosts_by_token ON gp_hosts (token_id, key_fingerprint);
     CREATE TABLE gp_api_tokens (
         id text PRIMARY KEY,
         owner text NOT NULL,
         name text NOT NULL,
         record bytea NOT NULL,
         UNIQUE (owner, name)
     );
     CREATE TABLE gp_audit (
         seq bigint PRIMARY KEY,
         target text NOT NULL,
         actor text NOT NULL,
         at bigint NOT NULL,
         event bytea NOT NULL
     );
     CREATE INDEX gp_audit_by_target ON gp_audit (target, seq);
     CREATE INDEX gp_audit_by_actor ON gp_audit (actor, seq);
     CREATE TABLE gp_audit_head (
         one boolean PRIMARY KEY DEFAULT true CHECK (one),
         next_seq bigint NOT NULL,
         last_hash text NOT NULL
     );",
    // 2: the head's seal, an HMAC under a key derived from the nodes' hmac.key (never in the
    // database): events removed from the chain's end, with the head rewound by hand, show.
    "ALTER TABLE gp_audit_head ADD COLUMN seal text NOT NULL DEFAULT '';",
];

/// The schema version this build writes.
pub const VERSION: i32 = MIGRATIONS.len() as i32;

/// Any number, the same for every daemon: the advisory lock migrations run under.
const MIGRATION_LOCK: i64 = 0x6761_7465_7061_7373; // "gatepass"

/// Brings the schema up to `VERSION`, or refuses a newer one.
pub fn migrate(client: &mut Client) -> Result<(), StoreError> {
    let mut txn = client.transaction()?;
    txn.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    txn.batch_execute("CREATE TABLE IF NOT EXISTS gp_schema (version integer NOT NULL)")?;
    let found: Option<i32> = txn
        .query_opt("SELECT max(version) FROM gp_schema", &[])?
        .and_then(|row| row.get(0));
    let found = found.unwrap_or(0);
    if found > VERSION {
        return Err(StoreError::Invalid(format!(
            "the database's schema is version {found}, newer than this gatepassd knows \
             ({VERSION}): run the gatepassd that made it, or a newer one"
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        txn.batch_execute(sql)?;
        txn.execute(
            "INSERT INTO gp_schema (version) VALUES ($1)",
            &[&(i as i32 + 1)],
        )?;
    }
    txn.commit()?;
    Ok(())
}
