//! The `serve` and `users` commands of `racetrack-plugin`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{default_users_file, router, users, AdminConfig, AdminError, AuthMode};
use crate::cli::{Cli, EXIT_FAILED, EXIT_USAGE};
use crate::engine::{PluginEngine, DEFAULT_WATCH_INTERVAL};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0: any free port; the address is printed).
    #[arg(long, default_value = "127.0.0.1:7002", value_name = "ADDR")]
    pub bind: String,
    /// Users file [default: <plugins-dir>/state/users.yaml].
    #[arg(long, value_name = "FILE")]
    pub users: Option<PathBuf>,
    /// Largest plugin upload accepted, in MiB.
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub max_upload_mb: usize,
    /// No login: everyone is staff. Local development only; loopback addresses only.
    #[arg(long)]
    pub no_auth: bool,
    /// Clients reach the server over TLS (a proxy in front): session cookies get `Secure`.
    #[arg(long)]
    pub behind_tls: bool,
    /// Docker registry prefix passed to the `fatman_job_types` hook.
    #[arg(long, default_value = "", value_name = "PREFIX")]
    pub docker_registry_prefix: String,
}

#[derive(Debug, Args)]
pub struct UsersArgs {
    /// Users file [default: <plugins-dir>/state/users.yaml].
    #[arg(long, value_name = "FILE", global = true)]
    pub users: Option<PathBuf>,
    #[command(subcommand)]
    pub command: UsersCommand,
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Add a user and print its new token (shown only this once).
    Add {
        name: String,
        /// May install, delete and configure plugins and see the Administration page.
        #[arg(long)]
        staff: bool,
    },
    /// List users.
    List,
    /// Remove a user; its token stops working at once, also on running servers.
    Remove { name: String },
}

fn users_path(cli: &Cli, explicit: &Option<PathBuf>) -> PathBuf {
    explicit
        .clone()
        .unwrap_or_else(|| default_users_file(&cli.plugins_dir))
}

fn fail(e: impl std::fmt::Display) -> u8 {
    eprintln!("error: {e}");
    EXIT_FAILED
}

pub fn run_users(cli: &Cli, args: &UsersArgs) -> u8 {
    let path = users_path(cli, &args.users);
    match &args.command {
        UsersCommand::Add { name, staff } => match users::add_user(&path, name, *staff) {
            Ok(token) => {
                eprintln!(
                    "Added {}user {name} to {}. Its token (shown only now):",
                    if *staff { "staff " } else { "" },
                    path.display()
                );
                println!("{token}");
                0
            }
            Err(e @ (AdminError::BadUserName(_) | AdminError::UserExists(_))) => {
                eprintln!("error: {e}");
                EXIT_USAGE
            }
            Err(e) => fail(e),
        },
        UsersCommand::List => match users::list_users(&path) {
            Ok(list) if list.is_empty() => {
                println!("No users in {}.", path.display());
                0
            }
            Ok(list) => {
                for user in list {
                    println!("{}{}", user.name, if user.staff { " staff" } else { "" });
                }
                0
            }
            Err(e) => fail(e),
        },
        UsersCommand::Remove { name } => match users::remove_user(&path, name) {
            Ok(()) => {
                println!("Removed user {name}.");
                0
            }
            Err(e) => fail(e),
        },
    }
}

fn open_engine(cli: &Cli) -> Result<PluginEngine, u8> {
    // Other processes sharing the directory (CLI installs, other servers) are noticed.
    crate::cli::engine_builder(cli, &cli.plugins_dir)
        .watch_interval(Some(DEFAULT_WATCH_INTERVAL))
        .build()
        .map_err(|e| fail(e.report()))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot wait for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot wait for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight, stopping installs");
    // An install running pip would hold the shutdown for minutes; it fails as cancelled
    // and leaves the directory as it was.
    crate::deps::cancel_installs();
}

async fn resolve(bind: &str) -> Result<Vec<SocketAddr>, AdminError> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host(bind)
        .await
        .map_err(|e| AdminError::Bind {
            addr: bind.to_string(),
            problem: e.to_string(),
        })?
        .collect();
    if addrs.is_empty() {
        return Err(AdminError::Bind {
            addr: bind.to_string(),
            problem: "it resolves to no address".into(),
        });
    }
    Ok(addrs)
}

pub fn run_serve(cli: &Cli, args: &ServeArgs) -> u8 {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(format!("cannot start the async runtime: {e}")),
    };
    let addrs = match runtime.block_on(resolve(&args.bind)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    if args.no_auth {
        if let Some(bad) = addrs.iter().find(|a| !a.ip().is_loopback()) {
            eprintln!("error: {}", AdminError::NoAuthNotLoopback(bad.to_string()));
            return EXIT_USAGE;
        }
    }
    let engine = match open_engine(cli) {
        Ok(e) => e,
        Err(code) => return code,
    };
    let users_file = users_path(cli, &args.users);
    let config = AdminConfig {
        auth: if args.no_auth {
            AuthMode::Disabled
        } else {
            AuthMode::UsersFile(users_file.clone())
        },
        max_upload_bytes: args.max_upload_mb.saturating_mul(1024 * 1024),
        behind_tls: args.behind_tls,
        docker_registry_prefix: args.docker_registry_prefix.clone(),
    };
    let app = match router(engine, config) {
        Ok(app) => app,
        Err(e) => return fail(e),
    };
    let code = runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(&addrs[..]).await {
            Ok(l) => l,
            Err(e) => return fail(AdminError::Bind {
                addr: args.bind.clone(),
                problem: e.to_string(),
            }),
        };
        let local = listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_else(|_| args.bind.clone());
        if args.no_auth {
            eprintln!("warning: --no-auth: anyone reaching {local} is staff");
        } else {
            match users::list_users(&users_file) {
                Ok(list) if list.is_empty() => eprintln!(
                    "warning: no users in {}: add one with `racetrack-plugin users add NAME --staff`",
                    users_file.display()
                ),
                _ => {}
            }
        }
        // The first stdout line is the address, for scripts started with port 0.
        println!("Serving on http://{local}");
        tracing::info!(addr = %local, "administration server listening");
        let served = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown_signal())
        .await;
        match served {
            Ok(()) => 0,
            Err(e) => fail(format!("server failed: {e}")),
        }
    });
    // Blocking tasks (an install running pip) finish before the runtime goes.
    drop(runtime);
    code
}
