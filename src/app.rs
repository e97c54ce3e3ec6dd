//! Assembling a gateway from its configuration: store, core, routes, TLS, listener.
//!
//! [`App::start`] binds (or takes) a listener and runs the server on a task, returning a
//! handle with the bound address and a way to stop it. `imax serve`, the integration tests and
//! the benchmarks all start the gateway this way.

use crate::admin::Admin;
use crate::checkpoint::Checkpoints;
use crate::clock::SharedClock;
use crate::config::Config;
use crate::gateway::Gateway;
use crate::server::conns::Registry;
use crate::server::{self, ServeOptions};
use crate::store::Store;
use crate::tls::{self, CertPaths};
use axum::http::{header, HeaderValue};
use axum::response::Response;
use axum::Router;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// The routes of every door, with the headers every response carries.
pub fn router(gw: Gateway, admin: Admin, ops: crate::ops::Ops) -> Router {
    let web = crate::web::Web {
        gw: gw.clone(),
        admin,
    };
    Router::new()
        .merge(crate::ops::routes(ops))
        .merge(crate::s2s::routes())
        .merge(crate::web::routes(web))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(gw)
}

/// Writes the summary records of refused password attempts beyond each client's share
/// (`gateway::failures`) when their window ends: looked at every ten seconds, so the window
/// follows the gateway's clock.
async fn summarize_refusals(gw: Gateway) {
    let mut tick = tokio::time::interval(Duration::from_secs(10).min(gw.refusal_window()));
    loop {
        tick.tick().await;
        if let Err(e) = gw.record_refusal_summaries(false).await {
            tracing::warn!(error = %e.message(), "could not record the refused attempts' summary");
        }
    }
}

/// Reloads the certificate when its files change (checked every `every`) or on SIGHUP.
async fn reload_certificates(store: Arc<tls::CertStore>, every: Duration) {
    #[cfg(unix)]
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    loop {
        #[cfg(unix)]
        let forced = {
            let hup_recv = async {
                match hup.as_mut() {
                    Some(h) => h.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = tick.tick() => false,
                _ = hup_recv => true,
            }
        };
        #[cfg(not(unix))]
        let forced = {
            tick.tick().await;
            false
        };
        let result = if forced {
            tracing::info!("SIGHUP: reloading the TLS certificate");
            store.reload().map(|()| true)
        } else {
            store.reload_if_changed()
        };
        if let Err(e) = result {
            tracing::error!(error = %e, "the new TLS certificate was refused; the old one keeps serving");
        }
    }
}

/// Records that a scheduled job succeeded (`imax_job_last_success_timestamp_seconds`).
fn job_done(job: &'static str) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    metrics::gauge!("imax_job_last_success_timestamp_seconds", "job" => job).set(now);
}

/// Watches the ledgers every `every` (`admin::ledger_watch`): each node does, the record of
/// what was noticed keeps an item from being noticed twice.
async fn watch_ledgers(system: Admin, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match system.watch_ledgers().await {
            Ok(_) => job_done("ledgers"),
            Err(e) => tracing::warn!(error = %e.message(), "could not watch the ledgers"),
        }
    }
}

/// Signs and exports the audit chain's head every `every` (see `audit::checkpoint`).
async fn export_checkpoints(checkpoints: Checkpoints, gw: Gateway, every: Duration) {
    let mut tick = tokio::time::interval(every);
    let mut last = 0;
    loop {
        tick.tick().await;
        match checkpoints
            .export(gw.store(), gw.clock().now(), &mut last)
            .await
        {
            Ok(_) => job_done("audit_checkpoint"),
            Err(e) => tracing::warn!(error = %e, "could not write an audit checkpoint"),
        }
    }
}

/// Hourly housekeeping. R18: rights flagged for removal go at the deadline (the access decision
/// already treats them as gone the moment the deadline passes; this keeps the directory in
/// step). Browser sessions past their deadlines are swept (they are refused when used anyway).
/// R26: messages older than the retention period are purged.
async fn apply_deadlines_hourly(admin: Admin, web: crate::web::Web) {
    let system = admin.as_system();
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tick.tick().await;
        match web.purge_sessions().await {
            Ok(_) => job_done("sessions"),
            Err(e) => tracing::warn!(error = %e, "could not remove expired browser sessions"),
        }
        if let Err(e) = web.gw.forget_old_failures().await {
            tracing::warn!(error = %e, "could not clear the throttle's old counts");
        }
        if let Err(e) = web.gw.forget_unfamiliar_addresses().await {
            tracing::warn!(error = %e, "could not forget addresses no longer familiar");
        }
        if let Err(e) = web.gw.store().sweep_abandoned_uploads().await {
            tracing::warn!(error = %e, "could not sweep abandoned uploads");
        }
        // R26: history beyond the retention period, in bounded batches.
        match system.purge(crate::admin::Purge::Remove).await {
            Ok(r) => {
                job_done("purge");
                if r.messages > 0 {
                    tracing::info!(
                        removed = r.messages,
                        bytes = r.bytes,
                        "purged mailbox history beyond the retention period"
                    );
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not purge mailbox history"),
        }
        match system.apply_deadlines().await {
            Ok(n) => {
                job_done("deadlines");
                if n > 0 {
                    tracing::info!(
                        removed = n,
                        "removed rights flagged for removal at the deadline"
                    );
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not apply recertification deadlines"),
        }
    }
}

async fn security_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000; includeSubDomains"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    r
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("another gateway is serving the data directory {0}")]
    DataDirInUse(String),
    #[error("another gateway is serving the SQLite database {0}; SQLite serves one node, use PostgreSQL (database_url = \"postgres://…\") for several")]
    DatabaseInUse(String),
    #[error("cannot lock {dir}: {source}")]
    Lock { dir: String, source: std::io::Error },
    #[error("the audit key: {0}")]
    AuditKey(std::io::Error),
    #[error("the receipt key: {0}")]
    ReceiptKey(std::io::Error),
}

/// Holds an exclusive lock on `<data_dir>/gateway.lock` while a gateway serves that directory,
/// so two gateways never share (and sweep) one body store.
fn lock_data_dir(dir: &std::path::Path) -> Result<std::fs::File, StartError> {
    let shown = dir.display().to_string();
    crate::ground::private::dir(dir).map_err(|source| StartError::Lock {
        dir: shown.clone(),
        source,
    })?;
    lock_file(&dir.join("gateway.lock"), || {
        StartError::DataDirInUse(shown.clone())
    })
}

/// SQLite serves one node: a second gateway on the same database file (with another data
/// directory, whose body files the first could not read) is refused, pointing to PostgreSQL.
fn lock_sqlite_database(url: &str) -> Result<Option<std::fs::File>, StartError> {
    let Some(path) = crate::store::sqlite_path(url) else {
        return Ok(None);
    };
    let lock = std::path::PathBuf::from(format!("{path}.gateway-lock"));
    lock_file(&lock, || StartError::DatabaseInUse(path.to_string())).map(Some)
}

fn lock_file(
    path: &std::path::Path,
    in_use: impl Fn() -> StartError,
) -> Result<std::fs::File, StartError> {
    let failed = |source| StartError::Lock {
        dir: path.display().to_string(),
        source,
    };
    let file = crate::ground::private::file_options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(failed)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(in_use()),
        Err(std::fs::TryLockError::Error(source)) => Err(failed(source)),
    }
}

/// A running gateway.
#[derive(Debug)]
pub struct App {
    pub addr: SocketAddr,
    pub gateway: Gateway,
    pub certs: CertPaths,
    /// The certificate being served (reloaded when its files change or on SIGHUP).
    pub cert_store: Arc<tls::CertStore>,
    /// What the connection limits did (accepted, shed, timed out…).
    pub connections: Arc<Registry>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

/// The listener on `listen`, and the address it bound (port 0 picks one).
async fn bind(listen: SocketAddr) -> Result<(TcpListener, SocketAddr), StartError> {
    let bound = async {
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        Ok((listener, addr))
    };
    bound.await.map_err(|source| StartError::Bind {
        addr: listen,
        source,
    })
}

/// The store of `config`, recovered from an unclean stop.
async fn open_store(config: &Config) -> Result<Store, StartError> {
    let store = Store::open_with_sessions(
        &config.database_url(),
        &config.data_dir,
        config.limits.postgres_sessions,
    )
    .await?
    .with_bodies(&config.bodies)?
    .with_min_free_disk(config.limits.min_free_disk_mb.saturating_mul(1024 * 1024))
    .with_remembered_callers(config.limits.remembered_callers)
    .with_wal_restart(
        config
            .limits
            .sqlite_wal_restart_mb
            .saturating_mul(1024 * 1024),
    );
    store.recover().await?;
    Ok(store)
}

/// The gateway's tasks beside serving (certification deadlines, certificate reloads, audit
/// checkpoints, refusal summaries), each stopped when serving ends.
struct Housekeeping {
    deadlines: tokio::task::JoinHandle<()>,
    reloader: tokio::task::JoinHandle<()>,
    exporter: tokio::task::JoinHandle<()>,
    summaries: tokio::task::JoinHandle<()>,
    /// Forwards the audit chain to syslog when `audit.syslog` is set (`syslog`).
    forwarder: Option<tokio::task::JoinHandle<()>>,
    /// Arrival notices (issue 30): mails what the outbox holds as it falls due.
    notices: tokio::task::JoinHandle<()>,
    /// The ledgers' watch (issue 31): queues a notice of each item newly missing.
    ledgers: Option<tokio::task::JoinHandle<()>>,
}

impl Housekeeping {
    async fn start(
        gateway: &Gateway,
        admin: &Admin,
        web: crate::web::Web,
        cert_store: &Arc<tls::CertStore>,
        checkpoints: &Checkpoints,
    ) -> Housekeeping {
        let config = gateway.config();
        // Deadlines that passed before this gateway first ran are not applied to property
        // assignments after the fact (`store::certifications`).
        if let Err(e) = admin.as_system().mark_deadlines_start().await {
            tracing::warn!(error = %e.message(), "could not record the start of certification deadlines");
        }
        Housekeeping {
            deadlines: tokio::spawn(apply_deadlines_hourly(admin.clone(), web)),
            reloader: tokio::spawn(reload_certificates(
                cert_store.clone(),
                Duration::from_secs(config.tls.reload_check_secs),
            )),
            exporter: tokio::spawn(export_checkpoints(
                checkpoints.clone(),
                gateway.clone(),
                Duration::from_secs(config.audit.checkpoint_secs),
            )),
            summaries: tokio::spawn(summarize_refusals(gateway.clone())),
            forwarder: crate::syslog::Forwarder::from_config(
                config,
                gateway.store().clone(),
                &Checkpoints::paths(config).1,
            )
            .map(|f| tokio::spawn(f.run())),
            notices: tokio::spawn(crate::gateway::notices::send_notices(gateway.clone())),
            ledgers: (config.ledger.watch_secs > 0).then(|| {
                let every = Duration::from_secs(config.ledger.watch_secs);
                tokio::spawn(watch_ledgers(admin.as_system(), every))
            }),
        }
    }

    /// After serving: the tasks stopped, the refused attempts' last summary and the final
    /// audit checkpoint written, the store closed.
    async fn wind_down(self, gw: &Gateway, checkpoints: &Checkpoints) {
        self.deadlines.abort();
        self.exporter.abort();
        self.reloader.abort();
        self.summaries.abort();
        if let Some(f) = &self.forwarder {
            f.abort();
        }
        self.notices.abort();
        if let Some(l) = &self.ledgers {
            l.abort();
        }
        if let Err(e) = gw.record_refusal_summaries(true).await {
            tracing::warn!(error = %e.message(), "could not record the refused attempts' last summary");
        }
        // The last word of this node: the head as it stops.
        let store = gw.store().clone();
        let mut last = 0;
        if let Err(e) = checkpoints
            .export(&store, gw.clock().now(), &mut last)
            .await
        {
            tracing::warn!(error = %e, "could not write the final audit checkpoint");
        }
        store.close_clean().await;
    }
}

impl App {
    /// Opens the store and starts serving on `config.listen` (port 0 picks a free port).
    pub async fn start(config: Config, clock: SharedClock) -> Result<App, StartError> {
        // First: metrics set while starting (the certificate's expiry) must be recorded.
        crate::ops::recorder();
        let lock = (
            lock_data_dir(&config.data_dir)?,
            lock_sqlite_database(&config.database_url())?,
        );
        let (listener, addr) = bind(config.listen).await?;
        let certs = tls::resolve(&config.tls.cert, &config.tls.key, &config.data_dir)?;
        let (tls_config, cert_store) = tls::server_config(&certs)?;
        let store = open_store(&config).await?;
        // The address actually bound (port 0 picks one): the WSDL's address when no
        // public_url is set, never the request's Host header (issue 25, item 8).
        let config = Arc::new(Config {
            listen: addr,
            ..config
        });
        let gateway = Gateway::new(store, clock, config.clone());
        let options = ServeOptions::from_config(&config);
        let registry = Arc::new(Registry::new(options.conns.clone()));
        let draining = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let admin = Admin::new(
            gateway.store().clone(),
            gateway.clock().clone(),
            (*config).clone(),
        );
        let web = crate::web::Web {
            gw: gateway.clone(),
            admin: admin.clone(),
        };
        let checkpoints = Checkpoints::from_config(&config).map_err(StartError::AuditKey)?;
        gateway.seal_second_factors_with(&checkpoints.key);
        // Made on first start, like the audit key: a receipt is never left unsigned for want
        // of one (issue 31).
        gateway
            .receipt_keys()
            .current()
            .map_err(StartError::ReceiptKey)?;
        let housekeeping =
            Housekeeping::start(&gateway, &admin, web, &cert_store, &checkpoints).await;
        let (stop, stopped) = oneshot::channel::<()>();
        let app = router(
            gateway.clone(),
            admin,
            crate::ops::Ops {
                gw: gateway.clone(),
                connections: registry.clone(),
                draining: draining.clone(),
            },
        );
        let drain_delay = Duration::from_secs(config.shutdown.drain_delay_secs);
        let gw = gateway.clone();
        let registry_ = registry.clone();
        let task = tokio::spawn(async move {
            server::serve(listener, tls_config, app, options, registry_, async {
                let _ = stopped.await;
                // Not ready from now on; still serving while the balancer notices.
                draining.store(true, std::sync::atomic::Ordering::Release);
                tracing::info!(
                    secs = drain_delay.as_secs(),
                    "draining: /readyz answers 503"
                );
                tokio::time::sleep(drain_delay).await;
            })
            .await;
            housekeeping.wind_down(&gw, &checkpoints).await;
            drop(lock);
        });
        Ok(App {
            addr,
            gateway,
            certs,
            cert_store,
            connections: registry,
            stop: Some(stop),
            task,
        })
    }

    /// Stops accepting, drains requests in flight, closes the store.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let _ = (&mut self.task).await;
    }
}
