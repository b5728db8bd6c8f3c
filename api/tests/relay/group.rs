//! The group commit of the relay's small writes: many concurrent writes
//! share batches, every answer to a synced write comes after a synced
//! commit, a batch of only rebuildable writes commits unsynced without
//! leaving a connection unsynced, and a failing write sinks only itself,
//! its own changes included — on SQLite and on PostgreSQL.

use diesel::RunQueryDsl as _;

use carechain_api::db::group::{Durability, GroupWriter};
use carechain_api::db::models::IdempotencyRecord;
use carechain_api::db::{self, DbPool, idempotency};

use crate::database::{TestDb, commits_are_synced, on_both_backends, temp_store_in_memory};

fn record(key: &str) -> IdempotencyRecord {
    IdempotencyRecord {
        account_id: "acct".into(),
        idem_key: key.into(),
        request_hash: format!("hash-{key}"),
        status: idempotency::IN_PROGRESS.into(),
        status_code: 0,
        response_body: String::new(),
        created_at: db::now(),
    }
}

/// The stored claim of `key`, if any.
fn stored(conn: &mut db::DbConnection, key: &str) -> Option<IdempotencyRecord> {
    idempotency::get(conn, "acct", key).unwrap()
}

/// Every connection of `pool`, held at once.
fn hold_all(pool: &DbPool) -> Vec<db::PooledConn> {
    (0..pool.max_size()).map(|_| pool.get().unwrap()).collect()
}

async fn exercise(pool: &DbPool) {
    let writer = GroupWriter::start(pool.clone());
    // 100 distinct keys claimed, 20 of them twice, and 10 writes that fail, all at once.
    let mut tasks = Vec::new();
    for i in 0..120 {
        let w = writer.clone();
        let key = format!("k{}", i % 100);
        tasks.push(tokio::spawn(async move {
            w.run(Durability::Synced, move |conn| {
                assert!(commits_are_synced(conn), "the batch commit must be synced");
                idempotency::claim(conn, &record(&key))
            })
            .await
        }));
    }
    // Each broken write stores a key of its own before it fails.
    let mut broken = Vec::new();
    for i in 0..10 {
        let w = writer.clone();
        broken.push(tokio::spawn(async move {
            w.run(Durability::Synced, move |conn| {
                idempotency::claim(conn, &record(&format!("partial{i}")))?;
                diesel::sql_query("INSERT INTO no_such_table VALUES (1)").execute(conn)?;
                Ok(())
            })
            .await
        }));
    }
    let mut claimed = 0;
    for task in tasks {
        if task.await.unwrap().unwrap() {
            claimed += 1;
        }
    }
    assert_eq!(claimed, 100, "each key is claimed exactly once");
    for task in broken {
        assert!(
            task.await.unwrap().is_err(),
            "a failing write reports its error"
        );
    }
    // Completed answers are visible from another connection once returned.
    for i in 0..100 {
        let key = format!("k{i}");
        writer
            .run(Durability::Synced, move |conn| {
                idempotency::complete(conn, "acct", &key, 201, "{\"ok\":1}")
            })
            .await
            .unwrap();
    }
    let mut conn = pool.get().unwrap();
    for i in 0..10 {
        let partial = stored(&mut conn, &format!("partial{i}"));
        assert!(
            partial.is_none(),
            "a failed write's own changes are rolled back"
        );
    }
    for i in 0..100 {
        let stored = stored(&mut conn, &format!("k{i}")).unwrap();
        assert_eq!(stored.status, idempotency::DONE);
        assert_eq!(stored.status_code, 201);
        assert_eq!(stored.request_hash, format!("hash-k{i}"));
    }
}

/// Rebuildable writes alone commit unsynced; with a synced write in the
/// batch they commit synced; either way every pooled connection is synced
/// afterwards.
async fn rebuildable(pool: &DbPool) {
    let writer = GroupWriter::start(pool.clone());
    let alone = writer
        .run(Durability::Rebuildable, |conn| {
            let synced = commits_are_synced(conn);
            idempotency::claim(conn, &record("r1"))?;
            Ok(synced)
        })
        .await
        .unwrap();
    assert!(
        !alone,
        "a batch of only rebuildable writes commits unsynced"
    );

    // Hold the writer in a batch of its own, so the next two share one.
    let (release, held) = std::sync::mpsc::channel::<()>();
    let first = writer
        .queue(Durability::Synced, move |_| {
            held.recv().ok();
            Ok(())
        })
        .unwrap();
    let mixed = writer
        .queue(Durability::Rebuildable, |conn| {
            let synced = commits_are_synced(conn);
            idempotency::claim(conn, &record("r2"))?;
            Ok(synced)
        })
        .unwrap();
    let other = writer
        .queue(Durability::Synced, |conn| {
            idempotency::claim(conn, &record("s1"))
        })
        .unwrap();
    release.send(()).unwrap();
    first.await.unwrap();
    assert!(
        mixed.await.unwrap(),
        "a batch with a synced write commits synced"
    );
    assert!(other.await.unwrap());

    let mut held = hold_all(pool);
    for conn in &mut held {
        assert!(
            commits_are_synced(conn),
            "no connection goes back to the pool unsynced"
        );
    }
    for key in ["r1", "r2", "s1"] {
        assert!(stored(&mut held[0], key).is_some(), "{key} is stored");
    }
}

on_both_backends!(group_commit, 4, async super::exercise);
on_both_backends!(rebuildable_writes, 4, async super::rebuildable);

/// The writer's savepoints journal pages in memory, not in a temporary file.
#[test]
fn sqlite_connections_keep_statement_journals_in_memory() {
    let database = TestDb::sqlite(3);
    let mut held = hold_all(&database.pool);
    for conn in &mut held {
        let db::DbConnection::Sqlite(conn) = &mut **conn else {
            panic!("a file path opens SQLite");
        };
        assert!(temp_store_in_memory(conn), "temp_store is MEMORY");
    }
}

#[actix_web::test]
async fn flush_returns_once_every_queued_write_is_stored() {
    let database = TestDb::sqlite(4);
    let pool = &database.pool;
    let writer = GroupWriter::start(pool.clone());
    // Queued and never awaited, as `once_on_ledger` does after answering.
    for i in 0..50 {
        let key = format!("q{i}");
        drop(
            writer
                .queue(Durability::Rebuildable, move |conn| {
                    idempotency::claim(conn, &record(&key))
                })
                .unwrap(),
        );
    }
    writer.flush().await.unwrap();
    let mut conn = pool.get().unwrap();
    for i in 0..50 {
        let queued = stored(&mut conn, &format!("q{i}"));
        assert!(queued.is_some(), "write q{i} was queued before the flush");
    }
}
