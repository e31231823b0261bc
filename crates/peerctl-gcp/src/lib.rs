//! peerctl's GCP provider: reads networks (with their peering entries),
//! subnetwork ranges and peerctl's firewall rules with one paged list call per
//! project and kind, and carries out the planner's GCP actions on the Compute
//! Engine v1 REST API, waiting for every operation to finish.
//!
//! It makes no decisions: what to change comes from the plan.

mod api;
mod auth;
mod execute;
mod observe;
#[cfg(test)]
mod tests;

pub use auth::Credentials;

use async_trait::async_trait;
use peerctl_core::plan::Action;
use peerctl_core::spec::Spec;
use peerctl_core::state::State;
use peerctl_engine::{Outcome, Provider, ProviderError};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

/// gcloud's variable for pointing the Compute API elsewhere (an emulator).
pub const ENDPOINT_ENV: &str = "CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE";
pub const DEFAULT_ENDPOINT: &str = "https://compute.googleapis.com/compute/v1/";

pub struct GcpProvider {
    http: reqwest::Client,
    /// Ends with `/compute/v1/`.
    base_url: String,
    auth: auth::Auth,
    /// Makes this run's request ids differ from every other run's.
    run_id: String,
    calls: Mutex<BTreeMap<&'static str, u64>>,
    /// The request id of each action being tried, kept across the engine's retries.
    request_ids: Mutex<BTreeMap<String, String>>,
    /// `maxResults` of list calls (the API's maximum is 500).
    page_size: u32,
}

impl GcpProvider {
    pub fn new(base_url: &str, credentials: Credentials) -> Self {
        let mut base_url = base_url.trim().to_string();
        if !base_url.ends_with('/') {
            base_url.push('/');
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .user_agent(concat!("peerctl/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default();
        let run_id = format!("{nanos}-{}", std::process::id());
        GcpProvider {
            http,
            base_url,
            auth: auth::Auth::new(credentials),
            run_id,
            calls: Mutex::default(),
            request_ids: Mutex::default(),
            page_size: 500,
        }
    }

    /// The endpoint and credentials of the environment: `ENDPOINT_ENV`,
    /// `GOOGLE_OAUTH_ACCESS_TOKEN`, else Application Default Credentials.
    pub fn from_env() -> Self {
        let endpoint = std::env::var(ENDPOINT_ENV).ok().filter(|e| !e.trim().is_empty());
        Self::new(endpoint.as_deref().unwrap_or(DEFAULT_ENDPOINT), Credentials::from_env())
    }

    /// API calls made so far, by method name.
    pub fn calls(&self) -> BTreeMap<&'static str, u64> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// What `peerctl import` needs: see `observe::observe_for_import`.
    pub async fn observe_for_import(&self, project: &str) -> Result<(State, Vec<String>), ProviderError> {
        observe::observe_for_import(self, project).await
    }

    fn count(&self, method: &'static str) {
        *self.calls.lock().unwrap_or_else(|e| e.into_inner()).entry(method).or_default() += 1;
    }
}

#[async_trait]
impl Provider for GcpProvider {
    fn handles(&self, action: &Action) -> bool {
        matches!(
            action,
            Action::GcpAddPeering { .. }
                | Action::GcpUpdatePeering { .. }
                | Action::GcpRemovePeering { .. }
                | Action::GcpInsertFirewall { .. }
                | Action::GcpUpdateFirewall { .. }
                | Action::GcpDeleteFirewall { .. }
        )
    }

    async fn observe(&self, spec: &Spec) -> Result<State, ProviderError> {
        observe::observe(self, spec).await
    }

    /// GCP objects are marked by their names and descriptions, which the plan holds.
    async fn execute(&self, action: &Action, _owner: &str, _peering: &str) -> Result<Outcome, ProviderError> {
        execute::execute(self, action).await
    }
}
