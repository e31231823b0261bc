//! GCP planner table tests: (spec, state) → plan.

use crate::plan::{Action, Plan};
use crate::planner::plan;
use crate::render;
use crate::spec::{GcpNetwork, Ports, Protocol, Rule};
use crate::state::*;

pub(crate) const SPEC: &str = "version: 1
owner: team
gcp: {project: emq-x-cloud}
peerings:
  - name: byoc-gcp
    gcp:
      network: emqxbyoc-xxxx-network
      peer_network: projects/other-project/global/networks/cloud-test-1
";

fn net(project: &str, name: &str) -> GcpNetwork {
    GcpNetwork { project: project.into(), name: name.into() }
}

fn byoc() -> GcpNetwork {
    net("emq-x-cloud", "emqxbyoc-xxxx-network")
}

fn services() -> GcpNetwork {
    net("other-project", "cloud-test-1")
}

/// The spec's default flags on `network`, mirrored on the peer.
fn default_flags() -> GcpRouteFlags {
    GcpRouteFlags { export_subnet_routes_with_public_ip: true, ..GcpRouteFlags::default() }
}

fn entry(peer: GcpNetwork, flags: GcpRouteFlags) -> GcpPeeringEntry {
    GcpPeeringEntry { name: "team--byoc-gcp".into(), peer, state: "ACTIVE".into(), flags }
}

fn project(name: &str, network: &str, range: &str, peerings: Vec<GcpPeeringEntry>, firewalls: Vec<GcpFirewall>) -> GcpProjectState {
    GcpProjectState {
        project: name.into(),
        networks: vec![GcpNetworkState { name: network.into(), auto_mode: false, peerings }],
        subnetworks: vec![GcpSubnetwork {
            name: format!("{network}-subnet"),
            region: "us-central1".into(),
            network: net(name, network),
            ranges: vec![range.parse().expect("cidr")],
        }],
        firewalls,
    }
}

fn firewall(name: &str, network: GcpNetwork, source: &str) -> GcpFirewall {
    GcpFirewall {
        name: name.into(),
        network,
        description: "peerctl owner=team peering=byoc-gcp".into(),
        ingress: true,
        allowed: vec![Rule { protocol: Protocol::Tcp, ports: Ports::All }],
        source_ranges: vec![source.parse().expect("cidr")],
    }
}

pub(crate) fn fresh() -> State {
    State {
        gcp: vec![
            project("emq-x-cloud", "emqxbyoc-xxxx-network", "10.0.0.0/20", vec![], vec![]),
            project("other-project", "cloud-test-1", "10.8.0.0/20", vec![], vec![]),
        ],
        ..State::default()
    }
}

pub(crate) fn converged() -> State {
    let mut state = fresh();
    state.gcp[0].networks[0].peerings.push(entry(services(), default_flags()));
    state.gcp[1].networks[0].peerings.push(entry(byoc(), default_flags().mirrored()));
    state.gcp[0].firewalls.push(firewall("peerctl-team--byoc-gcp-a", byoc(), "10.8.0.0/20"));
    state.gcp[1].firewalls.push(firewall("peerctl-team--byoc-gcp-b", services(), "10.0.0.0/20"));
    state
}

pub(crate) fn plan_of(spec_text: &str, state: &State) -> Plan {
    let spec = crate::load("spec.yaml", spec_text).expect("valid spec");
    plan(&spec, state).unwrap_or_else(|d| panic!("planning failed:\n{d}"))
}

fn show(plan: &Plan) -> String {
    let mut lines: Vec<String> =
        plan.steps.iter().enumerate().map(|(i, s)| format!("{i} {} {}", s.action.kind().symbol(), render::describe(&s.action))).collect();
    lines.extend(plan.conflicts.iter().map(|c| format!("! {}", c.message)));
    lines.join("\n")
}

#[test]
fn adds_both_entries_and_both_firewalls_on_a_fresh_pair() {
    let plan = plan_of(SPEC, &fresh());
    insta::assert_snapshot!(show(&plan), @"
    0 + network peering team--byoc-gcp on projects/emq-x-cloud/global/networks/emqxbyoc-xxxx-network -> projects/other-project/global/networks/cloud-test-1 (export_subnet_routes_with_public_ip)
    1 + network peering team--byoc-gcp on projects/other-project/global/networks/cloud-test-1 -> projects/emq-x-cloud/global/networks/emqxbyoc-xxxx-network (import_subnet_routes_with_public_ip)
    2 + firewall peerctl-team--byoc-gcp-a on projects/emq-x-cloud/global/networks/emqxbyoc-xxxx-network ingress allow tcp all ports from 10.8.0.0/20
    3 + firewall peerctl-team--byoc-gcp-b on projects/other-project/global/networks/cloud-test-1 ingress allow tcp all ports from 10.0.0.0/20
    ");
    assert_eq!(plan.peerings[0].status, None);
}

#[test]
fn converged_pair_plans_nothing_and_is_active() {
    let plan = plan_of(SPEC, &converged());
    assert!(plan.is_empty() && plan.conflicts.is_empty(), "{}", show(&plan));
    assert_eq!(plan.peerings[0].status.as_deref(), Some("active"));
}

#[test]
fn repairs_one_side_removed_by_hand() {
    let mut state = converged();
    state.gcp[1].networks[0].peerings.clear();
    state.gcp[0].networks[0].peerings[0].state = "INACTIVE".into();
    let plan = plan_of(SPEC, &state);
    insta::assert_snapshot!(show(&plan), @"0 + network peering team--byoc-gcp on projects/other-project/global/networks/cloud-test-1 -> projects/emq-x-cloud/global/networks/emqxbyoc-xxxx-network (import_subnet_routes_with_public_ip)");
    assert_eq!(plan.peerings[0].status.as_deref(), Some("inactive / missing"));
}

#[test]
fn updates_flags_changed_by_hand_on_either_side() {
    let mut state = converged();
    state.gcp[1].networks[0].peerings[0].flags.import_custom_routes = true;
    let plan = plan_of(SPEC, &state);
    insta::assert_snapshot!(show(&plan), @"0 ~ network peering team--byoc-gcp on projects/other-project/global/networks/cloud-test-1: flags now import_subnet_routes_with_public_ip");
    let Action::GcpUpdatePeering { flags, .. } = &*plan.steps[0].action else { panic!("{}", show(&plan)) };
    assert_eq!(*flags, default_flags().mirrored());
}

#[test]
fn mirrors_custom_route_flags_on_the_peer_side() {
    let spec = format!("{SPEC}      export_custom_routes: true\n      import_subnet_routes_with_public_ip: true\n");
    let plan = plan_of(&spec, &fresh());
    let flags: Vec<(String, GcpRouteFlags)> = plan
        .steps
        .iter()
        .filter_map(|s| match &*s.action {
            Action::GcpAddPeering { network, flags, .. } => Some((network.name.clone(), *flags)),
            _ => None,
        })
        .collect();
    let mine = GcpRouteFlags {
        export_custom_routes: true,
        import_custom_routes: false,
        export_subnet_routes_with_public_ip: true,
        import_subnet_routes_with_public_ip: true,
    };
    assert_eq!(flags, vec![("emqxbyoc-xxxx-network".to_string(), mine), ("cloud-test-1".to_string(), mine.mirrored())]);
    assert!(mine.mirrored().import_custom_routes && mine.mirrored().export_subnet_routes_with_public_ip);
}

#[test]
fn a_foreign_entry_to_the_same_peer_is_a_conflict() {
    let mut state = fresh();
    state.gcp[0].networks[0].peerings.push(GcpPeeringEntry { name: "by-hand".into(), ..entry(services(), default_flags()) });
    let plan = plan_of(SPEC, &state);
    insta::assert_snapshot!(show(&plan), @"
    0 + network peering team--byoc-gcp on projects/other-project/global/networks/cloud-test-1 -> projects/emq-x-cloud/global/networks/emqxbyoc-xxxx-network (import_subnet_routes_with_public_ip)
    1 + firewall peerctl-team--byoc-gcp-a on projects/emq-x-cloud/global/networks/emqxbyoc-xxxx-network ingress allow tcp all ports from 10.8.0.0/20
    2 + firewall peerctl-team--byoc-gcp-b on projects/other-project/global/networks/cloud-test-1 ingress allow tcp all ports from 10.0.0.0/20
    ! projects/emq-x-cloud/global/networks/emqxbyoc-xxxx-network already peers with projects/other-project/global/networks/cloud-test-1 through `by-hand`, which this peering does not own
    ");
}

#[test]
fn an_entry_of_ours_pointing_elsewhere_is_removed_then_re_added() {
    let mut state = converged();
    state.gcp[0].networks[0].peerings[0].peer = net("other-project", "old-network");
    let plan = plan_of(SPEC, &state);
    insta::assert_snapshot!(show(&plan), @"
    0 - network peering team--byoc-gcp on projects/emq-x-cloud/global/networks/emqxbyoc-xxxx-network -> projects/other-project/global/networks/old-network
    1 + network peering team--byoc-gcp on projects/emq-x-cloud/global/networks/emqxbyoc-xxxx-network -> projects/other-project/global/networks/cloud-test-1 (export_subnet_routes_with_public_ip)
    ");
    assert_eq!(plan.steps[1].depends_on, vec![0]);
}

#[test]
fn firewall_follows_the_peers_ranges_and_the_allow_list() {
    let mut state = converged();
    state.gcp[1].subnetworks[0].ranges.push("10.9.0.0/24".parse().expect("cidr"));
    let spec = format!("{SPEC}      allow: [{{protocol: tcp, ports: 443}}]\n");
    let plan = plan_of(&spec, &state);
    insta::assert_snapshot!(show(&plan), @"
    0 ~ firewall peerctl-team--byoc-gcp-a on projects/emq-x-cloud/global/networks/emqxbyoc-xxxx-network ingress allow tcp port 443 from 10.8.0.0/20, 10.9.0.0/24
    1 ~ firewall peerctl-team--byoc-gcp-b on projects/other-project/global/networks/cloud-test-1 ingress allow tcp port 443 from 10.0.0.0/20
    ");
    let plan = plan_of(&format!("{SPEC}      allow: []\n"), &converged());
    insta::assert_snapshot!(show(&plan), @"
    0 - firewall peerctl-team--byoc-gcp-a in project emq-x-cloud
    1 - firewall peerctl-team--byoc-gcp-b in project other-project
    ");
}

#[test]
fn absent_removes_both_entries_and_our_firewalls_only() {
    let mut state = converged();
    let mut foreign = firewall("peerctl-someone-else", byoc(), "10.8.0.0/20");
    foreign.description = "peerctl owner=other peering=byoc-gcp".into();
    state.gcp[0].firewalls.push(foreign);
    let spec = SPEC.replace("  - name: byoc-gcp\n", "  - name: byoc-gcp\n    absent: true\n");
    let plan = plan_of(&spec, &state);
    insta::assert_snapshot!(show(&plan), @"
    0 - network peering team--byoc-gcp on projects/emq-x-cloud/global/networks/emqxbyoc-xxxx-network -> projects/other-project/global/networks/cloud-test-1
    1 - network peering team--byoc-gcp on projects/other-project/global/networks/cloud-test-1 -> projects/emq-x-cloud/global/networks/emqxbyoc-xxxx-network
    2 - firewall peerctl-team--byoc-gcp-a in project emq-x-cloud
    3 - firewall peerctl-team--byoc-gcp-b in project other-project
    ");
    assert!(plan_of(&spec, &fresh()).is_empty());
}

#[test]
fn refuses_overlapping_ranges_and_two_auto_mode_networks() {
    let spec = crate::load("spec.yaml", SPEC).expect("valid");
    let mut state = fresh();
    state.gcp[1].subnetworks[0].ranges.push("10.0.8.0/24".parse().expect("cidr"));
    insta::assert_snapshot!(plan(&spec, &state).expect_err("overlap").to_string(), @"
    spec.yaml:5:11: peering `byoc-gcp`: projects/emq-x-cloud/global/networks/emqxbyoc-xxxx-network (10.0.0.0/20) overlaps projects/other-project/global/networks/cloud-test-1 (10.0.8.0/24)
      hint: peered networks need disjoint subnet ranges; re-address one of them
    ");
    let mut state = fresh();
    state.gcp[0].networks[0].auto_mode = true;
    state.gcp[1].networks[0].auto_mode = true;
    insta::assert_snapshot!(plan(&spec, &state).expect_err("auto mode").to_string(), @"
    spec.yaml:5:11: peering `byoc-gcp`: projects/emq-x-cloud/global/networks/emqxbyoc-xxxx-network and projects/other-project/global/networks/cloud-test-1 are both auto-mode networks, which cannot peer
      hint: convert one of them to custom mode
    ");
    state.gcp[1].networks.clear();
    insta::assert_snapshot!(plan(&spec, &state).expect_err("missing").to_string(), @"
    spec.yaml:5:11: peering `byoc-gcp`: no network projects/other-project/global/networks/cloud-test-1
      hint: check the network and project names, and that the credentials can read the project
    ");
}

#[test]
fn reports_entries_of_this_owner_missing_from_the_spec() {
    let mut state = converged();
    state.gcp[0].networks[0].peerings.push(GcpPeeringEntry {
        name: "team--old-link".into(),
        state: "INACTIVE".into(),
        ..entry(services(), default_flags())
    });
    let plan = plan_of(SPEC, &state);
    assert!(plan.is_empty());
    assert_eq!(plan.unmanaged.len(), 1);
    assert_eq!(plan.unmanaged[0].peering, "old-link");
}

#[test]
fn refuses_owner_and_name_too_long_for_gcp_names() {
    let long = SPEC.replace("owner: team", &format!("owner: {}", "o".repeat(50)));
    insta::assert_snapshot!(crate::load("spec.yaml", &long).expect_err("too long").to_string(), @"
    spec.yaml:5:11: owner and name of GCP peering `byoc-gcp` are too long together (60 of at most 53 characters)
      hint: GCP names are at most 63 characters and peerctl names firewall rules `peerctl-OWNER--PEERING-a`; shorten the name or the owner
    ");
    let dashes = SPEC.replace("owner: team", "owner: my--team");
    insta::assert_snapshot!(crate::load("spec.yaml", &dashes).expect_err("dashes").to_string(), @"
    spec.yaml:2:8: owner `my--team` contains `--`
      hint: peerctl names GCP peerings `OWNER--PEERING`; use single dashes in the owner
    ");
}

fn with_old_link() -> State {
    let mut state = converged();
    let old = |peer| GcpPeeringEntry { name: "team--old-link".into(), ..entry(peer, default_flags()) };
    state.gcp[0].networks[0].peerings.push(old(services()));
    state.gcp[1].networks[0].peerings.push(old(byoc()));
    let rule = GcpFirewall {
        description: "peerctl owner=team peering=old-link".into(),
        ..firewall("peerctl-team--old-link-a", byoc(), "10.8.0.0/20")
    };
    state.gcp[0].firewalls.push(rule);
    let other_owner = GcpPeeringEntry { name: "other--old-link".into(), ..entry(services(), default_flags()) };
    state.gcp[0].networks[0].peerings.push(other_owner);
    state
}

#[test]
fn prune_removes_both_entries_and_rules_of_an_owned_peering_gone_from_the_spec() {
    let spec = crate::load("spec.yaml", SPEC).expect("valid spec");
    let options = crate::planner::Options { prune: true, targets: vec![] };
    let plan = crate::planner::plan_with(&spec, &with_old_link(), &options).expect("plan");
    assert_eq!(
        show(&plan),
        "0 - network peering team--old-link on projects/emq-x-cloud/global/networks/emqxbyoc-xxxx-network -> projects/other-project/global/networks/cloud-test-1
1 - network peering team--old-link on projects/other-project/global/networks/cloud-test-1 -> projects/emq-x-cloud/global/networks/emqxbyoc-xxxx-network
2 - firewall peerctl-team--old-link-a in project emq-x-cloud"
    );
    assert!(plan.steps.iter().all(|s| s.peering == "old-link" && s.reason.contains("--prune")));
    assert!(plan.unmanaged.is_empty(), "pruned, not listed");
    let without = plan_of(SPEC, &with_old_link());
    assert!(without.is_empty() && without.unmanaged.len() == 2, "without --prune: listed only ({:?})", without.unmanaged);
}

#[test]
fn target_limits_the_plan_to_the_named_peerings() {
    let two = format!(
        "{SPEC}  - name: second\n    gcp:\n      network: emqxbyoc-xxxx-network\n      peer_network: projects/other-project/global/networks/cloud-test-2\n"
    );
    let mut state = fresh();
    state.gcp[1].networks.push(GcpNetworkState { name: "cloud-test-2".into(), auto_mode: false, peerings: vec![] });
    let spec = crate::load("spec.yaml", &two).expect("valid spec");
    let only = |targets: &[&str]| {
        let options = crate::planner::Options { prune: false, targets: targets.iter().map(|t| t.to_string()).collect() };
        crate::planner::plan_with(&spec, &state, &options)
    };
    let plan = only(&["second"]).expect("plan");
    assert!(plan.steps.iter().all(|s| s.peering == "second") && !plan.steps.is_empty());
    assert_eq!(plan.peerings.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["second"]);
    let error = only(&["secnod"]).expect_err("unknown target").to_string();
    assert!(error.contains("--target secnod: no peering of that name"), "{error}");
}

#[test]
fn a_foreign_rule_with_peerctls_name_is_a_conflict_not_overwritten() {
    let mut state = converged();
    state.gcp[0].firewalls[0].description = "made by hand".into();
    state.gcp[0].firewalls[0].source_ranges = vec!["0.0.0.0/0".parse().expect("cidr")];
    let plan = plan_of(SPEC, &state);
    assert!(plan.steps.is_empty(), "{}", show(&plan));
    assert_eq!(plan.conflicts.len(), 1);
    assert!(plan.conflicts[0].message.contains("has peerctl's name but is not this peering's"), "{}", plan.conflicts[0].message);
}

/// A rule from `0.0.0.0/0` could only come from a peer range of `/0`, which
/// overlaps every range: the overlap check refuses it before any rule is planned.
#[test]
fn never_opens_ports_to_the_whole_address_space() {
    let mut state = fresh();
    state.gcp[1].subnetworks[0].ranges = vec!["0.0.0.0/0".parse().expect("cidr")];
    state.gcp[0].subnetworks[0].ranges = vec!["10.0.0.0/20".parse().expect("cidr")];
    let spec = crate::load("spec.yaml", SPEC).expect("valid spec");
    let error = plan(&spec, &state).expect_err("refused").to_string();
    assert!(error.contains("overlaps") && error.contains("(0.0.0.0/0)"), "{error}");
}

// Adoption: existing entries under their own names.

const ADOPTED: &str = "      adopt: {network: byoc-to-test, peer_network: test-to-byoc}\n      allow: []\n";

/// `converged()` as made by hand: entries under other names, no firewalls of peerctl.
fn hand_made() -> State {
    let mut state = converged();
    state.gcp[0].networks[0].peerings[0].name = "byoc-to-test".into();
    state.gcp[1].networks[0].peerings[0].name = "test-to-byoc".into();
    state.gcp.iter_mut().for_each(|p| p.firewalls.clear());
    state
}

#[test]
fn adopted_entries_are_this_peerings_under_their_own_names() {
    let spec = format!("{SPEC}{ADOPTED}");
    let plan = plan_of(&spec, &hand_made());
    assert!(plan.is_empty() && plan.conflicts.is_empty(), "{}", show(&plan));
    assert_eq!(plan.peerings[0].status.as_deref(), Some("active"));
    let plain = plan_of(&format!("{SPEC}      allow: []\n"), &hand_made());
    assert_eq!(plain.conflicts.len(), 2, "without adopt both entries are foreign: {}", show(&plain));
}

#[test]
fn an_adopted_peering_is_repaired_and_removed_under_its_adopted_names() {
    let mut state = hand_made();
    state.gcp[1].networks[0].peerings.clear();
    state.gcp[0].networks[0].peerings[0].flags.import_custom_routes = true;
    let plan = plan_of(&format!("{SPEC}{ADOPTED}"), &state);
    insta::assert_snapshot!(show(&plan), @"
    0 ~ network peering byoc-to-test on projects/emq-x-cloud/global/networks/emqxbyoc-xxxx-network: flags now export_subnet_routes_with_public_ip
    1 + network peering test-to-byoc on projects/other-project/global/networks/cloud-test-1 -> projects/emq-x-cloud/global/networks/emqxbyoc-xxxx-network (import_subnet_routes_with_public_ip)
    ");
    let absent = SPEC.replace("  - name: byoc-gcp\n", "  - name: byoc-gcp\n    absent: true\n");
    let plan = plan_of(&format!("{absent}{ADOPTED}"), &hand_made());
    insta::assert_snapshot!(show(&plan), @"
    0 - network peering byoc-to-test on projects/emq-x-cloud/global/networks/emqxbyoc-xxxx-network -> projects/other-project/global/networks/cloud-test-1
    1 - network peering test-to-byoc on projects/other-project/global/networks/cloud-test-1 -> projects/emq-x-cloud/global/networks/emqxbyoc-xxxx-network
    ");
}

/// `fresh()` with `n` peerings (to networks of no spec) on the BYOC network.
fn crowded(n: usize) -> State {
    let mut state = fresh();
    let entries = (0..n).map(|i| GcpPeeringEntry {
        name: format!("hand-made-{i}"),
        peer: net("elsewhere", &format!("net-{i}")),
        state: "ACTIVE".into(),
        flags: GcpRouteFlags::default(),
    });
    state.gcp[0].networks[0].peerings.extend(entries);
    state
}

#[test]
fn refuses_a_twenty_sixth_peering_on_a_network() {
    let spec = crate::load("spec.yaml", SPEC).expect("valid spec");
    assert!(plan(&spec, &crowded(24)).is_ok());
    insta::assert_snapshot!(plan(&spec, &crowded(25)).expect_err("over the limit").to_string(), @r#"
    spec.yaml:5:11: peering `byoc-gcp`: network projects/emq-x-cloud/global/networks/emqxbyoc-xxxx-network would have 26 peerings (25 now, 1 more planned); GCP allows 25 per network
      hint: ask Google Cloud for a higher "peerings per network" limit (the console's Quotas page, NETWORK_PEERINGS_PER_NETWORK), or peer this network with fewer networks
    "#);
}

#[test]
fn re_pointing_an_entry_on_a_full_network_stays_within_the_limit() {
    let mut state = crowded(24);
    state.gcp[0].networks[0].peerings.push(entry(net("other-project", "old-peer"), default_flags()));
    let plan = plan_of(SPEC, &state);
    assert!(show(&plan).contains("- network peering team--byoc-gcp on projects/emq-x-cloud"), "{}", show(&plan));
}

#[test]
fn an_imported_hand_made_gcp_peering_plans_nothing() {
    let state = hand_made();
    let imported = crate::import::gcp(&state, "team", "emq-x-cloud", None);
    insta::assert_snapshot!(imported.text, @"
    # Written by `peerctl import gcp --project emq-x-cloud`: the peerings that exist, each with `adopt`,
    # so peerctl manages them under the names they have. Review, then `peerctl plan`.
    version: 1
    owner: team
    gcp:
      project: emq-x-cloud
    peerings:
      - name: byoc-to-test
        gcp:
          adopt: {network: byoc-to-test, peer_network: test-to-byoc}
          network: emqxbyoc-xxxx-network
          peer_network: projects/other-project/global/networks/cloud-test-1
          # existing firewall rules stay as they are; rules listed here are added as peerctl's own
          allow: []
    ");
    let plan = plan_of(&imported.text, &state);
    assert!(plan.is_empty() && plan.conflicts.is_empty(), "{}", show(&plan));
    assert_eq!(plan.peerings[0].status.as_deref(), Some("active"));
}
