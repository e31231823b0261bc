//! Client-side rate budgets: a token bucket per (credentials, region), so a
//! large apply stays under the cloud's own limits instead of being throttled.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug, Clone, Copy)]
pub struct RateBudget {
    /// Calls that may go at once after a quiet period.
    pub burst: f64,
    /// Calls per second refilled.
    pub per_second: f64,
}

impl RateBudget {
    /// EC2's published bucket for resource-intensive and mutating actions.
    pub const EC2_MUTATING: RateBudget = RateBudget { burst: 50.0, per_second: 5.0 };

    /// The burst peerctl uses: the cloud's, less a reserve of 4 % (2 of
    /// EC2's 50). Calls reach the cloud a little earlier or later than they
    /// took their token, so a client bucket that mirrors the cloud's exactly
    /// is sometimes a call ahead of it once both run dry; the reserve absorbs
    /// that (400 ms of EC2's refill) and costs nothing at the steady rate.
    fn usable_burst(self) -> f64 {
        (self.burst - (self.burst * 0.04).floor()).max(1.0)
    }
}

struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Buckets by key, created full on first use.
#[derive(Clone)]
pub(crate) struct Budgets {
    budget: RateBudget,
    buckets: Arc<Mutex<BTreeMap<String, Bucket>>>,
}

impl Budgets {
    pub fn new(budget: RateBudget) -> Self {
        Self { budget, buckets: Arc::default() }
    }

    /// Waits until `key`'s bucket has a token and takes it.
    pub async fn acquire(&self, key: &str) {
        loop {
            let wait = self.try_take(key);
            if wait.is_zero() {
                return;
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// Whether `key`'s bucket holds a token now (none is taken).
    pub fn has_token(&self, key: &str) -> bool {
        let buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        buckets.get(key).is_none_or(|bucket| {
            let refill = Instant::now().duration_since(bucket.last).as_secs_f64() * self.budget.per_second;
            bucket.tokens + refill >= 1.0
        })
    }

    fn try_take(&self, key: &str) -> Duration {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let burst = self.budget.usable_burst();
        let bucket = buckets.entry(key.to_string()).or_insert(Bucket { tokens: burst, last: now });
        let refill = now.duration_since(bucket.last).as_secs_f64() * self.budget.per_second;
        bucket.tokens = (bucket.tokens + refill).min(burst);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Duration::ZERO
        } else {
            Duration::from_secs_f64((1.0 - bucket.tokens) / self.budget.per_second)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bucket_allows_its_burst_then_asks_to_wait_for_its_rate() {
        let budgets = Budgets::new(RateBudget { burst: 3.0, per_second: 2.0 });
        for _ in 0..3 {
            assert_eq!(budgets.try_take("k"), Duration::ZERO);
        }
        let wait = budgets.try_take("k");
        assert!(wait > Duration::from_millis(400) && wait <= Duration::from_millis(500), "{wait:?}");
        assert_eq!(budgets.try_take("other"), Duration::ZERO, "each key has its own bucket");
    }

    #[tokio::test]
    async fn keeps_a_reserve_of_a_large_burst_for_jitter() {
        let budgets = Budgets::new(RateBudget::EC2_MUTATING);
        for _ in 0..48 {
            assert_eq!(budgets.try_take("k"), Duration::ZERO);
        }
        assert!(budgets.try_take("k") > Duration::ZERO, "2 of EC2's 50 are kept back");
    }
}
