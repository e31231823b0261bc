//! peerctl's engine: the `Provider` boundary, the executor that applies a
//! plan (dependency order, bounded parallelism, per-scope rate budgets,
//! retries) and verification.
//!
//! It knows no cloud SDK: providers live in their own crates and meet the
//! engine only through `Provider` and the core's types.

mod budget;
mod error;
mod executor;
mod provider;

pub use budget::RateBudget;
pub use error::{Error, ProviderError, Result};
pub use executor::{ApplyOptions, Event, Report, apply};
pub use provider::{Outcome, Provider, Providers};
