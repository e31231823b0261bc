//! Injected transient failures, drawn from a seeded PRNG so a run with the
//! same seed and the same request sequence fails the same way.

use serde_json::json;

use crate::config::FaultKind;
use crate::error::ApiError;
use crate::state::Sim;

/// The error Compute answers for each kind of fault.
pub fn fault_error(kind: FaultKind) -> ApiError {
    match kind {
        FaultKind::RateLimit429 => ApiError::new(429, "rateLimitExceeded", "Rate Limit Exceeded").with_domain("usageLimits"),
        FaultKind::BackendError503 => ApiError::new(503, "backendError", "The service is currently unavailable."),
        FaultKind::ConcurrentOperations403 => {
            ApiError::new(403, "rateLimitExceeded", "Rate Limit Exceeded").with_domain("usageLimits").with_detail(json!({
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "CONCURRENT_OPERATIONS_QUOTA_EXCEEDED",
                "domain": "compute.googleapis.com",
                "metadatas": {"containerId": "76352966089", "containerType": "PROJECT", "location": "global"},
            }))
        }
    }
}

impl Sim {
    /// Decides whether this request fails; only eligible requests draw from
    /// the PRNG, so reads do not shift the sequence unless they are eligible.
    pub fn maybe_fault(&mut self, mutation: bool) -> Option<ApiError> {
        let cfg = &self.config;
        if cfg.fail_rate <= 0.0 || cfg.fail_kinds.is_empty() || !(mutation || cfg.fail_reads) {
            return None;
        }
        if self.fault_rng.next_f64() >= cfg.fail_rate {
            return None;
        }
        let kinds = &self.config.fail_kinds;
        let i = usize::try_from(self.fault_rng.next_u64() % kinds.len() as u64).unwrap_or(0);
        let kind = kinds.get(i).copied()?;
        self.stats.count_fault(kind.as_str());
        Some(fault_error(kind))
    }
}
