//! `imax`: the gateway's one binary. See `imax --help`.

mod cli;

use clap::{Args, Parser, Subcommand};
use cli::admin::{admin_command, AdminCommand};
use cli::client::{client_command, ClientArgs};
use imax_gateway::admin::Admin;
use imax_gateway::app::App;
use imax_gateway::audit;
use imax_gateway::clock::{SharedClock, SystemClock};
use imax_gateway::config::{self, Config};
use imax_gateway::store::Store;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// mimalloc instead of the system allocator: a request allocates and frees many small buffers
/// on two or more threads, where glibc's malloc spent about a tenth of the gateway's CPU time
/// under load (docs/performance.md).
///
/// Two of its defaults kept memory the gateway had freed: arenas committed up front (built
/// with `MI_DEFAULT_ARENA_EAGER_COMMIT=0` instead, `.cargo/config.toml`) and freed pages given
/// back only after a second ([`return_freed_memory_promptly`]). Sending a 100 MiB body back
/// from PostgreSQL grew the process by 43-60 MiB with both defaults, by 11 MiB without them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc.h's `mi_option_e` (the bindings name no constant;
/// Cargo.toml pins the bindings' version for this index).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Has mimalloc give freed pages back to the system 10 ms after they are freed (its default
/// is 1 s: long enough for a download to pass through several times its own size in
/// buffers that no thread reuses in time). An operator's own `MIMALLOC_PURGE_DELAY` wins.
#[allow(unsafe_code)]
fn return_freed_memory_promptly() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: `mi_option_set` stores an integer in mimalloc's option table; it takes no
    // pointers, may be called at any time from any thread, and mimalloc reads the option
    // each time it decides whether to purge.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 10) }
}

#[derive(Parser)]
#[command(
    name = "imax",
    version,
    about = "imax-gateway: secure TRACS file transfer for HUD multifamily housing"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct ConfigArg {
    /// TOML configuration file (see `imax config example`); IMAX_* variables override it.
    #[arg(long, env = "IMAX_CONFIG")]
    config: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway (HTTPS on 127.0.0.1:8443 with ./imax-data by default).
    Serve(ConfigArg),
    /// Configuration helpers.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Provision the directory without a server.
    Admin {
        #[command(flatten)]
        config: ConfigArg,
        /// Act as this M-ID (a coordinator or Help Desk staff) instead of as the operator; the
        /// gateway refuses what that person may not do.
        #[arg(long = "as", value_name = "M-ID")]
        acting_as: Option<String>,
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// The audit log.
    Audit {
        #[command(flatten)]
        config: ConfigArg,
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Talk to a gateway's system-to-system endpoint as vendor software does.
    Client(ClientArgs),
    /// Signed receipts: check one offline (docs/receipts.md).
    Receipt {
        #[command(subcommand)]
        command: cli::receipt::ReceiptCommand,
    },
    /// TRACS files: check them as the gateway will, or make samples.
    Tracs {
        #[command(subcommand)]
        command: cli::tracs::TracsCommand,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print a commented configuration file with every setting at its default.
    Example,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Walk the hash chain and report the first record edited, removed or reordered.
    Verify,
    /// Find records by actor, mailbox, action and days (calendar days in Washington), with
    /// their place in the chain (sequence number and hash): as a table, CSV or JSON.
    Search(cli::audit::SearchArgs),
}

fn load_config(arg: &ConfigArg) -> Result<Config, String> {
    Config::load(arg.config.as_deref(), std::env::vars()).map_err(|e| e.to_string())
}

/// Logs to standard error, as text or one JSON object a line (`log.format`), filtered by
/// `IMAX_LOG` (default `info`).
fn init_logging(format: config::LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("IMAX_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        config::LogFormat::Text => builder.init(),
        config::LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    return_freed_memory_promptly();
    let cli = Cli::parse();
    // The log format is a setting: read it from the configuration the command will use.
    let config_arg = match &cli.command {
        Command::Serve(c) => Some(c),
        Command::Admin { config, .. } | Command::Audit { config, .. } => Some(config),
        _ => None,
    };
    let format = config_arg
        .and_then(|c| load_config(c).ok())
        .map(|c| c.log.format)
        .unwrap_or_default();
    init_logging(format);
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("imax: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `imax serve`: serves until SIGTERM or Ctrl-C, then drains.
async fn serve(arg: &ConfigArg, clock: SharedClock) -> Result<(), String> {
    let config = load_config(arg)?;
    let app = App::start(config, clock).await.map_err(|e| e.to_string())?;
    println!("imax-gateway listening on https://{}", app.addr);
    println!(
        "  system-to-system endpoint: https://{}/s2s (WSDL: /s2s?wsdl)",
        app.addr
    );
    if let Some(ca) = &app.certs.dev_ca {
        println!("  development certificate; clients trust {}", ca.display());
    }
    imax_gateway::server::shutdown_signal().await;
    app.stop().await;
    println!("imax-gateway stopped");
    Ok(())
}

/// `imax audit verify`: the hash chain, then the signed checkpoints it must agree with: the
/// HMAC ones (audit key) and those signed with the receipt key, whose Merkle roots must be the
/// roots of the records they cover (issue 31 review).
async fn audit_verify(config: &Config, clock: SharedClock) -> Result<(), String> {
    use imax_gateway::checkpoint::{self, published::PublishedVerdict};
    let store = Store::open(&config.database_url(), &config.data_dir)
        .await
        .and_then(|s| s.with_bodies(&config.bodies))
        .map_err(|e| e.to_string())?;
    let chain = store.audit_log().verify().await.map_err(|e| e.to_string());
    let (checkpoints, receipts) = match checkpoint::Checkpoints::from_config(config) {
        Ok(cp) => (
            checkpoint::verify_at(&store, &cp, clock.now(), config.audit.checkpoint_secs)
                .await
                .map_err(|e| e.to_string()),
            cp.published.verify(&store).await.map_err(|e| e.to_string()),
        ),
        Err(e) => (Err(format!("the audit key: {e}")), Err(String::new())),
    };
    store.close().await;
    let records = match chain? {
        audit::Verdict::Intact { records } => records,
        audit::Verdict::Broken { seq, reason } => {
            return Err(format!("audit chain broken at record {seq}: {reason}"))
        }
    };
    let hmac = match checkpoints? {
        checkpoint::CheckpointVerdict::Holds { checkpoints: 0, .. } => {
            " (no signed checkpoint yet)".to_string()
        }
        checkpoint::CheckpointVerdict::Holds {
            checkpoints,
            seq,
            at,
        } => format!(
            "; {checkpoints} signed checkpoints hold, the newest for record {seq} at {}",
            at.map(imax_gateway::clock::rfc3339).unwrap_or_default()
        ),
        checkpoint::CheckpointVerdict::Broken { line: 0, reason } => {
            return Err(format!("audit checkpoints missing: {reason}"))
        }
        checkpoint::CheckpointVerdict::Broken { line, reason } => {
            return Err(format!(
                "audit chain altered: checkpoint line {line}: {reason}"
            ))
        }
    };
    let receipts = match receipts? {
        PublishedVerdict::Holds { checkpoints: 0, .. } => "; no receipt checkpoint yet".into(),
        PublishedVerdict::Holds { checkpoints, seq } => format!(
            "; {checkpoints} receipt checkpoints match the records they cover, up to record {seq}"
        ),
        PublishedVerdict::Broken { line, reason } => {
            return Err(format!(
                "receipt checkpoints altered: receipt-checkpoints line {line}: {reason}"
            ))
        }
    };
    println!("audit chain intact: {records} records{hmac}{receipts}");
    Ok(())
}

async fn run(cli: Cli) -> Result<(), String> {
    let clock: SharedClock = Arc::new(SystemClock);
    match cli.command {
        Command::Serve(arg) => serve(&arg, clock).await,
        Command::Config {
            command: ConfigCommand::Example,
        } => {
            print!("{}", config::EXAMPLE);
            Ok(())
        }
        Command::Audit {
            config,
            command: AuditCommand::Verify,
        } => audit_verify(&load_config(&config)?, clock).await,
        Command::Audit {
            config,
            command: AuditCommand::Search(args),
        } => {
            let config = load_config(&config)?;
            let store = Store::open(&config.database_url(), &config.data_dir)
                .await
                .map_err(|e| e.to_string())?;
            let r = cli::audit::search(&Admin::new(store.clone(), clock, config), args).await;
            store.close().await;
            r
        }
        Command::Admin {
            config,
            acting_as,
            command,
        } => {
            let config = load_config(&config)?;
            if let AdminCommand::Restore { dir } = &command {
                return cli::admin::restore_command(&config, dir).await;
            }
            let store = Store::open(&config.database_url(), &config.data_dir)
                .await
                .and_then(|s| s.with_bodies(&config.bodies))
                .map_err(|e| e.to_string())?;
            if let AdminCommand::Account {
                command: cli::admin::AccountCommand::TwoFactor { command },
            } = command
            {
                // For the person `--as` names, whatever their rights (issue 30).
                let Some(mid) = acting_as else {
                    return Err("two-factor needs --as M-ID: whose second factor".into());
                };
                let key = imax_gateway::checkpoint::Checkpoints::from_config(&config)
                    .map_err(|e| format!("the audit key: {e}"))?
                    .key;
                let gw = imax_gateway::gateway::Gateway::new(store.clone(), clock, config.into());
                gw.seal_second_factors_with(&key);
                let r = cli::admin::two_factor_command(&gw, &mid, command).await;
                store.close().await;
                return r;
            }
            let mut admin = Admin::new(store.clone(), clock, config);
            if let Some(mid) = acting_as {
                admin = admin.acting_as(&mid).await.map_err(|e| e.to_string())?;
            }
            let r = admin_command(&admin, command).await;
            store.close().await;
            r
        }
        Command::Client(args) => client_command(args).await,
        Command::Tracs { command } => cli::tracs::tracs_command(command),
        Command::Receipt { command } => cli::receipt::receipt_command(command),
    }
}
