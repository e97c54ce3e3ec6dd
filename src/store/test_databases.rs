//! Fresh PostgreSQL databases for the store's own tests, on the tests' server
//! (`IMAX_TEST_POSTGRES`, as `scripts/test` gives its PostgreSQL passes): one per test, so that
//! tests running at once never share rows.

/// A fresh database on the tests' server, named after `prefix`, the process and the time: its
/// URL and its name (to [`drop`]). None where the tests have no server.
pub(crate) async fn fresh(prefix: &str) -> Option<(String, String)> {
    let base = std::env::var("IMAX_TEST_POSTGRES").ok()?;
    sqlx::any::install_default_drivers();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_nanos();
    let name = format!("{prefix}_{}_{nanos}", std::process::id());
    let admin = sqlx::AnyPool::connect(&base).await.expect("admin");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await
        .expect("create");
    admin.close().await;
    let (server, _) = base.rsplit_once('/').expect("a URL with a database name");
    Some((format!("{server}/{name}"), name))
}

/// Drops the database `name` of [`fresh`], ending its sessions.
pub(crate) async fn drop(name: &str) {
    let Ok(base) = std::env::var("IMAX_TEST_POSTGRES") else {
        return;
    };
    let admin = sqlx::AnyPool::connect(&base).await.expect("admin");
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&admin)
        .await
        .expect("drop");
    admin.close().await;
}
