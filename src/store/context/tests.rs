//! Remembered callers' contexts against real databases (a SQLite file; PostgreSQL where the
//! tests have a server, `IMAX_TEST_POSTGRES`): two stores on one database are two nodes.

use super::*;
use crate::store::Store;
use time::{Duration, OffsetDateTime};

/// The tables a caller's context is read from, each marked by migration 30's triggers.
const MARKED: &[&str] = &[
    "accounts",
    "working_group",
    "account_rights",
    "mailboxes",
    "organizations",
    "properties",
    "property_assignments",
    "business_partners",
    "organization_assignments",
    "organization_partners",
    "mailbox_senders",
    "contracts",
    "recertifications",
];

/// Columns never marked: those a call writes as its use (`remembered`), and the counts of
/// wrong passwords in a row, which every attempt reads afresh as it counts itself (migration
/// 31; `attempts`).
const UNMARKED: &[(&str, &str)] = &[
    ("accounts", "last_activity_at"),
    ("accounts", "last_signin_at"),
    ("mailboxes", "last_used_at"),
    ("accounts", "failed_signins"),
    ("accounts", "stranger_failures"),
];

mod attempts;

/// Two stores on one fresh database of `engine` ("sqlite" or "postgres"; `None`: no server).
async fn two_nodes(engine: &str) -> Option<(tempfile::TempDir, Store, Store, Option<String>)> {
    sqlx::any::install_default_drivers();
    let dir = tempfile::tempdir().expect("tmp");
    let (url, dropped) = match engine {
        "sqlite" => (
            format!("sqlite://{}", dir.path().join("imax.db").display()),
            None,
        ),
        _ => {
            let (url, name) = crate::store::test_databases::fresh("imax_marks").await?;
            (url, Some(name))
        }
    };
    let a = Store::open(&url, &dir.path().join("a")).await.expect("a");
    let b = Store::open(&url, &dir.path().join("b")).await.expect("b");
    Some((dir, a, b, dropped))
}

async fn drop_database(name: Option<String>) {
    if let Some(name) = name {
        crate::store::test_databases::drop(&name).await;
    }
}

async fn mark(store: &Store) -> i64 {
    sqlx::query_scalar("SELECT mark FROM directory_changes WHERE id = 1")
        .fetch_one(&store.pool)
        .await
        .expect("mark")
}

async fn exec(store: &Store, sql: &str) {
    sqlx::query(sql)
        .execute(&store.pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// Each marked table's columns, and those an update of which moves the mark.
async fn columns(store: &Store, table: &str) -> (Vec<String>, Vec<String>) {
    let (all_sql, marked_sql) = match store.engine {
        crate::store::Engine::Sqlite => (
            "SELECT name FROM pragma_table_info($1) ORDER BY name",
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = $1
               AND name LIKE '%update%'",
        ),
        crate::store::Engine::Postgres => (
            "SELECT column_name::text FROM information_schema.columns
              WHERE table_name = $1 ORDER BY column_name",
            "SELECT COALESCE(string_agg(a.attname::text, ', '), '*')
               FROM pg_trigger g
               LEFT JOIN pg_attribute a ON a.attrelid = g.tgrelid
                AND a.attnum = ANY(g.tgattr::int2[])
              WHERE g.tgrelid = $1::text::regclass AND g.tgname = $1::text || '_marks'",
        ),
    };
    let all: Vec<String> = sqlx::query_scalar(all_sql)
        .bind(table)
        .fetch_all(&store.pool)
        .await
        .expect("columns");
    let trigger: String = sqlx::query_scalar(marked_sql)
        .bind(table)
        .fetch_one(&store.pool)
        .await
        .unwrap_or_else(|e| panic!("{table} has an update trigger: {e}"));
    // SQLite: `... AFTER UPDATE OF a, b ON t ...` or `... AFTER UPDATE ON t ...`.
    let listed = match trigger.split_once(" OF ") {
        Some((_, rest)) if store.engine == crate::store::Engine::Sqlite => {
            rest.split(" ON ").next().unwrap_or("").to_string()
        }
        _ if store.engine == crate::store::Engine::Sqlite => "*".into(),
        _ => trigger,
    };
    let marked = if listed.trim() == "*" {
        all.clone()
    } else {
        listed.split(',').map(|c| c.trim().to_string()).collect()
    };
    (all, marked)
}

async fn every_column_but_the_unmarked_is_marked(engine: &str) {
    let Some((_dir, a, b, db)) = two_nodes(engine).await else {
        return;
    };
    for table in MARKED {
        let (all, marked) = columns(&a, table).await;
        assert!(!all.is_empty(), "{engine}: {table} has columns");
        for column in &all {
            let unmarked = UNMARKED.contains(&(table, column.as_str()));
            assert_eq!(
                marked.contains(column),
                !unmarked,
                "{engine}: {table}.{column} is {} by migrations 30 and 31's triggers; a new \
                 column of a table a caller's context is read from must be marked (or be a \
                 use, or an attempts' count)",
                if unmarked { "marked" } else { "not marked" }
            );
        }
    }
    a.close().await;
    b.close().await;
    drop_database(db).await;
}

#[tokio::test]
async fn on_sqlite_every_column_a_callers_context_is_read_from_is_marked_but_its_uses() {
    every_column_but_the_unmarked_is_marked("sqlite").await;
}

#[tokio::test]
async fn on_postgres_every_column_a_callers_context_is_read_from_is_marked_but_its_uses() {
    every_column_but_the_unmarked_is_marked("postgres").await;
}

/// The tables `sql` reads besides `fresh` (read afresh on every call).
fn unmarked_tables(sql: &str, fresh: &[&str]) -> Vec<String> {
    let sql = sql.replace(['(', ')', '\n', ','], " ");
    let words: Vec<&str> = sql.split_whitespace().collect();
    words
        .windows(2)
        .filter(|pair| matches!(pair[0].to_ascii_uppercase().as_str(), "FROM" | "JOIN"))
        .map(|pair| pair[1])
        .filter(|t| !t.eq_ignore_ascii_case("SELECT"))
        .filter(|t| !MARKED.contains(t) && !fresh.contains(t) && *t != "directory_changes")
        .map(str::to_string)
        .collect()
}

/// What a node remembers is read from marked tables only: the caller's statement reads no
/// other table but the throttle's (read afresh with the mark), the file's none but the
/// messages (the duplicate, read on every file).
#[test]
fn what_is_remembered_is_read_from_marked_tables_only() {
    let callers = unmarked_tables(callers::callers_sql(2), &["auth_throttle"]);
    assert!(
        callers.is_empty(),
        "the caller's statement reads {callers:?}, which no trigger marks"
    );
    let files = unmarked_tables(&files::FILE_CONTEXT_SQL, &["messages"]);
    assert!(
        files.is_empty(),
        "the file's statement reads {files:?}, which no trigger marks"
    );
    assert!(unmarked_tables("SELECT 1 FROM sessions s JOIN accounts a", &[]) == ["sessions"]);
}

const MID: &str = "M10001";
const IMAX: &str = "TRACM10001";

/// An account and a mailbox, both used just now (no use is due).
async fn directory(store: &Store, now: OffsetDateTime) {
    let t = now.unix_timestamp();
    exec(
        store,
        &format!(
            "INSERT INTO accounts (mid, kind, full_name, email, organization, password_hash,
                password_changed_at, created_at, affiliation, last_activity_at, last_signin_at)
             VALUES ('{MID}', 'user', 'P', 'p@example.com', 'O', 'x', {t}, {t}, 'industry',
                {t}, {t})"
        ),
    )
    .await;
    exec(
        store,
        &format!(
            "INSERT INTO mailboxes (imax_id, kind, name, password_hash, password_changed_at,
                created_at, last_used_at) VALUES ('{IMAX}', 'property', 'M', 'x', {t}, {t}, {t})"
        ),
    )
    .await;
}

async fn read(store: &Store, now: OffsetDateTime) -> CallerContext {
    let uses = UsesAt {
        now,
        granularity: Duration::hours(1),
    };
    let (mid, imax) = (MId::parse(MID).expect("mid"), ImaxId::parse(IMAX));
    store
        .caller_context(&mid, Some("client-1"), imax.as_ref(), uses)
        .await
        .expect("context")
}

fn activity(c: &CallerContext) -> Option<i64> {
    c.account
        .as_ref()
        .and_then(|a| a.last_activity_at)
        .map(|t| t.unix_timestamp())
}

async fn remembered_until_the_directory_changes(engine: &str) {
    let Some((_dir, a, b, db)) = two_nodes(engine).await else {
        return;
    };
    let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).expect("now");
    directory(&b, now).await;
    let first = read(&a, now).await;
    assert_eq!(activity(&first), Some(now.unix_timestamp()));
    assert_eq!(first.mark, Some(mark(&a).await));

    // A use written on node B moves no mark: node A serves what it remembers.
    let later = now.unix_timestamp() + 60;
    exec(
        &b,
        &format!("UPDATE accounts SET last_activity_at = {later}, last_signin_at = {later}"),
    )
    .await;
    let again = read(&a, now).await;
    assert_eq!(
        activity(&again),
        Some(now.unix_timestamp()),
        "{engine}: remembered"
    );
    // The throttle's count is never remembered.
    exec(
        &b,
        "INSERT INTO auth_throttle (client_addr, failures, window_start) VALUES ('client-1', 3, 5)",
    )
    .await;
    assert_eq!(read(&a, now).await.throttle, Some((3, 5)), "{engine}");

    // A lock on node B: node A's next call sees it (and the use B wrote with it).
    exec(
        &b,
        "UPDATE accounts SET status = 'locked', lock_reason = 'administrative'",
    )
    .await;
    let locked = read(&a, now).await;
    let status = locked.account.as_ref().map(|a| a.status);
    assert!(
        matches!(status, Some(crate::directory::AccountStatus::Locked(_))),
        "{engine}: {status:?}"
    );
    assert_eq!(activity(&locked), Some(later));

    // A row of a joined table: an allow-list on the mailbox's organization.
    exec(
        &b,
        "INSERT INTO organizations (org_id, kind, name, created_at, allowed_networks)
         VALUES ('ORG1', 'owner', 'O', 0, '10.0.0.0/8')",
    )
    .await;
    exec(
        &b,
        "UPDATE mailboxes SET organization_id = (SELECT id FROM organizations)",
    )
    .await;
    assert_eq!(read(&a, now).await.allow_lists.len(), 1, "{engine}");

    // Once a use is due, the context is read whole whatever the mark: B's newer use shows.
    exec(&b, "UPDATE accounts SET last_activity_at = 7").await;
    let due = now + Duration::hours(2);
    assert_eq!(activity(&read(&a, due).await), Some(7), "{engine}");
    a.close().await;
    b.close().await;
    drop_database(db).await;
}

/// The statement that adds contract `C{n}` of the one property, administered by `ca`.
fn contract(n: u32, ca: &str) -> String {
    format!(
        "INSERT INTO contracts (contract_number, property_id, administrator_mailbox)
         SELECT 'C{n}', p.id, m.id FROM properties p, mailboxes m WHERE m.imax_id = '{ca}'"
    )
}

/// [`directory`], two CAs' mailboxes, the property of `IMAX` and its contract `C1` with the
/// first CA.
async fn project_directory(store: &Store, now: OffsetDateTime) {
    directory(store, now).await;
    for (imax, n) in [("TRACM20001", 1), ("TRACM20002", 2)] {
        exec(
            store,
            &format!(
                "INSERT INTO mailboxes (imax_id, kind, name, password_hash, password_changed_at,
                    created_at) VALUES ('{imax}', 'ca', 'CA {n}', 'x', 0, 0)"
            ),
        )
        .await;
    }
    exec(
        store,
        &format!(
            "INSERT INTO properties (property_number, name, mailbox_id)
             SELECT '800000001', 'P', id FROM mailboxes WHERE imax_id = '{IMAX}'"
        ),
    )
    .await;
    exec(store, &contract(1, "TRACM20001")).await;
}

async fn projects_remembered_until_their_contracts_change(engine: &str) {
    let Some((_dir, a, b, db)) = two_nodes(engine).await else {
        return;
    };
    let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).expect("now");
    project_directory(&b, now).await;
    let project = ImaxId::parse(IMAX).expect("imax");
    let dup = DuplicateQuery {
        key: Some("TRACM10001|01012026|120000"),
        from: 1,
        sha256: "ab",
        since: Some(now),
    };
    let administrators = |c: Option<FileContext>| -> (Vec<String>, Option<i64>) {
        let c = c.expect("the project");
        let names = c
            .administrators
            .iter()
            .map(|m| m.imax_id.as_str().to_string());
        (
            names.collect(),
            c.project.last_used_at.map(|t| t.unix_timestamp()),
        )
    };
    let first = a.file_context(&project, dup, None).await.expect("read");
    assert!(!first.as_ref().expect("project").repeat_at_commit());
    let first = administrators(first);
    assert_eq!(
        first,
        (vec!["TRACM20001".to_string()], Some(now.unix_timestamp()))
    );
    // A use moves no mark: node A serves the project it remembers.
    exec(&b, "UPDATE mailboxes SET last_used_at = 5").await;
    let again = administrators(a.file_context(&project, dup, None).await.expect("read"));
    assert_eq!(again, first, "{engine}: remembered");
    // Confirmed by the mark a caller's read just found: nothing read, the repeat left to the
    // commit (PostgreSQL only: SQLite reads it on the asking thread, `Store::file_context`).
    let at_commit = engine == "postgres";
    let seen = mark(&b).await;
    let confirmed = a
        .file_context(&project, dup, Some(seen))
        .await
        .expect("read");
    let c = confirmed.as_ref().expect("project");
    assert_eq!(c.repeat_at_commit(), at_commit, "{engine}");
    assert_eq!(administrators(confirmed), first, "{engine}: confirmed");
    // A contract added on node B: node A's next file, whose caller's read finds the new mark,
    // reads the project again and sees both administrators; the one after serves them.
    exec(&b, &contract(2, "TRACM20002")).await;
    let moved = mark(&b).await;
    let read_again = a
        .file_context(&project, dup, Some(moved))
        .await
        .expect("read");
    assert!(!read_again.as_ref().expect("project").repeat_at_commit());
    let (names, used) = administrators(read_again);
    assert_eq!(names, ["TRACM20001", "TRACM20002"], "{engine}");
    assert_eq!(used, Some(5));
    let confirmed = a
        .file_context(&project, dup, Some(moved))
        .await
        .expect("read");
    let c = confirmed.as_ref().expect("project");
    assert_eq!(c.repeat_at_commit(), at_commit, "{engine}");
    assert_eq!(
        administrators(confirmed).0,
        names,
        "{engine}: confirmed again"
    );
    a.close().await;
    b.close().await;
    drop_database(db).await;
}

#[tokio::test]
async fn on_sqlite_a_remembered_project_serves_until_any_node_changes_its_contracts() {
    projects_remembered_until_their_contracts_change("sqlite").await;
}

#[tokio::test]
async fn on_postgres_a_remembered_project_serves_until_any_node_changes_its_contracts() {
    projects_remembered_until_their_contracts_change("postgres").await;
}

#[tokio::test]
async fn on_sqlite_a_remembered_context_serves_until_any_node_changes_the_directory() {
    remembered_until_the_directory_changes("sqlite").await;
}

#[tokio::test]
async fn on_postgres_a_remembered_context_serves_until_any_node_changes_the_directory() {
    remembered_until_the_directory_changes("postgres").await;
}

/// A mark read with nothing else never matches a missing row: a database without its mark
/// (a table emptied by hand) remembers nothing.
#[tokio::test]
async fn without_a_mark_nothing_is_remembered() {
    let Some((_dir, a, b, _)) = two_nodes("sqlite").await else {
        return;
    };
    let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).expect("now");
    directory(&b, now).await;
    exec(&b, "DELETE FROM directory_changes").await;
    assert_eq!(read(&a, now).await.mark, None);
    assert_eq!(a.remembered.len(), 0);
    exec(&b, "UPDATE accounts SET last_activity_at = 9").await;
    assert_eq!(activity(&read(&a, now).await), Some(9));
    a.close().await;
    b.close().await;
}
