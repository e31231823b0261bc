use thiserror::Error;

/// What went wrong in a cloud call, in cloud-neutral terms, so that retry
/// policy lives once, here in the engine.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum ProviderError {
    #[error("not found: {0}")]
    NotFound(String),
    #[error("already exists: {0}")]
    AlreadyExists(String),
    #[error("throttled: {0}")]
    Throttled(String),
    /// A server-side failure or a lost connection: worth another try.
    #[error("temporarily unavailable: {0}")]
    Unavailable(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("permission denied: {0}")]
    PermissionDenied(String),
    #[error("{0}")]
    Other(String),
}

impl ProviderError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, ProviderError::Throttled(_) | ProviderError::Unavailable(_))
    }
}

#[derive(Debug, Error)]
pub enum Error {
    #[error("reading live state failed")]
    Observe(#[source] ProviderError),
    #[error("{failed} of {total} steps failed; {done} done, {skipped} not started")]
    Apply { failed: usize, done: usize, skipped: usize, total: usize },
    #[error("no provider handles {0}")]
    NoProvider(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
