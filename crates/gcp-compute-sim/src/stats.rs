//! Counters shown by `GET /_sim/stats`, so end-to-end tests can assert how
//! a client behaved (how many calls, how many retries after faults).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Request and fault counters since start (or the last reset).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Every request to the Google API, authorised or not.
    pub requests_total: u64,
    /// Per API method id, e.g. `compute.networks.addPeering`.
    pub requests: BTreeMap<String, u64>,
    /// Per HTTP method.
    pub http_methods: BTreeMap<String, u64>,
    /// Requests refused with 401.
    pub unauthorized: u64,
    pub faults_total: u64,
    /// Per fault kind (`rate_limit_429`, …).
    pub faults: BTreeMap<String, u64>,
    pub operations_started: u64,
    pub operations_failed: u64,
}

impl Stats {
    pub fn count_request(&mut self, method_id: &str, http_method: &str) {
        self.requests_total += 1;
        *self.requests.entry(method_id.to_string()).or_default() += 1;
        *self.http_methods.entry(http_method.to_string()).or_default() += 1;
    }

    pub fn count_fault(&mut self, kind: &str) {
        self.faults_total += 1;
        *self.faults.entry(kind.to_string()).or_default() += 1;
    }
}
