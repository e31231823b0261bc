//! Test knobs: set at start (library `Config`, binary flags) and changed at
//! runtime through `POST /_sim/config` (`ConfigUpdate`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A kind of transient failure the simulator can inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
pub enum FaultKind {
    /// HTTP 429, reason `rateLimitExceeded`.
    #[serde(rename = "rate_limit_429")]
    RateLimit429,
    /// HTTP 503, reason `backendError`.
    #[serde(rename = "backend_error_503")]
    BackendError503,
    /// HTTP 403, reason `rateLimitExceeded` with ErrorInfo reason
    /// `CONCURRENT_OPERATIONS_QUOTA_EXCEEDED`.
    #[serde(rename = "concurrent_operations_403")]
    ConcurrentOperations403,
}

impl FaultKind {
    pub const ALL: [FaultKind; 3] = [FaultKind::RateLimit429, FaultKind::BackendError503, FaultKind::ConcurrentOperations403];

    /// The name used in flags, the admin endpoint and stats.
    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::RateLimit429 => "rate_limit_429",
            FaultKind::BackendError503 => "backend_error_503",
            FaultKind::ConcurrentOperations403 => "concurrent_operations_403",
        }
    }
}

impl std::str::FromStr for FaultKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FaultKind::ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| {
            format!("unknown fault kind '{s}' (expected one of rate_limit_429, backend_error_503, concurrent_operations_403)")
        })
    }
}

/// How the simulator behaves; `Config::default()` is a fast, fault-free cloud.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// How long every operation stays `RUNNING` before it is applied and
    /// becomes `DONE`. Zero applies it before the HTTP call returns.
    pub operation_latency: Duration,
    /// Peerings allowed on one network (Google's default quota is 25).
    pub peering_limit: u32,
    /// Probability (0.0–1.0) that a request is answered with an injected fault.
    pub fail_rate: f64,
    /// Which faults to inject; one is picked at random each time.
    pub fail_kinds: Vec<FaultKind>,
    /// Also inject faults into reads (GET and operation waits), not only mutations.
    pub fail_reads: bool,
    /// Seed of the fault and id generators, so a run can be replayed.
    pub seed: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            operation_latency: Duration::from_millis(200),
            peering_limit: 25,
            fail_rate: 0.0,
            fail_kinds: FaultKind::ALL.to_vec(),
            fail_reads: false,
            seed: 1,
        }
    }
}

impl Config {
    /// Rejects values no real knob could take.
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.fail_rate) || self.fail_rate.is_nan() {
            return Err(format!("fail rate {} is not within 0.0..=1.0", self.fail_rate));
        }
        if self.fail_rate > 0.0 && self.fail_kinds.is_empty() {
            return Err("a fail rate above 0 needs at least one fault kind".into());
        }
        Ok(())
    }

    /// Applies a partial update; fields left `None` keep their value.
    pub fn apply(&mut self, update: &ConfigUpdate) -> Result<(), String> {
        let mut next = self.clone();
        if let Some(ms) = update.operation_latency_ms {
            next.operation_latency = Duration::from_millis(ms);
        }
        if let Some(limit) = update.peering_limit {
            next.peering_limit = limit;
        }
        if let Some(rate) = update.fail_rate {
            next.fail_rate = rate;
        }
        if let Some(kinds) = &update.fail_kinds {
            next.fail_kinds = kinds.clone();
        }
        if let Some(reads) = update.fail_reads {
            next.fail_reads = reads;
        }
        if let Some(seed) = update.seed {
            next.seed = seed;
        }
        next.validate()?;
        *self = next;
        Ok(())
    }

    /// The knobs as the admin endpoint shows them.
    pub fn view(&self) -> ConfigView {
        ConfigView {
            operation_latency_ms: u64::try_from(self.operation_latency.as_millis()).unwrap_or(u64::MAX),
            peering_limit: self.peering_limit,
            fail_rate: self.fail_rate,
            fail_kinds: self.fail_kinds.clone(),
            fail_reads: self.fail_reads,
            seed: self.seed,
        }
    }
}

/// Body of `POST /_sim/config`: every field optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigUpdate {
    pub operation_latency_ms: Option<u64>,
    pub peering_limit: Option<u32>,
    pub fail_rate: Option<f64>,
    pub fail_kinds: Option<Vec<FaultKind>>,
    pub fail_reads: Option<bool>,
    /// Setting the seed also restarts the fault sequence.
    pub seed: Option<u64>,
}

/// Answer of `GET /_sim/config` (and of `POST`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigView {
    pub operation_latency_ms: u64,
    pub peering_limit: u32,
    pub fail_rate: f64,
    pub fail_kinds: Vec<FaultKind>,
    pub fail_reads: bool,
    pub seed: u64,
}
