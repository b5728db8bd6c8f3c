//! The committed `schema.rs` against both migration sets, the repository
//! functions on both backends, and the full story on PostgreSQL.
//!
//! PostgreSQL runs on 127.0.0.1:5432 (user `postgres`, trust auth); each run
//! creates `carechain_test_<random>` and drops it. `CARECHAIN_SKIP_PG=1` skips.

use std::collections::BTreeMap;

use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{Integer, Text};
use diesel::sqlite::SqliteConnection;
use diesel_migrations::MigrationHarness as _;

use carechain_api::db::models::{Account, IdempotencyRecord, LoginChallenge, RefreshToken};
use carechain_api::db::{self, DbPool, POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS};
use carechain_api::db::{accounts, idempotency, outbox, tokens};
use carechain_api::push::store::{self, NewRow};

use crate::support::{self, PgDatabase};
use crate::world::ok;

/// `table → column → (type, nullable)`.
type Columns = BTreeMap<String, BTreeMap<String, (String, bool)>>;

/// The tables and columns `schema.rs` declares, with diesel type names.
fn committed() -> Columns {
    let text = include_str!("../../src/db/schema.rs");
    let mut out = Columns::new();
    let mut table = None;
    for line in text.lines() {
        let trimmed = line.trim();
        if line.starts_with("    ")
            && !line.starts_with("        ")
            && trimmed.ends_with('{')
            && trimmed.contains('(')
        {
            let name = trimmed.split_whitespace().next().unwrap().to_owned();
            out.insert(name.clone(), BTreeMap::new());
            table = Some(name);
        } else if let (Some(t), Some((name, ty))) =
            (&table, trimmed.trim_end_matches(',').split_once(" -> "))
        {
            let (ty, nullable) = match ty.strip_prefix("Nullable<") {
                Some(inner) => (inner.trim_end_matches('>').to_owned(), true),
                None => (ty.to_owned(), false),
            };
            out.get_mut(t)
                .unwrap()
                .insert(name.to_owned(), (ty, nullable));
        } else if trimmed == "}" && line.starts_with("    }") {
            table = None;
        }
    }
    out
}

#[derive(QueryableByName)]
struct SqliteColumn {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Integer)]
    not_null: i32,
}

#[derive(QueryableByName)]
struct PgColumn {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    data_type: String,
    #[diesel(sql_type = Text)]
    is_nullable: String,
}

fn diesel_type_sqlite(sql: &str) -> String {
    match sql.to_ascii_uppercase().as_str() {
        "TEXT" => "Text",
        "BIGINT" => "BigInt",
        // Only `INTEGER PRIMARY KEY AUTOINCREMENT` (a 64-bit rowid) may back a BigInt.
        "INTEGER" => "Integer",
        _ => "?",
    }
    .to_owned()
}

fn diesel_type_pg(sql: &str) -> String {
    match sql {
        "text" => "Text",
        "bigint" => "BigInt",
        "integer" => "Integer",
        _ => "?",
    }
    .to_owned()
}

#[test]
fn schema_rs_matches_the_sqlite_migrations() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn =
        SqliteConnection::establish(dir.path().join("s.sqlite").to_str().unwrap()).unwrap();
    conn.run_pending_migrations(SQLITE_MIGRATIONS).unwrap();
    let mut found = Columns::new();
    for table in committed().keys() {
        let rows: Vec<SqliteColumn> = diesel::sql_query(format!(
            "SELECT name, type AS kind, \"notnull\" AS not_null FROM pragma_table_info('{table}')"
        ))
        .load(&mut conn)
        .unwrap();
        let columns = found.entry(table.clone()).or_default();
        for c in rows {
            let mut ty = diesel_type_sqlite(&c.kind);
            if table == "outbox" && c.name == "id" && ty == "Integer" {
                ty = "BigInt".into();
            }
            columns.insert(c.name, (ty, c.not_null == 0));
        }
    }
    #[derive(QueryableByName)]
    struct Name {
        #[diesel(sql_type = Text)]
        name: String,
    }
    let tables: Vec<Name> = diesel::sql_query(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '__diesel%'",
    )
    .load(&mut conn)
    .unwrap();
    let mut names: Vec<String> = tables.into_iter().map(|t| t.name).collect();
    names.sort();
    assert_eq!(
        names,
        committed().keys().cloned().collect::<Vec<_>>(),
        "tables differ"
    );
    assert_eq!(
        found,
        committed(),
        "schema.rs differs from migrations/sqlite"
    );
}

/// What keeps a test database alive.
enum Keep {
    Sqlite { _dir: tempfile::TempDir },
    Pg { _database: PgDatabase },
}

/// A pool on a fresh database of one backend, gone when this drops (the
/// pool closes first).
pub struct TestDb {
    /// The pool.
    pub pool: DbPool,
    _keep: Keep,
}

impl TestDb {
    /// `size` connections to a fresh SQLite file.
    pub fn sqlite(size: u32) -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let pool = db::connect(dir.path().join("t.sqlite").to_str().unwrap(), size).unwrap();
        TestDb {
            pool,
            _keep: Keep::Sqlite { _dir: dir },
        }
    }

    /// `size` connections to a fresh PostgreSQL database, or `None` when
    /// `CARECHAIN_SKIP_PG=1`.
    pub fn postgres(size: u32) -> Option<TestDb> {
        let database = PgDatabase::create()?;
        let pool = db::connect(&database.url, size).unwrap();
        Some(TestDb {
            pool,
            _keep: Keep::Pg {
                _database: database,
            },
        })
    }
}

/// Two tests named `$name::on_sqlite` and `$name::on_postgres` that run
/// `$check(&DbPool)` (awaited after `async`) on a fresh database of each
/// backend of `$size` connections; the PostgreSQL one is skipped with
/// `CARECHAIN_SKIP_PG=1`.
macro_rules! on_both_backends {
    ($name:ident, $size:expr, async $check:path) => {
        mod $name {
            use crate::database::TestDb;

            #[actix_web::test]
            async fn on_sqlite() {
                $check(&TestDb::sqlite($size).pool).await;
            }

            #[actix_web::test]
            async fn on_postgres() {
                if let Some(database) = TestDb::postgres($size) {
                    $check(&database.pool).await;
                }
            }
        }
    };
    ($name:ident, $size:expr, $check:path) => {
        mod $name {
            use crate::database::TestDb;

            #[test]
            fn on_sqlite() {
                $check(&TestDb::sqlite($size).pool);
            }

            #[test]
            fn on_postgres() {
                if let Some(database) = TestDb::postgres($size) {
                    $check(&database.pool);
                }
            }
        }
    };
}
pub(crate) use on_both_backends;

#[test]
fn schema_rs_matches_the_postgres_migrations() {
    let Some(database) = PgDatabase::create() else {
        return;
    };
    let mut conn = PgConnection::establish(&database.url).unwrap();
    conn.run_pending_migrations(POSTGRES_MIGRATIONS).unwrap();
    let rows: Vec<PgColumn> = diesel::sql_query(
        "SELECT table_name::text AS table_name, column_name::text AS column_name, data_type::text AS data_type, \
         is_nullable::text AS is_nullable FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name NOT LIKE '__diesel%'",
    )
    .load(&mut conn)
    .unwrap();
    let mut found = Columns::new();
    for c in rows {
        found.entry(c.table_name).or_default().insert(
            c.column_name,
            (diesel_type_pg(&c.data_type), c.is_nullable == "YES"),
        );
    }
    drop(conn);
    assert_eq!(
        found,
        committed(),
        "schema.rs differs from migrations/postgres"
    );
}

#[derive(QueryableByName)]
struct SqliteSynchronous {
    #[diesel(sql_type = Integer)]
    synchronous: i32,
}

#[derive(QueryableByName)]
struct PgSynchronousCommit {
    #[diesel(sql_type = Text)]
    synchronous_commit: String,
}

/// Whether a commit on `conn` waits for the disk (SQLite `synchronous = FULL`,
/// PostgreSQL `synchronous_commit = on`).
pub(crate) fn commits_are_synced(conn: &mut db::DbConnection) -> bool {
    match conn {
        db::DbConnection::Sqlite(c) => {
            let row: SqliteSynchronous = diesel::sql_query("PRAGMA synchronous")
                .get_result(c)
                .unwrap();
            row.synchronous == 2
        }
        db::DbConnection::Pg(c) => {
            let row: PgSynchronousCommit = diesel::sql_query("SHOW synchronous_commit")
                .get_result(c)
                .unwrap();
            row.synchronous_commit == "on"
        }
    }
}

#[derive(QueryableByName)]
struct SqliteTempStore {
    #[diesel(sql_type = Integer)]
    temp_store: i32,
}

/// Whether a SQLite connection keeps temporary data, statement journals
/// included, in memory (`temp_store = MEMORY`, which reads back as 2).
pub(crate) fn temp_store_in_memory(conn: &mut diesel::SqliteConnection) -> bool {
    let row: SqliteTempStore = diesel::sql_query("PRAGMA temp_store")
        .get_result(conn)
        .unwrap();
    row.temp_store == 2
}

/// Every repository function once, on `pool`.
fn exercise_repository(pool: &DbPool) {
    let mut conn = pool.get().unwrap();
    let conn = &mut *conn;
    let now = db::now();
    let account = |id: &str, email: &str| Account {
        id: id.into(),
        role: "doctor".into(),
        email: Some(email.into()),
        password_hash: Some("h".into()),
        actor_id: Some(format!("actor-{id}")),
        display_name: "D".into(),
        status: "pending".into(),
        created_at: now,
    };
    accounts::create(conn, &account("a1", "a@x"), None).unwrap();
    accounts::create(conn, &account("a2", "b@x"), None).unwrap();
    assert!(
        accounts::create(conn, &account("a3", "a@x"), None).is_err(),
        "email is unique"
    );
    assert_eq!(accounts::by_email(conn, "a@x").unwrap().unwrap().id, "a1");
    assert_eq!(
        accounts::by_actor(conn, "actor-a2").unwrap().unwrap().id,
        "a2"
    );
    assert!(accounts::set_status(conn, "a1", "active").unwrap());
    assert!(!accounts::set_status(conn, "nope", "active").unwrap());
    assert_eq!(
        accounts::list(conn, Some("pending"), None, 10)
            .unwrap()
            .len(),
        1
    );
    let page = accounts::list(conn, None, Some("a1"), 10).unwrap();
    assert_eq!(
        page.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
        ["a2"]
    );

    let token = |id: &str, hash: &str| RefreshToken {
        id: id.into(),
        account_id: "a1".into(),
        family: "f".into(),
        token_hash: hash.into(),
        expires_at: now + 60,
        used_at: None,
        revoked_at: None,
        created_at: now,
    };
    tokens::insert_refresh(conn, &token("t1", "h1")).unwrap();
    tokens::insert_refresh(conn, &token("t2", "h2")).unwrap();
    assert!(tokens::mark_used(conn, "t1", now).unwrap());
    assert!(!tokens::mark_used(conn, "t1", now).unwrap(), "single use");
    tokens::revoke_family(conn, "f", now).unwrap();
    assert!(
        tokens::refresh_by_hash(conn, "h2")
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some()
    );
    tokens::revoke_account(conn, "a1", now).unwrap();

    let challenge = LoginChallenge {
        nonce: "n1".into(),
        actor_id: "p".into(),
        expires_at: now + 60,
        used_at: None,
    };
    tokens::insert_challenge(conn, &challenge, now).unwrap();
    assert!(!tokens::consume_challenge(conn, "n1", "other", now).unwrap());
    assert!(tokens::consume_challenge(conn, "n1", "p", now).unwrap());
    assert!(
        !tokens::consume_challenge(conn, "n1", "p", now).unwrap(),
        "single use"
    );

    let record = IdempotencyRecord {
        account_id: "a1".into(),
        idem_key: "k".into(),
        request_hash: "r".into(),
        status: idempotency::IN_PROGRESS.into(),
        status_code: 0,
        response_body: String::new(),
        created_at: now,
    };
    assert!(idempotency::claim(conn, &record).unwrap());
    assert!(!idempotency::claim(conn, &record).unwrap());
    // The claim must leave the pooled connection's later commits synced.
    assert!(commits_are_synced(conn), "claim left commits unsynced");
    idempotency::complete(conn, "a1", "k", 201, "{}").unwrap();
    assert_eq!(
        idempotency::get(conn, "a1", "k")
            .unwrap()
            .unwrap()
            .status_code,
        201
    );
    idempotency::release(conn, "a1", "k").unwrap();
    assert!(idempotency::get(conn, "a1", "k").unwrap().is_none());

    for i in 0..3 {
        outbox::push(conn, "p", "access_request", &format!("{{\"n\":{i}}}"), now).unwrap();
    }
    outbox::push(conn, "q", "claim_decided", "{}", now).unwrap();
    let all = outbox::after(conn, "p", 0, 10).unwrap();
    assert_eq!(all.len(), 3);
    assert!(all.windows(2).all(|w| w[0].id < w[1].id));
    assert_eq!(outbox::after(conn, "p", all[0].id, 10).unwrap().len(), 2);
    assert_eq!(outbox::cursor(conn).unwrap(), 0);
    outbox::set_cursor(conn, 7).unwrap();
    assert_eq!(outbox::cursor(conn).unwrap(), 7);

    // The producer's insert: new rows get fresh ids, rows already there
    // (a block read again after a restart) are skipped, the cursor moves.
    let row = |to: &str| NewRow {
        recipient: to.into(),
        kind: "access_granted".into(),
        payload: "{}".into(),
        block: 9,
        tx_id: "tx9".into(),
    };
    let fresh = store::enqueue(conn, &[row("p"), row("q")], 9, now).unwrap();
    let recipients: Vec<&str> = fresh.iter().map(|(to, _)| to.as_str()).collect();
    assert_eq!(recipients, ["p", "q"]);
    assert!(fresh.iter().all(|(_, id)| *id > all[2].id));
    assert!(
        store::enqueue(conn, &[row("q"), row("p")], 10, now)
            .unwrap()
            .is_empty()
    );
    assert_eq!(outbox::cursor(conn).unwrap(), 10);
    assert_eq!(outbox::after(conn, "p", all[2].id, 10).unwrap().len(), 1);
}

on_both_backends!(repository_functions, 2, super::exercise_repository);

#[actix_web::test]
async fn the_whole_story_on_postgres() {
    let Some(database) = PgDatabase::create() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (state, admin) =
        support::init_state(support::test_config(dir.path()), Some(database.url.clone())).await;
    let mut app = support::start_with(state, admin, Some(dir)).await;
    let s = app.scenario().await;
    let claims = app.get("/v1/claims", &s.patient.token).await;
    ok(&claims, actix_web::http::StatusCode::OK);
    assert_eq!(claims.body["items"][0]["decision"]["decision"], "approved");
    let rotated = app.refresh(&s.patient.refresh).await;
    ok(&rotated, actix_web::http::StatusCode::OK);
    let replay = app.refresh(&s.patient.refresh).await;
    assert_eq!(replay.status, actix_web::http::StatusCode::UNAUTHORIZED);
    drop(app);
}
