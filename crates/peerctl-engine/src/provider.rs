use crate::error::{Error, ProviderError};
use async_trait::async_trait;
use peerctl_core::plan::Action;
use peerctl_core::spec::Spec;
use peerctl_core::state::State;
use std::sync::Arc;

/// What a successful action produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// A new object, e.g. the id of a new peering connection.
    Created(String),
}

/// A cloud: it reads state and carries out actions; it never plans.
#[async_trait]
pub trait Provider: Send + Sync {
    /// Whether this provider carries out `action`.
    fn handles(&self, action: &Action) -> bool;
    /// Reads everything the spec's peerings of this cloud depend on.
    async fn observe(&self, spec: &Spec) -> Result<State, ProviderError>;
    /// Carries out `action`, one step of `peering` in a plan of `owner`: what
    /// it creates is marked as theirs (`peerctl_core::state::ownership_tags`).
    async fn execute(&self, action: &Action, owner: &str, peering: &str) -> Result<Outcome, ProviderError>;
}

/// The clouds a run talks to.
#[derive(Clone, Default)]
pub struct Providers {
    providers: Vec<Arc<dyn Provider>>,
}

impl Providers {
    pub fn new(providers: Vec<Arc<dyn Provider>>) -> Self {
        Self { providers }
    }

    pub async fn observe(&self, spec: &Spec) -> Result<State, Error> {
        let mut state = State::default();
        for provider in &self.providers {
            let part = provider.observe(spec).await.map_err(Error::Observe)?;
            state.aws.extend(part.aws);
            state.gcp.extend(part.gcp);
        }
        Ok(state)
    }

    pub fn for_action(&self, action: &Action) -> Result<Arc<dyn Provider>, Error> {
        self.providers.iter().find(|p| p.handles(action)).cloned().ok_or_else(|| Error::NoProvider(format!("{action:?}")))
    }
}
