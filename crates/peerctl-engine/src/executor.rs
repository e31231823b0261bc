//! Applying a plan: steps run as soon as the steps they depend on are done,
//! at most `parallelism` at once, each scope within its rate budget; retryable
//! failures are retried with backoff. A failed step stops new steps from
//! starting; whatever finished stays finished, and the next run converges.

use crate::budget::{Budgets, RateBudget};
use crate::error::{Error, ProviderError};
use crate::provider::{Outcome, Providers};
use peerctl_core::plan::{Action, Plan};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio::time::Instant;

#[derive(Debug, Clone)]
pub struct ApplyOptions {
    pub parallelism: usize,
    pub budget: RateBudget,
    /// Attempts per step for retryable errors.
    pub max_attempts: u32,
    /// First backoff; doubled on each retry, capped at 20 s.
    pub backoff: Duration,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        Self { parallelism: 10, budget: RateBudget::EC2_MUTATING, max_attempts: 8, backoff: Duration::from_millis(250) }
    }
}

/// Progress, for the caller to show. `action` is the step's as carried out:
/// a connection created earlier in the run is named by its id.
#[derive(Debug, Clone)]
pub enum Event {
    Started { step: usize },
    Finished { step: usize, action: Box<Action>, outcome: Outcome, elapsed: Duration },
    Failed { step: usize, action: Box<Action>, error: ProviderError },
}

#[derive(Debug, Default)]
pub struct Report {
    pub done: Vec<usize>,
    pub failed: Vec<(usize, ProviderError)>,
    pub retries: u32,
}

/// Carries out `plan`'s steps in dependency order.
pub async fn apply(
    providers: &Providers,
    plan: &Plan,
    options: &ApplyOptions,
    on_event: &(dyn Fn(Event) + Sync),
) -> Result<Report, (Report, Error)> {
    let budgets = Budgets::new(options.budget);
    let locks = Locks::default();
    let mut report = Report::default();
    let mut created: BTreeMap<usize, String> = BTreeMap::new();
    let mut waiting: Vec<usize> = (0..plan.steps.len()).collect();
    let mut running = JoinSet::new();
    let mut in_flight = BTreeSet::new();
    loop {
        if report.failed.is_empty() {
            let queues = Queues { waiting: &mut waiting, running: &mut running, in_flight: &mut in_flight };
            start_ready(providers, plan, options, &budgets, &locks, queues, &report, &created, on_event);
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        let (step, action, started, result, retries) = match joined {
            Ok(finished) => finished,
            Err(join_error) => {
                let error = ProviderError::Other(format!("a step's task ended abnormally: {join_error}"));
                report.failed.push((usize::MAX, error));
                continue;
            }
        };
        in_flight.remove(&step);
        report.retries += retries;
        match result {
            Ok(outcome) => {
                if let Outcome::Created(id) = &outcome {
                    created.insert(step, id.clone());
                }
                report.done.push(step);
                on_event(Event::Finished { step, action, outcome, elapsed: started.elapsed() });
            }
            Err(error) => {
                on_event(Event::Failed { step, action, error: error.clone() });
                report.failed.push((step, error));
            }
        }
    }
    if report.failed.is_empty() {
        return Ok(report);
    }
    let total = plan.steps.len();
    let (failed, done) = (report.failed.len(), report.done.len());
    Err((report, Error::Apply { failed, done, skipped: total - failed - done, total }))
}

type Finished = (usize, Box<Action>, Instant, Result<Outcome, ProviderError>, u32);

/// The steps not started yet, and those running.
struct Queues<'a> {
    waiting: &'a mut Vec<usize>,
    running: &'a mut JoinSet<Finished>,
    in_flight: &'a mut BTreeSet<usize>,
}

/// Starts ready steps, in plan order, while slots are free. A step is passed
/// over (for now) when a running step holds one of its network locks, or
/// shares its empty rate bucket: it would only hold a slot while it waits,
/// and that running step's end starts this pass again. So one hub's steps,
/// adjacent in the plan, do not crowd out other buckets and networks.
#[allow(clippy::too_many_arguments)]
fn start_ready(
    providers: &Providers,
    plan: &Plan,
    options: &ApplyOptions,
    budgets: &Budgets,
    locks: &Locks,
    queues: Queues,
    report: &Report,
    created: &BTreeMap<usize, String>,
    on_event: &(dyn Fn(Event) + Sync),
) {
    let Queues { waiting, running, in_flight } = queues;
    let busy_locks: BTreeSet<String> = in_flight.iter().flat_map(|s| plan.steps[*s].action.locks()).collect();
    let busy_buckets: BTreeSet<String> = in_flight.iter().map(|s| plan.steps[*s].action.budget_key()).collect();
    let mut index = 0;
    while index < waiting.len() && running.len() < options.parallelism.max(1) {
        let step = waiting[index];
        let action = &*plan.steps[step].action;
        let ready = plan.steps[step].depends_on.iter().all(|d| report.done.contains(d));
        let blocked = action.locks().iter().any(|l| busy_locks.contains(l))
            || (busy_buckets.contains(&action.budget_key()) && !budgets.has_token(&action.budget_key()));
        if !ready || blocked {
            index += 1;
            continue;
        }
        waiting.remove(index);
        in_flight.insert(step);
        let mut action = plan.steps[step].action.clone();
        let fresh_connection = action.connection_mut().is_some_and(|c| c.id().is_none());
        let started = Instant::now();
        if let Err(missing) = action.resolve(created) {
            let error = ProviderError::Other(format!("step {step} needs the connection of step {missing}, which made none"));
            running.spawn(async move { (step, action, started, Err(error), 0) });
            continue;
        }
        let provider = match providers.for_action(&action) {
            Ok(provider) => provider,
            Err(error) => {
                let error = ProviderError::Other(error.to_string());
                running.spawn(async move { (step, action, started, Err(error), 0) });
                continue;
            }
        };
        on_event(Event::Started { step });
        let retry = RetryPolicy { options: options.clone(), locks: locks.clone(), fresh_connection };
        let budgets = budgets.clone();
        let (owner, peering) = (plan.owner.clone(), plan.steps[step].peering.clone());
        running.spawn(async move {
            let (result, retries) = retry.run(&action, (&owner, &peering), provider.as_ref(), &budgets).await;
            (step, action, started, result, retries)
        });
    }
}

struct RetryPolicy {
    options: ApplyOptions,
    locks: Locks,
    /// The action refers to a connection created moments ago, which EC2 may
    /// not show yet: "not found" is then worth waiting for.
    fresh_connection: bool,
}

impl RetryPolicy {
    async fn run(
        &self,
        action: &Action,
        (owner, peering): (&str, &str),
        provider: &dyn crate::Provider,
        budgets: &Budgets,
    ) -> (Result<Outcome, ProviderError>, u32) {
        let key = action.budget_key();
        let _guards = self.locks.acquire(&action.locks()).await;
        let mut delay = self.options.backoff;
        let mut attempt = 1;
        loop {
            budgets.acquire(&key).await;
            let result = provider.execute(action, owner, peering).await;
            let retry = match &result {
                Err(error) => error.is_retryable() || (self.fresh_connection && matches!(error, ProviderError::NotFound(_))),
                Ok(_) => false,
            };
            if !retry || attempt >= self.options.max_attempts {
                return (result, attempt - 1);
            }
            if let Err(error) = &result {
                tracing::info!("retrying in {delay:?} (attempt {attempt}): {error}");
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(20));
            attempt += 1;
        }
    }
}

/// One lock per GCP network: a pair's peering operations run one at a time,
/// while other networks proceed in parallel.
#[derive(Clone, Default)]
pub(crate) struct Locks {
    locks: Arc<std::sync::Mutex<BTreeMap<String, Arc<tokio::sync::Mutex<()>>>>>,
}

impl Locks {
    /// Takes every lock in `names` (already sorted, so two steps never deadlock).
    async fn acquire(&self, names: &[String]) -> Vec<tokio::sync::OwnedMutexGuard<()>> {
        let mutexes: Vec<_> = {
            let mut locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
            names.iter().map(|name| locks.entry(name.clone()).or_default().clone()).collect()
        };
        let mut guards = Vec::with_capacity(mutexes.len());
        for mutex in mutexes {
            guards.push(mutex.lock_owned().await);
        }
        guards
    }
}
