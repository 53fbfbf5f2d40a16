//! Starting, serving and stopping the server: bind, open the stores (`build`), seed the demo
//! when asked, run the background tasks (usage flusher, limit sweeper, scheduler), drain on
//! shutdown.

pub mod build;
pub mod scheduler;

use std::{future::Future, net::SocketAddr, time::Duration};

use anyhow::Context;
use tokio::net::TcpListener;

use crate::{config::ServeArgs, demo, routes::app, state::AppState};

/// A server running in this process.
pub struct RunningServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its state (stores included).
    pub state: AppState,
    shutdown: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl RunningServer {
    /// `http://addr`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, finishes in-flight requests, flushes and closes the stores.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.shutdown.send(());
        self.task.await?
    }
}

/// Binds `args.bind`, opens the stores, seeds the demo when asked, and serves in the background.
pub async fn start(args: ServeArgs) -> anyhow::Result<RunningServer> {
    let listener = TcpListener::bind(args.bind).await.with_context(|| format!("binding {}", args.bind))?;
    let addr = listener.local_addr()?;
    let public_url = args.public_url.clone().unwrap_or_else(|| format!("http://{addr}"));
    let state = build::build_state(&args, public_url).await?;
    if args.demo {
        demo::seed_if_missing(&state, &args.data_dir)
            .await
            .map_err(|e| anyhow::anyhow!("seeding the demo: {e}"))?;
    }
    let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, state.clone(), async move {
        let _ = stopped.await;
    }));
    Ok(RunningServer { addr, state, shutdown, task })
}

/// Serves until `shutdown` resolves, then drains requests and closes the stores.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let flusher = state.usage.spawn_flusher();
    let sweeper = spawn_sweeper(state.clone());
    let scheduler = scheduler::spawn(state.clone());
    // The peer address is the client IP the rate limits key on.
    let service = app(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let served = axum::serve(listener, service).with_graceful_shutdown(shutdown).await;
    flusher.abort();
    sweeper.abort();
    if let Some(scheduler) = scheduler {
        scheduler.abort();
    }
    if let Err(e) = state.usage.flush().await {
        tracing::warn!(error = %e, "final usage flush failed");
    }
    state.events.close().await;
    tokio::time::timeout(Duration::from_secs(5), state.meta.close()).await.ok();
    served.context("serving")
}

/// Sweeps the rate limiters every 30 s until aborted, so their tables hold only recently active
/// clients.
fn spawn_sweeper(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(30));
        loop {
            tick.tick().await;
            state.limits.sweep();
        }
    })
}
