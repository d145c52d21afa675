//! Backups of the redb engine: a consistent snapshot of a running store, written as a new redb
//! file from one read transaction (every table, but the journal's bookkeeping: a restore
//! starts a new journal). The database file of a live data folder is not a backup on its own
//! — the journal holds what it does not yet — and this is what to keep instead.

use std::path::Path;

use ::redb::{
    Database, Key, ReadTransaction, ReadableTable, TableDefinition, Value, WriteTransaction,
};

use super::tables::{
    API_TOKEN_NAMES, API_TOKENS, AUDIT, AUDIT_BY_TARGET, HOST_KEYS, HOSTS, JOURNAL_SEQ, META,
    NAMES, STAMP, TOKEN_HOSTS, TOKENS, create_all,
};
use crate::domain::BackupInfo;
use crate::error::StoreError;

/// Copies every entry of `def` from the snapshot into `w`.
fn copy<K: Key + 'static, V: Value + 'static>(
    r: &ReadTransaction,
    w: &WriteTransaction,
    def: TableDefinition<K, V>,
) -> Result<u64, StoreError> {
    let from = r.open_table(def)?;
    let mut to = w.open_table(def)?;
    let mut n = 0;
    for item in from.iter()? {
        let (k, v) = item?;
        to.insert(k.value(), v.value())?;
        n += 1;
    }
    Ok(n)
}

/// Writes the snapshot `r` to a new file at `to` (0600; it must not exist), durably.
pub(super) fn snapshot(r: &ReadTransaction, to: &Path) -> Result<BackupInfo, StoreError> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(to)?;
    let db = Database::builder().create_with_backend(::redb::backends::FileBackend::new(file)?)?;
    let w = db.begin_write()?;
    create_all(&w)?;
    let tokens = copy(r, &w, TOKENS)?;
    copy(r, &w, NAMES)?;
    let hosts = copy(r, &w, HOSTS)?;
    copy(r, &w, TOKEN_HOSTS)?;
    copy(r, &w, HOST_KEYS)?;
    let events = copy(r, &w, AUDIT)?;
    copy(r, &w, AUDIT_BY_TARGET)?;
    copy(r, &w, META)?;
    {
        // The journal's bookkeeping stays behind: a restored store starts a journal of its own.
        let mut meta = w.open_table(META)?;
        meta.remove(JOURNAL_SEQ)?;
        meta.remove(STAMP)?;
    }
    let api_tokens = copy(r, &w, API_TOKENS)?;
    copy(r, &w, API_TOKEN_NAMES)?;
    w.commit()?;
    drop(db);
    std::fs::File::open(to)?.sync_all()?;
    Ok(BackupInfo {
        tokens,
        hosts,
        events,
        api_tokens,
    })
}

/// Makes the store at `db_path` (which must not exist) from the backup `snapshot`: copied,
/// checked (redb's integrity check, the audit chain, the tables against it), given a new
/// journal. On any failure nothing is left behind.
pub fn restore(snapshot: &Path, db_path: &Path) -> Result<BackupInfo, crate::Error> {
    use crate::Error;
    if db_path.exists() {
        return Err(Error::Damaged {
            path: db_path.to_owned(),
            problem: "already exists: restore into a data folder without a store (move this \
                      one away first)"
                .into(),
        });
    }
    let journal = db_path.with_extension("journal");
    let copy = || -> std::io::Result<()> {
        let mut from = std::fs::File::open(snapshot)?;
        let mut to = super::journal::open_private(db_path)?;
        std::io::copy(&mut from, &mut to)?;
        to.sync_all()?;
        if journal.exists() {
            std::fs::remove_file(&journal)?;
        }
        Ok(())
    };
    let undo = || {
        let _ = std::fs::remove_file(db_path);
        let _ = std::fs::remove_file(&journal);
    };
    if let Err(e) = copy() {
        undo();
        return Err(Error::io(format!("copying {}", snapshot.display()), e));
    }
    let checked = (|| {
        let (tx, _) = tokio::sync::broadcast::channel(1);
        let mut options = super::Options::new(8 << 20, 64 << 20);
        options.on_halt = std::sync::Arc::new(|_| {});
        let store = super::RedbStore::open_with(db_path, tx, options)?;
        let check = crate::domain::Store::verify_audit(&store)?;
        if !check.ok() {
            return Err(Error::Damaged {
                path: snapshot.to_owned(),
                problem: format!(
                    "does not verify: {}",
                    check.problem.unwrap_or_else(|| check.tables.join("; "))
                ),
            });
        }
        let r =
            ::redb::ReadableDatabase::begin_read(&*store.db).map_err(crate::StoreError::from)?;
        let count = |n: Result<u64, ::redb::StorageError>| n.map_err(crate::StoreError::from);
        use ::redb::ReadableTableMetadata;
        let open = |e: ::redb::TableError| crate::StoreError::from(e);
        Ok(BackupInfo {
            tokens: count(r.open_table(TOKENS).map_err(open)?.len())?,
            hosts: count(r.open_table(HOSTS).map_err(open)?.len())?,
            events: count(r.open_table(AUDIT).map_err(open)?.len())?,
            api_tokens: count(r.open_table(API_TOKENS).map_err(open)?.len())?,
        })
    })();
    match checked {
        Ok(info) => Ok(info),
        Err(e) => {
            undo();
            // Whatever went wrong, it is the snapshot that is named.
            let problem = match e {
                Error::Damaged { path, problem } if path == db_path => {
                    problem.replace(super::RESTORE_ADVICE, "")
                }
                Error::Damaged { .. } => return Err(e),
                other => format!("is not a backup that can be restored ({other})"),
            };
            Err(Error::Damaged {
                path: snapshot.to_owned(),
                problem,
            })
        }
    }
}
