//! A faithful local simulator of the Google Compute Engine v1 REST API for
//! what VPC peering needs: networks (custom and auto mode), peerings,
//! subnetworks, firewalls, routes, and global and region operations.
//!
//! It is peerctl's stand-in for GCP in tests and demos: tests start it
//! in-process with [`start`]; the `gcp-compute-sim` binary serves it until
//! killed. It keeps Google's wire shapes (field names, `kind`s, enums,
//! defaults, `selfLink`s on `https://www.googleapis.com/compute/v1/`, error
//! envelopes) and the semantics clients trip over: peering state computed
//! from both sides, operations that stay `RUNNING` for a configurable
//! latency, overlap errors reported inside the finished operation, one
//! peering operation at a time per pair of networks, `requestId`
//! idempotency, paging and filters. Test knobs (latency, peering limit,
//! injected faults) can also be changed at runtime through `/_sim/config`.
//!
//! It depends on nothing of peerctl, so that it simulates the cloud and
//! not peerctl's idea of it.

mod cidr;
mod config;
mod error;
mod faults;
mod firewalls;
mod links;
mod list;
mod networks;
mod operations;
mod peering;
mod peering_routes;
mod regions;
mod routes;
mod schema;
mod server;
mod state;
mod stats;
mod subnetworks;
mod util;

use std::net::SocketAddr;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use config::{Config, ConfigUpdate, ConfigView, FaultKind};
pub use error::{Error, Result};
pub use links::LINK_BASE;
pub use stats::Stats;

use state::App;

/// A running simulator. Dropping it asks the server to stop.
pub struct Running {
    addr: SocketAddr,
    app: App,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

/// Starts serving on `addr` (port 0 picks a free one) in the current tokio runtime.
pub async fn start(config: Config, addr: SocketAddr) -> Result<Running> {
    config.validate().map_err(Error::InvalidConfig)?;
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|source| Error::Bind { addr, source })?;
    let addr = listener.local_addr().map_err(|source| Error::Bind { addr, source })?;
    let app = App::new(config);
    let router = server::router(app.clone());
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });
    Ok(Running { addr, app, stop: Some(stop), task: Some(task) })
}

impl Running {
    /// `http://127.0.0.1:PORT/compute/v1/`
    pub fn base_url(&self) -> String {
        format!("http://{}/compute/v1/", self.addr)
    }

    /// `http://127.0.0.1:PORT` (what Google's clients take as `api_endpoint`).
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The current knobs.
    pub fn config(&self) -> ConfigView {
        self.app.lock().config.view()
    }

    /// Changes knobs at runtime, as `POST /_sim/config` does.
    pub fn update_config(&self, update: &ConfigUpdate) -> Result<ConfigView> {
        let mut sim = self.app.lock();
        sim.config.apply(update).map_err(Error::InvalidConfig)?;
        if let Some(seed) = update.seed {
            sim.fault_rng = util::SplitMix64::new(seed);
        }
        Ok(sim.config.view())
    }

    /// Request and fault counters, as `GET /_sim/stats` shows them.
    pub fn stats(&self) -> Stats {
        self.app.lock().stats.clone()
    }

    /// Forgets every resource, operation and counter.
    pub fn reset(&self) {
        self.app.lock().reset();
    }

    /// Serves until the server stops by itself (used by the binary).
    pub async fn wait(mut self) -> std::io::Result<()> {
        match self.task.take() {
            Some(task) => task.await.unwrap_or(Ok(())),
            None => Ok(()),
        }
    }

    /// Stops accepting connections and waits (up to a second) for open ones.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(std::time::Duration::from_secs(1), task).await.is_err() {
                abort.abort();
            }
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
