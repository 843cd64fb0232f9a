//! Serving: the configuration (or the demo's), the engine, the HTTP listeners, SIGHUP
//! reloads, and a graceful stop on SIGINT or SIGTERM.

use std::net::SocketAddr;
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
use crate::server::parse_listen_address;
use crate::web::webconfig::WebConfigWatch;
use crate::web::{self, App};

pub(crate) async fn run(args: ServeArgs) -> Result<(), Failure> {
    if !args.telemetry_path.starts_with('/')
        || matches!(
            args.telemetry_path.as_str(),
            "/" | "/-/healthy" | "/-/ready" | "/-/reload"
        )
    {
        return Err(format!(
            "--web.telemetry-path {:?} must be a path of its own, such as /metrics",
            args.telemetry_path
        )
        .into());
    }
    let web = match &args.web_config_file {
        Some(path) => Some(Arc::new(
            WebConfigWatch::load(path).map_err(|e| e.to_string())?,
        )),
        None => None,
    };
    let clock = Clock::System;
    let (config, demo) = if args.demo {
        let (config, running) = start_demo(clock.clone()).await?;
        (config, Some(running))
    } else {
        let (config, warnings) = load_config(&args.config_file).map_err(|e| e.to_string())?;
        for w in warnings {
            warn!(field = %w.field, "{}", w.message);
        }
        (config, None)
    };
    let store = match &args.storage_path {
        Some(dir) => Some(Arc::new(Store::open(dir).map_err(|e| e.to_string())?)),
        None => None,
    };
    let listeners = bind_all(&args.listen_addresses).await?;
    let engine = Arc::new(Engine::start(&config, clock.clone(), store).map_err(|e| e.to_string())?);
    let reload_metrics = ReloadMetrics::loaded_at(&clock);
    let config_file = (!args.demo).then(|| args.config_file.clone());
    let reloader = Arc::new(Reloader::new(
        config_file,
        engine.clone(),
        reload_metrics.clone(),
        clock.clone(),
    ));
    let mut app = App::new(
        engine.source_list(),
        args.telemetry_path.clone(),
        clock,
        args.max_requests,
        &reload_metrics,
    );
    if args.enable_lifecycle {
        app.lifecycle = Some(reloader.clone());
    }
    let open_files = raise_open_files_limit();
    app.connection_limits = ConnectionLimits {
        max_connections: args
            .max_connections
            .unwrap_or_else(|| default_max_connections(open_files)),
        max_per_client: args.max_connections_per_client,
        read_header_timeout: args.read_header_timeout,
        idle_timeout: args.idle_timeout,
    };
    info!(
        max_connections = app.connection_limits.max_connections,
        max_connections_per_client = app.connection_limits.max_per_client,
        open_files_limit = open_files,
        "connection limits"
    );
    if let Some(web) = &web {
        app.registry.register(
            "backup_exporter_web_config_last_reload_successful",
            "1 if the last change of --web.config.file loaded (or there was none), 0 if it did not and the previous web configuration is still in use",
            web.reload_successful.clone(),
        );
    }
    app.web = web;
    let app = Arc::new(app);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut servers = Vec::new();
    for listener in listeners {
        let address = listener.local_addr().map_err(|e| e.to_string())?;
        info!(%address, telemetry_path = %args.telemetry_path, sources = config.sources.len(), "listening");
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
    engine.stop().await;
    if let Some(demo) = demo {
        demo.stop().await;
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

async fn bind_all(addresses: &[String]) -> Result<Vec<TcpListener>, String> {
    let mut listeners = Vec::new();
    for text in addresses {
        let addr: SocketAddr = parse_listen_address(text)?;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| format!("cannot listen on {text}: {e}"))?;
        listeners.push(listener);
    }
    Ok(listeners)
}
