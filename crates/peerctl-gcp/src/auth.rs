//! Bearer tokens for the Compute API: a static token, Application Default
//! Credentials (fetched on first use, never before), or none at all.
//!
//! A token is only ever put into an `Authorization` header: no `Debug`, log
//! line or error message shows it.

use gcp_auth::TokenProvider;
use peerctl_engine::ProviderError;
use std::fmt;
use std::sync::Arc;
use tokio::sync::OnceCell;

/// The OAuth scope every Compute call needs.
pub const COMPUTE_SCOPE: &str = "https://www.googleapis.com/auth/compute";

/// Terraform's and gcloud's variable for a static bearer token.
pub const TOKEN_ENV: &str = "GOOGLE_OAUTH_ACCESS_TOKEN";

/// How the provider authenticates its calls.
#[derive(Clone)]
pub struct Credentials {
    kind: Kind,
}

#[derive(Clone)]
enum Kind {
    Static(Arc<str>),
    ApplicationDefault,
    Anonymous,
}

impl Credentials {
    /// A fixed bearer token, as `GOOGLE_OAUTH_ACCESS_TOKEN` gives it.
    pub fn static_token(token: impl Into<String>) -> Self {
        Credentials { kind: Kind::Static(Arc::from(token.into())) }
    }

    /// Application Default Credentials (`GOOGLE_APPLICATION_CREDENTIALS`,
    /// gcloud's ADC file, the metadata server), looked up on the first call.
    pub fn application_default() -> Self {
        Credentials { kind: Kind::ApplicationDefault }
    }

    /// No `Authorization` header at all: only for emulators that need none
    /// (the real API and the simulator answer 401).
    pub fn anonymous() -> Self {
        Credentials { kind: Kind::Anonymous }
    }

    /// `GOOGLE_OAUTH_ACCESS_TOKEN` when set and not empty, else Application
    /// Default Credentials. Reads the variable only; nothing is fetched yet.
    pub fn from_env() -> Self {
        match std::env::var(TOKEN_ENV) {
            Ok(token) if !token.trim().is_empty() => Self::static_token(token.trim()),
            _ => Self::application_default(),
        }
    }

    fn describe(&self) -> &'static str {
        match self.kind {
            Kind::Static(_) => "static access token",
            Kind::ApplicationDefault => "application default credentials",
            Kind::Anonymous => "anonymous",
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// A token ready for one request; its `Debug` hides it.
pub(crate) struct Bearer(Arc<str>);

impl Bearer {
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Bearer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Bearer(****)")
    }
}

/// The credentials plus, for ADC, the token source made on first use.
pub(crate) struct Auth {
    credentials: Credentials,
    adc: OnceCell<Arc<dyn TokenProvider>>,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.credentials.fmt(f)
    }
}

impl Auth {
    pub(crate) fn new(credentials: Credentials) -> Self {
        Auth { credentials, adc: OnceCell::new() }
    }

    /// The token for the next request; `None` for anonymous calls.
    pub(crate) async fn bearer(&self) -> Result<Option<Bearer>, ProviderError> {
        match &self.credentials.kind {
            Kind::Static(token) => Ok(Some(Bearer(token.clone()))),
            Kind::Anonymous => Ok(None),
            Kind::ApplicationDefault => {
                let source = self.adc.get_or_try_init(|| async { gcp_auth::provider().await }).await.map_err(|e| no_credentials(&e))?;
                let token = source.token(&[COMPUTE_SCOPE]).await.map_err(|e| no_credentials(&e))?;
                Ok(Some(Bearer(Arc::from(token.as_str()))))
            }
        }
    }
}

fn no_credentials(error: &gcp_auth::Error) -> ProviderError {
    ProviderError::PermissionDenied(format!(
        "no usable gcp credentials: {}; set {TOKEN_ENV}, GOOGLE_APPLICATION_CREDENTIALS, \
         or run `gcloud auth application-default login`",
        chain(error)
    ))
}

/// An error and its sources on one line.
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let next = cause.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = cause.source();
    }
    text
}
