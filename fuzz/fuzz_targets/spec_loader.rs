//! Fuzz target for the spec loader: arbitrary bytes → `peerctl_core::load`,
//! and for every spec that loads, the rest of the pure pipeline: the planner
//! (against an empty observed state, then against one where everything the
//! spec names exists), every plan renderer and the drift report.
//! The properties checked: nothing panics (and, under the default
//! AddressSanitizer build, no memory errors, stack overflows or runaway
//! allocations), and a plan written as JSON reads back equal, as `apply` of a
//! saved plan needs.
//!
//! Run with `./just fuzz [SECONDS]` (nightly toolchain; see docs/fuzzing.md).

#![no_main]

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use libfuzzer_sys::fuzz_target;
use peerctl_core::plan::Plan;
use peerctl_core::planner;
use peerctl_core::render::{self, Style};
use peerctl_core::spec::{AwsSide, By, CloudPeering, GcpNetwork, Selection, Spec};
use peerctl_core::state::{AwsRegionState, GcpNetworkState, GcpProjectState, GcpSubnetwork, RouteTable, SecurityGroup, State, Vpc};
use std::net::{Ipv4Addr, Ipv6Addr};

fuzz_target!(|data: &[u8]| {
    // Bytes → text: lossily. The CLI reads specs with `read_to_string`, so
    // `load` only ever sees valid UTF-8; `from_utf8_lossy` always gives it
    // valid UTF-8 too, but instead of discarding every input in which a
    // mutation broke an encoding (most of them, once the corpus holds
    // multi-byte text) it still feeds that input to the loader, with U+FFFD in
    // place of the bad bytes, which a real file can contain as well. The
    // conversion is deterministic, so a crash input reproduces as it is.
    let text = String::from_utf8_lossy(data);
    let spec = match peerctl_core::load("fuzz.yaml", &text) {
        Ok(spec) => spec,
        Err(diags) => {
            // What the CLI prints for a bad spec: positions, messages, hints.
            let _ = diags.to_string();
            return;
        }
    };

    // Against nothing observed: the planner stops at resolution ("nothing was
    // read for us-east-1", "no network …") except for `absent` peerings.
    exercise(&spec, &State::default());
    // Against a world where everything the spec names exists and nothing is
    // peered yet: the planner plans every step, and the renderers get them.
    exercise(&spec, &world(&spec));
});

/// The planner with the default options, then every renderer of its plan.
fn exercise(spec: &Spec, state: &State) {
    let plan = match planner::plan(spec, state) {
        Ok(plan) => plan,
        Err(diags) => {
            let _ = diags.to_string();
            return;
        }
    };
    for style in [Style { color: false }, Style { color: true }] {
        let _ = render::text(&plan, style);
        let _ = render::summary_line(&plan, style);
    }
    for step in &plan.steps {
        let _ = render::describe(&step.action);
    }
    let _ = render::markdown(&plan);
    // `plan --out FILE` writes this and `apply FILE` reads it back as a `Plan`:
    // whatever loads must survive that round trip unchanged.
    let json = render::json(&plan);
    let saved: Plan =
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("render::json wrote a plan that does not read back: {e}\n{json}"));
    assert_eq!(saved, plan, "the saved plan reads back different");

    let report = peerctl_core::drift::report(&plan);
    let _ = peerctl_core::drift::text(&report);
    let _ = peerctl_core::drift::metrics(&spec.owner, Some(&report), 0.0);
}

/// A state in which every VPC, route table, security group and network that
/// the spec selects exists (once), each VPC and network with its own range,
/// and no peering exists yet. Ids picked here start with `f00d` so they
/// rarely collide with ids the spec names; when they do, the planner reports
/// an ambiguity, which is fine too.
fn world(spec: &Spec) -> State {
    let mut state = State::default();
    let mut next = 0u32;
    for peering in &spec.peerings {
        match &peering.cloud {
            CloudPeering::Aws(aws) => {
                for side in [&aws.requester, &aws.accepter] {
                    add_aws_side(&mut state, side, &mut next);
                }
            }
            CloudPeering::Gcp(gcp) => {
                for network in [&gcp.network, &gcp.peer_network] {
                    add_gcp_network(&mut state, network, &mut next);
                }
            }
        }
    }
    state
}

fn add_aws_side(state: &mut State, side: &AwsSide, next: &mut u32) {
    let index = match state.aws.iter().position(|r| r.scope == side.scope) {
        Some(index) => index,
        None => {
            state.aws.push(AwsRegionState { scope: side.scope.clone(), ..AwsRegionState::default() });
            state.aws.len() - 1
        }
    };
    let region = &mut state.aws[index];
    let vpc_id = match region.vpcs.iter().find(|v| selects(&side.vpc.by, &v.id, v.name.as_deref())) {
        Some(vpc) => vpc.id.clone(),
        None => {
            let n = bump(next);
            let (id, name) = named("vpc", n, &side.vpc.by);
            region.vpcs.push(Vpc {
                id: id.clone(),
                name,
                owner_id: "111111111111".into(),
                cidrs: vec![IpNet::V4(Ipv4Net::new(Ipv4Addr::new(10, (n >> 8) as u8, n as u8, 0), 24).expect("valid prefix"))],
                ipv6_cidrs: vec![IpNet::V6(
                    Ipv6Net::new(Ipv6Addr::new(0x2600, 0x1f18, n as u16, 0, 0, 0, 0, 0), 56).expect("valid prefix"),
                )],
            });
            id
        }
    };
    let in_vpc = |id: &str| id == vpc_id;
    let wanted = |selection: &Selection| match selection {
        Selection::All => vec![By::Name("main".into())],
        Selection::Only(selectors) => selectors.iter().map(|s| s.by.clone()).collect(),
    };
    for by in wanted(&side.route_tables) {
        if !region.route_tables.iter().any(|t| in_vpc(&t.vpc_id) && selects(&by, &t.id, t.name.as_deref())) {
            let (id, name) = named("rtb", bump(next), &by);
            region.route_tables.push(RouteTable { id, vpc_id: vpc_id.clone(), name, routes: Vec::new() });
        }
    }
    for by in wanted(&side.security_groups) {
        if !region.security_groups.iter().any(|g| in_vpc(&g.vpc_id) && selects(&by, &g.id, Some(&g.name))) {
            let (id, name) = named("sg", bump(next), &by);
            let name = name.unwrap_or_else(|| format!("group-{id}"));
            region.security_groups.push(SecurityGroup { id, vpc_id: vpc_id.clone(), name });
        }
    }
}

fn add_gcp_network(state: &mut State, network: &GcpNetwork, next: &mut u32) {
    let index = match state.gcp.iter().position(|p| p.project == network.project) {
        Some(index) => index,
        None => {
            state.gcp.push(GcpProjectState { project: network.project.clone(), ..GcpProjectState::default() });
            state.gcp.len() - 1
        }
    };
    let project = &mut state.gcp[index];
    if project.networks.iter().any(|n| n.name == network.name) {
        return;
    }
    let n = bump(next);
    project.networks.push(GcpNetworkState { name: network.name.clone(), auto_mode: false, peerings: Vec::new() });
    project.subnetworks.push(GcpSubnetwork {
        name: format!("{}-subnet", network.name),
        region: "us-central1".into(),
        network: network.clone(),
        ranges: vec![IpNet::V4(Ipv4Net::new(Ipv4Addr::new(10, (n >> 8) as u8, n as u8, 0), 24).expect("valid prefix"))],
    });
}

fn bump(next: &mut u32) -> u32 {
    *next += 1;
    *next
}

/// The id and Name of a new object that `by` selects.
fn named(prefix: &str, n: u32, by: &By) -> (String, Option<String>) {
    match by {
        By::Id(id) => (id.clone(), None),
        By::Name(name) => (format!("{prefix}-f00d{n:013x}"), Some(name.clone())),
    }
}

fn selects(by: &By, id: &str, name: Option<&str>) -> bool {
    match by {
        By::Id(wanted) => wanted == id,
        By::Name(wanted) => name == Some(wanted.as_str()),
    }
}
