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
        let bucket = buckets.entry(key.to_string()).or_insert(Bucket { tokens: self.budget.burst, last: now });
        let refill = now.duration_since(bucket.last).as_secs_f64() * self.budget.per_second;
        bucket.tokens = (bucket.tokens + refill).min(self.budget.burst);
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
}
