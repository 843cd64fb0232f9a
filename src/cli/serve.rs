//! Serving: the configuration (or the demo's), the engine, the HTTP listeners, SIGHUP
//! reloads, and a graceful stop on SIGINT or SIGTERM.

use std::sync::Arc;

use tokio::net::TcpListener;
use tracing::{info, warn};

use super::simulate::start_demo;
use super::{Failure, ServeArgs};
use crate::engine::persist::Store;
use crate::engine::reload::{ReloadMetrics, Reloader};
use crate::engine::{Engine, load_config};
use crate::runtime::clock::Clock;
use crate::server::connection::{
    ConnectionLimits, default_max_connections, raise_open_files_limit,
};
use crate::server::{BindError, bind};
use crate::web::webconfig::WebConfigWatch;
use crate::web::{self, App};

pub(crate) async fn run(args: ServeArgs) -> Result<(), Failure> {
    if !args.telemetry_path.starts_with('/')
        || matches!(
            args.telemetry_path.as_str(),
            "/" | "/-/healthy" | "/-/ready" | "/-/reload"
        )
    {
        return Err(TelemetryPathError(args.telemetry_path.clone()).into());
    }
    let web = match &args.web_config_file {
        Some(path) => Some(Arc::new(WebConfigWatch::load(path)?)),
        None => None,
    };
    let clock = Clock::System;
    let (config, demo) = if args.demo {
        let (config, running) = start_demo(clock.clone()).await?;
        (config, Some(running))
    } else {
        let (config, warnings) = load_config(&args.config_file)?;
        for w in warnings {
            warn!(field = %w.field, "{}", w.message);
        }
        (config, None)
    };
    let store = match &args.storage_path {
        Some(dir) => Some(Arc::new(Store::open(dir)?)),
        None => None,
    };
    let listeners = bind_all(&args.listen_addresses).await?;
    let engine = Arc::new(Engine::start(&config, clock.clone(), store)?);
    let reload_metrics = ReloadMetrics::loaded_at(&clock);
    let config_file = (!args.demo).then(|| args.config_file.clone());
    let reloader = Arc::new(Reloader::new(
        config_file,
        engine.clone(),
        reload_metrics.clone(),
        clock.clone(),
    ));
    let app = Arc::new(app(&args, &engine, &reloader, web, clock, &reload_metrics));
    info!(
        sources = config.sources.len(),
        telemetry_path = %args.telemetry_path,
        "serving"
    );
    serve_until_signal(listeners, app, reloader).await?;
    engine.stop().await;
    if let Some(demo) = demo {
        demo.stop().await;
    }
    Ok(())
}

/// The web layer's state: the engine's sources, reloads, connection limits and the web
/// configuration.
fn app(
    args: &ServeArgs,
    engine: &Engine,
    reloader: &Arc<Reloader>,
    web: Option<Arc<WebConfigWatch>>,
    clock: Clock,
    reload_metrics: &ReloadMetrics,
) -> App {
    let mut app = App::new(
        engine.source_list(),
        args.telemetry_path.clone(),
        clock,
        args.max_requests,
        reload_metrics,
    );
    if args.enable_lifecycle {
        app.lifecycle = Some(reloader.clone());
    }
    app.connection_limits = connection_limits(args);
    if let Some(web) = &web {
        app.registry.register(
            "backup_exporter_web_config_last_reload_successful",
            "1 if the last change of --web.config.file loaded (or there was none), 0 if it did not and the previous web configuration is still in use",
            web.reload_successful.clone(),
        );
    }
    app.web = web;
    app
}

/// The connection limits the flags ask for (the open-files limit raised first).
fn connection_limits(args: &ServeArgs) -> ConnectionLimits {
    let open_files = raise_open_files_limit();
    let limits = ConnectionLimits {
        max_connections: args
            .max_connections
            .unwrap_or_else(|| default_max_connections(open_files)),
        max_per_client: args.max_connections_per_client,
        read_header_timeout: args.read_header_timeout,
        idle_timeout: args.idle_timeout,
    };
    info!(
        max_connections = limits.max_connections,
        max_connections_per_client = limits.max_per_client,
        open_files_limit = open_files,
        "connection limits"
    );
    limits
}

/// Serves `app` on every listener, reloading on SIGHUP, until SIGINT or SIGTERM; then
/// lets the open requests finish.
async fn serve_until_signal(
    listeners: Vec<TcpListener>,
    app: Arc<App>,
    reloader: Arc<Reloader>,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut servers = Vec::new();
    for listener in listeners {
        let address = listener.local_addr()?;
        info!(%address, "listening");
        let mut stop = stop_rx.clone();
        servers.push(tokio::spawn(web::serve(
            listener,
            app.clone(),
            async move {
                let _ = stop.changed().await;
            },
        )));
    }
    let hangups = tokio::spawn(reload_on_sighup(reloader));
    shutdown_signal().await;
    info!("shutting down");
    hangups.abort();
    let _ = stop_tx.send(true);
    for server in servers {
        let _ = server.await;
    }
    Ok(())
}

/// Re-reads the configuration on every SIGHUP.
async fn reload_on_sighup(reloader: Arc<Reloader>) {
    #[cfg(unix)]
    {
        let Ok(mut hangups) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            return;
        };
        while hangups.recv().await.is_some() {
            info!("SIGHUP: reloading the configuration");
            let _ = reloader.reload().await;
        }
    }
    #[cfg(not(unix))]
    drop(reloader);
}

/// Resolves on SIGINT or SIGTERM.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}

/// `--web.telemetry-path` names a path the exporter serves something else on.
#[derive(Debug, thiserror::Error)]
#[error("--web.telemetry-path {0:?} must be a path of its own, such as /metrics")]
struct TelemetryPathError(String);

async fn bind_all(addresses: &[String]) -> Result<Vec<TcpListener>, BindError> {
    let mut listeners = Vec::new();
    for text in addresses {
        listeners.push(bind(text).await?);
    }
    Ok(listeners)
}
