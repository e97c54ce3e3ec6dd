//! Fresh PostgreSQL databases for the store's own tests, on the tests' server
//! (`IMAX_TEST_POSTGRES`, as `scripts/test` gives its PostgreSQL passes): one per test, so that
//! tests running at once never share rows.

/// A fresh database on the tests' server, named after `prefix`, the process and the time: its
/// URL and its name (to [`drop`]). None where the tests have no server.
pub(crate) async fn fresh(prefix: &str) -> Option<(String, String)> {
    let base = std::env::var("IMAX_TEST_POSTGRES").ok()?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_nanos();
    let name = format!("{prefix}_{}_{nanos}", std::process::id());
    on_server(&base, &format!("CREATE DATABASE {name}")).await;
    let (server, _) = base.rsplit_once('/').expect("a URL with a database name");
    Some((format!("{server}/{name}"), name))
}

/// Drops the database `name` of [`fresh`], ending its sessions.
pub(crate) async fn drop(name: &str) {
    if let Ok(base) = std::env::var("IMAX_TEST_POSTGRES") {
        on_server(&base, &format!("DROP DATABASE {name} WITH (FORCE)")).await;
    }
}

/// Runs `sql` on the server `base` names, in a session of its own.
async fn on_server(base: &str, sql: &str) {
    sqlx::any::install_default_drivers();
    let admin = sqlx::AnyPool::connect(base).await.expect("server");
    sqlx::query(sql).execute(&admin).await.expect(sql);
    admin.close().await;
}

/// The lines of PostgreSQL's generic plan (as the gateway's sessions plan, `store::pools`) of
/// `sql`, prepared on `conn` as `name` with parameters of `types` and executed with `args`.
pub(crate) async fn generic_plan(
    conn: &mut sqlx::AnyConnection,
    name: &str,
    (sql, types): (&str, &str),
    args: &str,
) -> Vec<String> {
    use sqlx::Row;
    sqlx::query(&format!("PREPARE {name} ({types}) AS {sql}"))
        .execute(&mut *conn)
        .await
        .expect("prepare");
    let rows = sqlx::query(&format!("EXPLAIN EXECUTE {name} ({args})"))
        .fetch_all(&mut *conn)
        .await
        .expect("plan");
    rows.iter().map(|r| r.get::<String, _>(0)).collect()
}

/// The lines of SQLite's plan of `sql` on `pool` (`EXPLAIN QUERY PLAN`).
pub(crate) async fn sqlite_plan(pool: &sqlx::AnyPool, sql: &str) -> Vec<String> {
    use sqlx::Row;
    let rows = sqlx::query(&format!("EXPLAIN QUERY PLAN {sql}"))
        .fetch_all(pool)
        .await
        .expect("plan");
    rows.iter().map(|r| r.get::<String, _>(3)).collect()
}
