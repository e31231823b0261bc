//! peerctl's AWS provider: reads VPCs, route tables, security groups, their
//! rules and peering connections with batched, filtered, paginated Describe
//! calls (one per scope, kind and page), and carries out the planner's AWS
//! actions with aws-sdk-ec2.
//!
//! It makes no decisions: what to change comes from the plan. Mapping from SDK
//! types to core types lives in `convert.rs` only.

mod convert;
mod error;
mod execute;
mod observe;

use async_trait::async_trait;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ec2::Client;
use peerctl_core::plan::Action;
use peerctl_core::spec::{AwsScope, Spec};
use peerctl_core::state::State;
use peerctl_engine::{Outcome, Provider, ProviderError};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// The AWS provider; one EC2 client per (credentials, region), made on first use.
#[derive(Default)]
pub struct AwsProvider {
    clients: tokio::sync::Mutex<BTreeMap<AwsScope, Client>>,
    calls: Mutex<BTreeMap<&'static str, u64>>,
}

impl AwsProvider {
    pub fn new() -> Self {
        Self::default()
    }

    /// API calls made so far, by operation name.
    pub fn calls(&self) -> BTreeMap<&'static str, u64> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// What `peerctl import` needs: see `observe::observe_for_import`.
    pub async fn observe_for_import(&self, scope: &AwsScope, vpc: Option<&str>) -> Result<State, ProviderError> {
        observe::observe_for_import(self, scope, vpc).await
    }

    fn count(&self, operation: &'static str) {
        *self.calls.lock().unwrap_or_else(|e| e.into_inner()).entry(operation).or_default() += 1;
    }

    async fn client(&self, scope: &AwsScope) -> Client {
        let mut clients = self.clients.lock().await;
        if let Some(client) = clients.get(scope) {
            return client.clone();
        }
        let client = Client::new(&sdk_config(scope).await);
        clients.insert(scope.clone(), client.clone());
        client
    }
}

/// Attempts of each SDK call before its error reaches peerctl: a plan reads
/// every scope once, so a read failing all of them aborts the whole run.
const READ_ATTEMPTS: u32 = 8;

/// The SDK's standard chain (environment, profiles, SSO, instance roles,
/// `AWS_ENDPOINT_URL`), narrowed to the scope's profile and assumed role.
async fn sdk_config(scope: &AwsScope) -> SdkConfig {
    // Reads are retried by the SDK (mutations are the engine's to retry; see execute.rs).
    let retries = aws_config::retry::RetryConfig::standard().with_max_attempts(READ_ATTEMPTS);
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).region(Region::new(scope.region.clone())).retry_config(retries);
    if let Some(profile) = &scope.profile {
        // The profile's own credentials: the default chain would prefer
        // AWS_ACCESS_KEY_ID from the environment and silently use its account.
        let credentials = aws_config::profile::ProfileFileCredentialsProvider::builder().profile_name(profile).build();
        loader = loader.profile_name(profile).credentials_provider(credentials);
    }
    let base = loader.load().await;
    let Some(role_arn) = &scope.role_arn else {
        return base;
    };
    let assumed = aws_config::sts::AssumeRoleProvider::builder(role_arn).session_name("peerctl").configure(&base).build().await;
    base.into_builder().credentials_provider(aws_sdk_ec2::config::SharedCredentialsProvider::new(assumed)).build()
}

#[async_trait]
impl Provider for AwsProvider {
    fn handles(&self, action: &Action) -> bool {
        matches!(
            action,
            Action::AwsCreateConnection { .. }
                | Action::AwsAcceptConnection { .. }
                | Action::AwsSetDnsResolution { .. }
                | Action::AwsCreateRoute { .. }
                | Action::AwsReplaceRoute { .. }
                | Action::AwsDeleteRoute { .. }
                | Action::AwsAuthorizeIngress { .. }
                | Action::AwsRevokeIngress { .. }
                | Action::AwsDeleteConnection { .. }
                | Action::AwsTag { .. }
        )
    }

    async fn observe(&self, spec: &Spec) -> Result<State, ProviderError> {
        observe::observe(self, spec).await
    }

    async fn execute(&self, action: &Action, owner: &str, peering: &str) -> Result<Outcome, ProviderError> {
        execute::execute(self, action, owner, peering).await
    }
}
