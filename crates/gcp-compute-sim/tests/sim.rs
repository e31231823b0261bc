//! Integration tests of the simulator's semantics over HTTP, plus the
//! fidelity check with Google's own Python client. One test binary; the
//! scenarios live in `tests/sim/` (a crate root resolves modules beside
//! itself, hence the `#[path]`s).

#[path = "sim/support.rs"]
mod support;

#[path = "sim/admin.rs"]
mod admin;
#[path = "sim/binary.rs"]
mod binary;
#[path = "sim/errors.rs"]
mod errors;
#[path = "sim/fidelity.rs"]
mod fidelity;
#[path = "sim/firewalls.rs"]
mod firewalls;
#[path = "sim/lists.rs"]
mod lists;
#[path = "sim/operations.rs"]
mod operations;
#[path = "sim/peering.rs"]
mod peering;
