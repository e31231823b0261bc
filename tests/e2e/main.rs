//! End-to-end tests: the `peerctl` binary against moto's EC2 server and the
//! `gcp-compute-sim` binary, each test with its own fresh servers.

mod adoption;
mod aws;
mod broken;
mod faults;
mod gcp;
mod gitops;
mod iam;
mod moto_direct;
mod recipes;
mod security;
mod support;
