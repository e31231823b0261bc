//! peerctl's pure core: the spec (loaded from YAML with positions, validated),
//! the observed state, the planner and the plan with its renderers.
//!
//! This crate must not depend on tokio, any cloud SDK or anything that does I/O:
//! planning is a function of (spec, state) and is tested without a cloud.

pub mod diag;
pub mod yaml;

pub use diag::{Diagnostic, Diagnostics, Loc};
mod decode;
pub mod drift;
pub mod iam;
pub mod import;
pub mod spec;
pub use decode::load;
#[cfg(test)]
mod decode_tests;
pub mod plan;
pub mod planner;
#[cfg(test)]
mod planner_gcp_tests;
#[cfg(test)]
mod planner_tests;
pub mod render;
pub mod schema;
#[cfg(test)]
mod schema_tests;
pub mod state;
