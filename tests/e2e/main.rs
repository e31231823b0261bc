//! End-to-end tests: the `peerctl` binary against moto's EC2 server (and,
//! for GCP, the Compute simulator), each test with its own fresh server.

mod aws;
mod support;
