//! Table tests of the AWS planner, and snapshots of the plan renderers.
//!
//! Most tests start from one of two worlds in us-east-1 — `fresh()` (two VPCs,
//! nothing peered) or `converged()` (the peering fully in place) — change one
//! thing, and check the plan. `show` prints a plan one step per line so the
//! expected plans read like the CLI's output.

use crate::plan::{Action, AwsEnd, ConnectionRef, ConnectionSide, Plan};
use crate::render::{self, Style};
use crate::state::{ConnectionStatus, Permission, State, Tags, connection_tags, rule_description};
use build::*;

mod build {
    use crate::plan::Plan;
    use crate::planner::plan;
    use crate::render;
    use crate::spec::{ALL_TCP, AwsScope, Spec};
    use crate::state::*;
    use ipnet::IpNet;

    pub const OWNER: &str = "byoc-prod";
    pub const NAME: &str = "byoc-to-services";
    pub const ACCOUNT: &str = "111111111111";
    pub const PCX: &str = "pcx-11111111";
    pub const REQUESTER: &str = "{vpc: vpc-aaaaaaaa, security_groups: [sg-aaaaaaaa]}";
    pub const ACCEPTER: &str = "{vpc: {name: services-vpc}, security_groups: [{name: services}]}";

    /// A spec of `owner: byoc-prod` in us-east-1; `peerings` starts at line 5.
    pub fn spec(peerings: &str) -> Spec {
        let text = format!("version: 1\nowner: {OWNER}\naws: {{region: us-east-1}}\npeerings:\n{peerings}");
        crate::load("spec.yaml", &text).unwrap_or_else(|e| panic!("the test spec is invalid:\n{e}"))
    }

    /// One peering; `extra` holds more lines of its `aws:` section (six spaces in).
    pub fn peering(name: &str, requester: &str, accepter: &str, extra: &str) -> String {
        format!("  - name: {name}\n    aws:\n      requester: {requester}\n      accepter: {accepter}\n{extra}")
    }

    /// The usual peering: both VPCs' route tables, one group on each side, all TCP.
    pub fn basic(extra: &str) -> Spec {
        spec(&peering(NAME, REQUESTER, ACCEPTER, extra))
    }

    pub fn net(text: &str) -> IpNet {
        text.parse().unwrap_or_else(|_| panic!("bad range {text}"))
    }

    pub fn scope(region: &str) -> AwsScope {
        AwsScope { region: region.into(), ..AwsScope::default() }
    }

    pub fn vpc(id: &str, name: &str, account: &str, cidrs: &[&str], ipv6: &[&str]) -> Vpc {
        Vpc {
            id: id.into(),
            name: Some(name.into()),
            owner_id: account.into(),
            cidrs: cidrs.iter().map(|c| net(c)).collect(),
            ipv6_cidrs: ipv6.iter().map(|c| net(c)).collect(),
        }
    }

    pub fn table(id: &str, vpc_id: &str, name: &str, routes: Vec<Route>) -> RouteTable {
        RouteTable { id: id.into(), vpc_id: vpc_id.into(), name: Some(name.into()), routes }
    }

    pub fn route(destination: &str, target: &str) -> Route {
        Route { destination: net(destination), target: target.into(), state: "active".into() }
    }

    pub fn group(id: &str, vpc_id: &str, name: &str) -> SecurityGroup {
        SecurityGroup { id: id.into(), vpc_id: vpc_id.into(), name: name.into() }
    }

    /// An inbound all-TCP rule from `source`.
    pub fn ingress(id: &str, group_id: &str, source: &str, tags: Tags) -> SecurityGroupRule {
        SecurityGroupRule {
            id: id.into(),
            group_id: group_id.into(),
            egress: false,
            permission: Permission::from(ALL_TCP),
            source: Some(net(source)),
            description: None,
            tags,
        }
    }

    pub fn owned(peering: &str) -> Tags {
        owned_by(OWNER, peering)
    }

    pub fn owned_by(owner: &str, peering: &str) -> Tags {
        Tags::from([(TAG_OWNER.into(), owner.into()), (TAG_PEERING.into(), peering.into()), ("Name".into(), peering.into())])
    }

    pub fn foreign() -> Tags {
        Tags::from([("Name".into(), "hand-made".into())])
    }

    /// A connection from vpc-aaaaaaaa to vpc-bbbbbbbb in us-east-1; DNS options
    /// are only known once it is active.
    pub fn connection(id: &str, status: &str, tags: Tags) -> Connection {
        let dns = (status == "active").then_some(false);
        let end = |vpc: &str| ConnectionEnd {
            vpc_id: vpc.into(),
            owner_id: ACCOUNT.into(),
            region: "us-east-1".into(),
            allow_dns_resolution: dns,
        };
        Connection {
            id: id.into(),
            status: ConnectionStatus::parse(status),
            requester: end("vpc-aaaaaaaa"),
            accepter: end("vpc-bbbbbbbb"),
            tags,
        }
    }

    /// Requester vpc-aaaaaaaa (10.0/16 and secondary 10.10/16, two route tables,
    /// groups `byoc` and `default`) and accepter vpc-bbbbbbbb `services-vpc`
    /// (10.1/16, one table, group `services`), nothing peered.
    pub fn fresh() -> State {
        let locals = |cidrs: &[&str]| cidrs.iter().map(|c| route(c, "local")).collect::<Vec<_>>();
        let mut public = locals(&["10.0.0.0/16", "10.10.0.0/16"]);
        public.push(route("0.0.0.0/0", "igw-aaaaaaaa"));
        let self_reference = SecurityGroupRule { source: None, ..ingress("sgr-aaaaaaa0", "sg-aaaaaaa2", "0.0.0.0/0", Tags::new()) };
        State {
            aws: vec![AwsRegionState {
                scope: scope("us-east-1"),
                vpcs: vec![
                    vpc("vpc-aaaaaaaa", "byoc-vpc", ACCOUNT, &["10.0.0.0/16", "10.10.0.0/16"], &["2600:1f18:aaaa:aa00::/56"]),
                    vpc("vpc-bbbbbbbb", "services-vpc", ACCOUNT, &["10.1.0.0/16"], &["2600:1f18:bbbb:bb00::/56"]),
                ],
                route_tables: vec![
                    table("rtb-aaaaaaa1", "vpc-aaaaaaaa", "byoc-private", locals(&["10.0.0.0/16", "10.10.0.0/16"])),
                    table("rtb-aaaaaaa2", "vpc-aaaaaaaa", "byoc-public", public),
                    table("rtb-bbbbbbb1", "vpc-bbbbbbbb", "services-main", locals(&["10.1.0.0/16"])),
                ],
                security_groups: vec![
                    group("sg-aaaaaaaa", "vpc-aaaaaaaa", "byoc"),
                    group("sg-aaaaaaa2", "vpc-aaaaaaaa", "default"),
                    group("sg-bbbbbbbb", "vpc-bbbbbbbb", "services"),
                ],
                rules: vec![self_reference],
                connections: vec![],
            }],
            gcp: Vec::new(),
        }
    }

    /// `fresh()` with the usual peering fully in place through pcx-11111111.
    pub fn converged() -> State {
        let mut state = fresh();
        let region = state.region("us-east-1");
        region.connections.push(connection(PCX, "active", owned(NAME)));
        region.rules.extend([
            ingress("sgr-aaaaaaa1", "sg-aaaaaaaa", "10.1.0.0/16", owned(NAME)),
            ingress("sgr-bbbbbbb1", "sg-bbbbbbbb", "10.0.0.0/16", owned(NAME)),
            ingress("sgr-bbbbbbb2", "sg-bbbbbbbb", "10.10.0.0/16", owned(NAME)),
        ]);
        state.table("rtb-aaaaaaa1").routes.push(route("10.1.0.0/16", PCX));
        state.table("rtb-aaaaaaa2").routes.push(route("10.1.0.0/16", PCX));
        state.table("rtb-bbbbbbb1").routes.extend([route("10.0.0.0/16", PCX), route("10.10.0.0/16", PCX)]);
        state
    }

    /// Small edits of a state, by id.
    pub trait Edit {
        fn region(&mut self, region: &str) -> &mut AwsRegionState;
        fn table(&mut self, id: &str) -> &mut RouteTable;
        fn vpc(&mut self, id: &str) -> &mut Vpc;
        fn connection(&mut self, id: &str) -> &mut Connection;
        fn remove_route(&mut self, table: &str, destination: &str);
        fn remove_rule(&mut self, id: &str);
    }

    fn find<'a, T>(items: impl Iterator<Item = &'a mut T>, found: impl Fn(&T) -> bool, what: &str) -> &'a mut T {
        items.into_iter().find(|item| found(item)).unwrap_or_else(|| panic!("no {what} in the test state"))
    }

    impl Edit for State {
        fn region(&mut self, region: &str) -> &mut AwsRegionState {
            find(self.aws.iter_mut(), |r| r.scope.region == region, region)
        }
        fn table(&mut self, id: &str) -> &mut RouteTable {
            find(self.aws.iter_mut().flat_map(|r| &mut r.route_tables), |t| t.id == id, id)
        }
        fn vpc(&mut self, id: &str) -> &mut Vpc {
            find(self.aws.iter_mut().flat_map(|r| &mut r.vpcs), |v| v.id == id, id)
        }
        fn connection(&mut self, id: &str) -> &mut Connection {
            find(self.aws.iter_mut().flat_map(|r| &mut r.connections), |c| c.id == id, id)
        }
        fn remove_route(&mut self, table: &str, destination: &str) {
            let destination = net(destination);
            self.table(table).routes.retain(|r| r.destination != destination);
        }
        fn remove_rule(&mut self, id: &str) {
            self.aws.iter_mut().for_each(|r| r.rules.retain(|rule| rule.id != id));
        }
    }

    /// Plans, and holds every plan to the order invariant: a step only waits for earlier steps.
    pub fn plan_of(spec: &Spec, state: &State) -> Plan {
        let plan = plan(spec, state).unwrap_or_else(|e| panic!("planning failed:\n{e}"));
        for (index, step) in plan.steps.iter().enumerate() {
            assert!(step.depends_on.iter().all(|&d| d < index), "step {index} depends on a later step: {:?}", step.depends_on);
        }
        plan
    }

    /// The diagnostics of a plan that cannot be made.
    pub fn errors(spec: &Spec, state: &State) -> String {
        plan(spec, state).expect_err("planning should fail").to_string()
    }

    /// One line per step (index, symbol, object, the steps it waits for), then
    /// conflicts (`!`) and unmanaged connections (`?`). Steps name their
    /// peering when the spec has more than one.
    pub fn show(plan: &Plan) -> String {
        let several = plan.peerings.len() > 1;
        let mut lines = Vec::new();
        for (index, step) in plan.steps.iter().enumerate() {
            let peering = if several { format!("[{}] ", step.peering) } else { String::new() };
            let after = if step.depends_on.is_empty() { String::new() } else { format!("  (after {:?})", step.depends_on) };
            lines.push(format!("{index} {peering}{} {}{after}", step.action.kind().symbol(), render::describe_step(plan, step)));
        }
        lines.extend(plan.conflicts.iter().map(|c| format!("! [{}] {}", c.peering, c.message)));
        lines.extend(plan.unmanaged.iter().map(|u| format!("? {} {} ({})", u.peering, u.connection, u.status)));
        lines.join("\n")
    }
}

// Nothing exists yet.

#[test]
fn creates_tagged_connection_accepts_it_and_adds_routes_and_rules_both_ways() {
    let plan = plan_of(&basic(""), &fresh());
    insta::assert_snapshot!(show(&plan), @"
    0 + peering connection vpc-aaaaaaaa (111111111111, us-east-1) -> vpc-bbbbbbbb (111111111111, us-east-1) [Name=byoc-to-services, peerctl:owner=byoc-prod, peerctl:peering=byoc-to-services]
    1 ~ accept pcx-(known after apply) in us-east-1  (after [0])
    2 + route rtb-aaaaaaa1 10.1.0.0/16 -> pcx-(known after apply)  (after [1])
    3 + route rtb-aaaaaaa2 10.1.0.0/16 -> pcx-(known after apply)  (after [1])
    4 + route rtb-bbbbbbb1 10.0.0.0/16 -> pcx-(known after apply)  (after [1])
    5 + route rtb-bbbbbbb1 10.10.0.0/16 -> pcx-(known after apply)  (after [1])
    6 + ingress rule sg-aaaaaaaa tcp all ports from 10.1.0.0/16
    7 + ingress rule sg-bbbbbbbb tcp all ports from 10.0.0.0/16
    8 + ingress rule sg-bbbbbbbb tcp all ports from 10.10.0.0/16
    ");
    let Action::AwsCreateConnection { requester, accepter } = &*plan.steps[0].action else { panic!("first step creates the connection") };
    assert_eq!(connection_tags(&plan.owner, &plan.steps[0].peering), owned(NAME), "tagged as this owner's and peering's");
    assert_eq!(requester, &AwsEnd { scope: scope("us-east-1"), vpc: "vpc-aaaaaaaa".into(), account: ACCOUNT.into() });
    assert_eq!(accepter.vpc, "vpc-bbbbbbbb");
    assert_eq!(
        *plan.steps[1].action,
        Action::AwsAcceptConnection { scope: scope("us-east-1"), connection: ConnectionRef::CreatedByStep(0) }
    );
    assert_eq!(plan.steps[1].depends_on, vec![0]);
}

#[test]
fn routes_wait_for_acceptance_and_rules_wait_for_nothing() {
    let plan = plan_of(&basic(""), &fresh());
    for step in &plan.steps {
        match &*step.action {
            Action::AwsCreateRoute { connection, .. } => {
                assert_eq!(connection, &ConnectionRef::CreatedByStep(0));
                assert_eq!(step.depends_on, vec![1]);
            }
            Action::AwsAuthorizeIngress { .. } => {
                assert_eq!(step.peering, NAME);
                assert_eq!(rule_description(&plan.owner, &step.peering), "peerctl:byoc-prod/byoc-to-services");
                assert!(step.depends_on.is_empty());
            }
            _ => {}
        }
    }
}

#[test]
fn routes_only_in_the_selected_route_tables() {
    let requester = "{vpc: vpc-aaaaaaaa, route_tables: [{name: byoc-private}]}";
    let accepter = "{vpc: vpc-bbbbbbbb, route_tables: [rtb-bbbbbbb1]}";
    let plan = plan_of(&spec(&peering(NAME, requester, accepter, "")), &fresh());
    insta::assert_snapshot!(show(&plan), @"
    0 + peering connection vpc-aaaaaaaa (111111111111, us-east-1) -> vpc-bbbbbbbb (111111111111, us-east-1) [Name=byoc-to-services, peerctl:owner=byoc-prod, peerctl:peering=byoc-to-services]
    1 ~ accept pcx-(known after apply) in us-east-1  (after [0])
    2 + route rtb-aaaaaaa1 10.1.0.0/16 -> pcx-(known after apply)  (after [1])
    3 + route rtb-bbbbbbb1 10.0.0.0/16 -> pcx-(known after apply)  (after [1])
    4 + route rtb-bbbbbbb1 10.10.0.0/16 -> pcx-(known after apply)  (after [1])
    ");
}

#[test]
fn plans_each_object_once_when_the_spec_names_it_by_id_and_by_name() {
    let requester = "{vpc: vpc-aaaaaaaa, route_tables: [rtb-aaaaaaa1, {name: byoc-private}], security_groups: [sg-aaaaaaaa, {name: byoc}]}";
    let plan = plan_of(&spec(&peering(NAME, requester, "{vpc: vpc-bbbbbbbb, route_tables: []}", "")), &fresh());
    insta::assert_snapshot!(show(&plan), @"
    0 + peering connection vpc-aaaaaaaa (111111111111, us-east-1) -> vpc-bbbbbbbb (111111111111, us-east-1) [Name=byoc-to-services, peerctl:owner=byoc-prod, peerctl:peering=byoc-to-services]
    1 ~ accept pcx-(known after apply) in us-east-1  (after [0])
    2 + route rtb-aaaaaaa1 10.1.0.0/16 -> pcx-(known after apply)  (after [1])
    3 + ingress rule sg-aaaaaaaa tcp all ports from 10.1.0.0/16
    ");
}

#[test]
fn opens_no_security_group_unless_one_is_selected() {
    let plan = plan_of(&spec(&peering(NAME, "{vpc: vpc-aaaaaaaa}", "{vpc: vpc-bbbbbbbb, route_tables: all}", "")), &fresh());
    assert!(plan.steps.iter().all(|s| !matches!(*s.action, Action::AwsAuthorizeIngress { .. })), "{}", show(&plan));
    assert_eq!(plan.steps.len(), 6, "{}", show(&plan));
}

#[test]
fn allows_every_rule_from_every_peer_cidr() {
    let allow = "      allow: [{protocol: udp, ports: 8000-9000}, {protocol: tcp, ports: 443}, {protocol: icmp}, {protocol: all}]\n";
    let plan = plan_of(&basic(allow), &fresh());
    let rules: Vec<String> = plan
        .steps
        .iter()
        .filter(|s| matches!(*s.action, Action::AwsAuthorizeIngress { .. }))
        .map(|s| render::describe(&s.action))
        .collect();
    insta::assert_snapshot!(rules.join("\n"), @"
    ingress rule sg-aaaaaaaa udp ports 8000-9000 from 10.1.0.0/16
    ingress rule sg-aaaaaaaa tcp port 443 from 10.1.0.0/16
    ingress rule sg-aaaaaaaa icmp from 10.1.0.0/16
    ingress rule sg-aaaaaaaa all traffic from 10.1.0.0/16
    ingress rule sg-bbbbbbbb udp ports 8000-9000 from 10.0.0.0/16
    ingress rule sg-bbbbbbbb udp ports 8000-9000 from 10.10.0.0/16
    ingress rule sg-bbbbbbbb tcp port 443 from 10.0.0.0/16
    ingress rule sg-bbbbbbbb tcp port 443 from 10.10.0.0/16
    ingress rule sg-bbbbbbbb icmp from 10.0.0.0/16
    ingress rule sg-bbbbbbbb icmp from 10.10.0.0/16
    ingress rule sg-bbbbbbbb all traffic from 10.0.0.0/16
    ingress rule sg-bbbbbbbb all traffic from 10.10.0.0/16
    ");
}

#[test]
fn sets_dns_resolution_on_both_sides_only_when_asked() {
    let plan = plan_of(&basic("      dns_resolution: true\n"), &fresh());
    let dns: Vec<_> = plan.steps.iter().filter(|s| matches!(*s.action, Action::AwsSetDnsResolution { .. })).collect();
    assert_eq!(dns.len(), 2, "{}", show(&plan));
    for (step, side) in dns.iter().zip([ConnectionSide::Requester, ConnectionSide::Accepter]) {
        let expected =
            Action::AwsSetDnsResolution { scope: scope("us-east-1"), connection: ConnectionRef::CreatedByStep(0), side, allow: true };
        assert_eq!(*step.action, expected);
        assert_eq!(step.depends_on, vec![1]);
    }
    let plan = plan_of(&basic("      dns_resolution: false\n"), &fresh());
    assert!(plan.steps.iter().all(|s| !matches!(*s.action, Action::AwsSetDnsResolution { .. })));
}

#[test]
fn reports_a_fresh_peering_without_connection() {
    let plan = plan_of(&basic(""), &fresh());
    assert_eq!(plan.peerings.len(), 1);
    assert_eq!((plan.peerings[0].name.as_str(), plan.peerings[0].connection.as_deref()), (NAME, None));
    assert_eq!(plan.summary(), crate::plan::Summary { add: 8, change: 1, destroy: 0 });
}

// Everything is in place.

#[test]
fn plans_nothing_when_everything_is_in_place() {
    let plan = plan_of(&basic(""), &converged());
    assert!(plan.is_empty(), "{}", show(&plan));
    assert!(plan.conflicts.is_empty() && plan.unmanaged.is_empty());
    assert_eq!(plan.peerings[0].connection.as_deref(), Some(PCX));
    assert_eq!(plan.peerings[0].status.as_deref(), Some("active"));
}

#[test]
fn plans_nothing_when_dns_resolution_is_already_allowed_both_ways() {
    let mut state = converged();
    let connection = state.connection(PCX);
    connection.requester.allow_dns_resolution = Some(true);
    connection.accepter.allow_dns_resolution = Some(true);
    let plan = plan_of(&basic("      dns_resolution: true\n"), &state);
    assert!(plan.is_empty(), "{}", show(&plan));
}

// Partly in place: only what is missing.

#[test]
fn creates_only_the_route_missing_on_one_side() {
    let mut state = converged();
    state.remove_route("rtb-bbbbbbb1", "10.10.0.0/16");
    insta::assert_snapshot!(show(&plan_of(&basic(""), &state)), @"0 + route rtb-bbbbbbb1 10.10.0.0/16 -> pcx-11111111");
}

#[test]
fn authorizes_only_the_missing_rule() {
    let mut state = converged();
    state.remove_rule("sgr-aaaaaaa1");
    insta::assert_snapshot!(show(&plan_of(&basic(""), &state)), @"0 + ingress rule sg-aaaaaaaa tcp all ports from 10.1.0.0/16");
}

#[test]
fn sets_dns_resolution_only_on_the_side_that_differs() {
    let mut state = converged();
    state.connection(PCX).requester.allow_dns_resolution = Some(true);
    let plan = plan_of(&basic("      dns_resolution: true\n"), &state);
    insta::assert_snapshot!(show(&plan), @"0 ~ dns resolution from remote vpc on pcx-11111111 (accepter side, us-east-1): false -> true");
    assert_eq!(plan.steps[0].action.aws_scope(), Some(&scope("us-east-1")));
}

#[test]
fn turns_dns_resolution_off_when_the_spec_no_longer_asks_for_it() {
    let mut state = converged();
    state.connection(PCX).accepter.allow_dns_resolution = Some(true);
    insta::assert_snapshot!(show(&plan_of(&basic(""), &state)), @"0 ~ dns resolution from remote vpc on pcx-11111111 (accepter side, us-east-1): true -> false");
}

// The connection's life cycle.

#[test]
fn accepts_owned_pending_connection_instead_of_creating_another() {
    let mut state = converged();
    *state.connection(PCX) = connection(PCX, "pending-acceptance", owned(NAME));
    let plan = plan_of(&basic(""), &state);
    insta::assert_snapshot!(show(&plan), @"0 ~ accept pcx-11111111 in us-east-1");
    assert_eq!(plan.peerings[0].status.as_deref(), Some("pending-acceptance"));
}

#[test]
fn routes_through_a_pending_connection_wait_for_its_acceptance() {
    let mut state = fresh();
    state.region("us-east-1").connections.push(connection(PCX, "pending-acceptance", owned(NAME)));
    let plan = plan_of(&basic("      allow: []\n"), &state);
    insta::assert_snapshot!(show(&plan), @"
    0 ~ accept pcx-11111111 in us-east-1
    1 + route rtb-aaaaaaa1 10.1.0.0/16 -> pcx-11111111  (after [0])
    2 + route rtb-aaaaaaa2 10.1.0.0/16 -> pcx-11111111  (after [0])
    3 + route rtb-bbbbbbb1 10.0.0.0/16 -> pcx-11111111  (after [0])
    4 + route rtb-bbbbbbb1 10.10.0.0/16 -> pcx-11111111  (after [0])
    ");
}

#[test]
fn uses_a_connection_on_its_way_up_without_creating_another() {
    for status in ["initiating-request", "provisioning"] {
        let mut state = converged();
        *state.connection(PCX) = connection(PCX, status, owned(NAME));
        let plan = plan_of(&basic(""), &state);
        assert!(plan.is_empty(), "{status}: {}", show(&plan));
        assert_eq!(plan.peerings[0].status.as_deref(), Some(status));
    }
}

#[test]
fn creates_a_new_connection_when_the_owned_one_is_gone() {
    for status in ["failed", "rejected", "expired", "deleted", "deleting"] {
        let mut state = fresh();
        state.region("us-east-1").connections.push(connection("pcx-0000dead", status, owned(NAME)));
        let plan = plan_of(&basic("      allow: []\n"), &state);
        assert!(matches!(*plan.steps[0].action, Action::AwsCreateConnection { .. }), "{status}: {}", show(&plan));
        assert_eq!(plan.steps.len(), 6, "{status}: {}", show(&plan));
        assert_eq!(plan.peerings[0].connection, None, "{status}");
        assert!(plan.conflicts.is_empty() && plan.unmanaged.is_empty(), "{status}");
    }
}

#[test]
fn replaces_routes_still_pointing_at_the_failed_connection() {
    let mut state = converged();
    state.connection(PCX).status = ConnectionStatus::Failed;
    let plan = plan_of(&basic(""), &state);
    insta::assert_snapshot!(show(&plan), @"
    0 + peering connection vpc-aaaaaaaa (111111111111, us-east-1) -> vpc-bbbbbbbb (111111111111, us-east-1) [Name=byoc-to-services, peerctl:owner=byoc-prod, peerctl:peering=byoc-to-services]
    1 ~ accept pcx-(known after apply) in us-east-1  (after [0])
    2 ~ route rtb-aaaaaaa1 10.1.0.0/16 -> pcx-(known after apply) (was pcx-11111111)  (after [1])
    3 ~ route rtb-aaaaaaa2 10.1.0.0/16 -> pcx-(known after apply) (was pcx-11111111)  (after [1])
    4 ~ route rtb-bbbbbbb1 10.0.0.0/16 -> pcx-(known after apply) (was pcx-11111111)  (after [1])
    5 ~ route rtb-bbbbbbb1 10.10.0.0/16 -> pcx-(known after apply) (was pcx-11111111)  (after [1])
    ");
    let replaced = plan.steps.iter().find(|s| matches!(*s.action, Action::AwsReplaceRoute { .. })).expect("a replacement");
    assert_eq!(replaced.depends_on, vec![1]);
}

#[test]
fn ignores_a_dead_foreign_connection_between_the_same_vpcs() {
    let mut state = fresh();
    state.region("us-east-1").connections.push(connection("pcx-0000dead", "rejected", foreign()));
    let plan = plan_of(&basic(""), &state);
    assert!(plan.conflicts.is_empty());
    assert!(matches!(*plan.steps[0].action, Action::AwsCreateConnection { .. }));
}

// Foreign objects in the way.

#[test]
fn reports_a_foreign_connection_between_the_same_vpcs_and_plans_nothing() {
    let mut state = fresh();
    state.region("us-east-1").connections.push(connection("pcx-0000beef", "active", foreign()));
    let plan = plan_of(&basic(""), &state);
    insta::assert_snapshot!(show(&plan), @"! [byoc-to-services] peering connection pcx-0000beef (active) already joins vpc-aaaaaaaa and vpc-bbbbbbbb and is not managed by peerctl");
    assert_eq!(plan.peerings[0].connection.as_deref(), Some("pcx-0000beef"));
}

#[test]
fn reports_a_connection_of_another_peering_of_the_same_owner() {
    let mut state = fresh();
    state.region("us-east-1").connections.push(connection("pcx-0000beef", "pending-acceptance", owned("old-name")));
    let plan = plan_of(&basic(""), &state);
    insta::assert_snapshot!(show(&plan), @"
    ! [byoc-to-services] peering connection pcx-0000beef (pending-acceptance) already joins vpc-aaaaaaaa and vpc-bbbbbbbb and belongs to peering `old-name` of owner `byoc-prod`
    ? old-name pcx-0000beef (pending-acceptance)
    ");
}

#[test]
fn reports_a_connection_of_this_peering_made_the_other_way_round() {
    let mut state = fresh();
    let mut reversed = connection("pcx-0000beef", "active", owned(NAME));
    std::mem::swap(&mut reversed.requester, &mut reversed.accepter);
    state.region("us-east-1").connections.push(reversed);
    let plan = plan_of(&basic(""), &state);
    assert!(plan.steps.is_empty(), "{}", show(&plan));
    assert_eq!(plan.conflicts.len(), 1);
}

#[test]
fn reports_a_foreign_route_to_the_same_destination_and_leaves_it() {
    let mut state = converged();
    state.remove_route("rtb-aaaaaaa2", "10.1.0.0/16");
    state.table("rtb-aaaaaaa2").routes.push(route("10.1.0.0/16", "igw-aaaaaaaa"));
    insta::assert_snapshot!(show(&plan_of(&basic(""), &state)), @"! [byoc-to-services] route table rtb-aaaaaaa2 already sends 10.1.0.0/16 to igw-aaaaaaaa, which peerctl does not own");
}

#[test]
fn reports_an_identical_foreign_rule_and_leaves_it() {
    let mut state = converged();
    state.remove_rule("sgr-bbbbbbb2");
    state.region("us-east-1").rules.push(ingress("sgr-0000beef", "sg-bbbbbbbb", "10.10.0.0/16", Tags::new()));
    insta::assert_snapshot!(show(&plan_of(&basic(""), &state)), @"! [byoc-to-services] security group sg-bbbbbbbb already allows tcp all ports from 10.10.0.0/16 (rule sgr-0000beef, is not managed by peerctl)");
}

#[test]
fn reports_a_rule_of_another_owner_as_a_conflict() {
    let mut state = converged();
    state.remove_rule("sgr-bbbbbbb2");
    state.region("us-east-1").rules.push(ingress("sgr-0000beef", "sg-bbbbbbbb", "10.10.0.0/16", owned_by("someone-else", NAME)));
    let plan = plan_of(&basic(""), &state);
    assert!(plan.steps.is_empty(), "{}", show(&plan));
    insta::assert_snapshot!(plan.conflicts[0].message, @"security group sg-bbbbbbbb already allows tcp all ports from 10.10.0.0/16 (rule sgr-0000beef, belongs to peering `byoc-to-services` of owner `someone-else`)");
}

#[test]
fn refuses_to_guess_about_an_unknown_connection_status() {
    let mut state = converged();
    state.connection(PCX).status = ConnectionStatus::parse("quarantined");
    let plan = plan_of(&basic(""), &state);
    insta::assert_snapshot!(show(&plan), @"! [byoc-to-services] peering connection pcx-11111111 has status `quarantined`, which peerctl does not know; resolve it by hand");
    assert_eq!(plan.peerings[0].status.as_deref(), Some("quarantined"));
}

// What peerctl added and the spec no longer wants.

#[test]
fn deletes_owned_route_to_a_cidr_the_peer_no_longer_has() {
    let mut state = converged();
    state.vpc("vpc-aaaaaaaa").cidrs.retain(|c| *c != net("10.10.0.0/16"));
    state.remove_route("rtb-aaaaaaa1", "10.10.0.0/16");
    state.remove_route("rtb-aaaaaaa2", "10.10.0.0/16");
    state.remove_rule("sgr-bbbbbbb2");
    insta::assert_snapshot!(show(&plan_of(&basic(""), &state)), @"0 - route rtb-bbbbbbb1 10.10.0.0/16 -> pcx-11111111");
}

#[test]
fn deletes_owned_routes_in_tables_no_longer_selected() {
    let requester = "{vpc: vpc-aaaaaaaa, route_tables: [rtb-aaaaaaa1], security_groups: [sg-aaaaaaaa]}";
    let plan = plan_of(&spec(&peering(NAME, requester, ACCEPTER, "")), &converged());
    insta::assert_snapshot!(show(&plan), @"0 - route rtb-aaaaaaa2 10.1.0.0/16 -> pcx-11111111");
}

#[test]
fn revokes_owned_rule_for_a_removed_allow_entry() {
    let mut state = converged();
    let mut https = ingress("sgr-aaaaaaa3", "sg-aaaaaaaa", "10.1.0.0/16", owned(NAME));
    https.permission = Permission::normalized("6", Some(443), Some(443));
    state.region("us-east-1").rules.push(https);
    insta::assert_snapshot!(show(&plan_of(&basic(""), &state)), @"0 - ingress rule sg-aaaaaaaa tcp port 443 from 10.1.0.0/16 (sgr-aaaaaaa3)");
}

#[test]
fn revokes_owned_rules_of_groups_no_longer_selected() {
    let plan =
        plan_of(&spec(&peering(NAME, "{vpc: vpc-aaaaaaaa, security_groups: [sg-aaaaaaaa]}", "{vpc: vpc-bbbbbbbb}", "")), &converged());
    insta::assert_snapshot!(show(&plan), @"
    0 - ingress rule sg-bbbbbbbb tcp all ports from 10.0.0.0/16 (sgr-bbbbbbb1)
    1 - ingress rule sg-bbbbbbbb tcp all ports from 10.10.0.0/16 (sgr-bbbbbbb2)
    ");
}

#[test]
fn never_touches_foreign_routes_and_rules() {
    let mut state = converged();
    let region = state.region("us-east-1");
    region.rules.push(ingress("sgr-0000f001", "sg-aaaaaaaa", "192.168.0.0/16", Tags::new()));
    region.rules.push(ingress("sgr-0000f002", "sg-aaaaaaaa", "172.16.0.0/12", owned("another-peering")));
    region.rules.push(ingress("sgr-0000f003", "sg-aaaaaaaa", "172.31.0.0/16", owned_by("another-owner", NAME)));
    state.table("rtb-aaaaaaa1").routes.push(route("192.168.0.0/16", "pcx-0000f00d"));
    state.table("rtb-aaaaaaa1").routes.push(route("172.16.0.0/12", "tgw-0000f00d"));
    let plan = plan_of(&basic(""), &state);
    assert!(plan.is_empty() && plan.conflicts.is_empty(), "{}", show(&plan));
}

// `absent: true`.

fn absent_spec() -> crate::spec::Spec {
    basic("    absent: true\n")
}

#[test]
fn absent_peering_removes_routes_and_rules_before_the_connection() {
    let plan = plan_of(&absent_spec(), &converged());
    insta::assert_snapshot!(show(&plan), @"
    0 - route rtb-aaaaaaa1 10.1.0.0/16 -> pcx-11111111
    1 - route rtb-aaaaaaa2 10.1.0.0/16 -> pcx-11111111
    2 - route rtb-bbbbbbb1 10.0.0.0/16 -> pcx-11111111
    3 - route rtb-bbbbbbb1 10.10.0.0/16 -> pcx-11111111
    4 - ingress rule sg-aaaaaaaa tcp all ports from 10.1.0.0/16 (sgr-aaaaaaa1)
    5 - ingress rule sg-bbbbbbbb tcp all ports from 10.0.0.0/16 (sgr-bbbbbbb1)
    6 - ingress rule sg-bbbbbbbb tcp all ports from 10.10.0.0/16 (sgr-bbbbbbb2)
    7 - peering connection pcx-11111111 in us-east-1  (after [0, 1, 2, 3, 4, 5, 6])
    ");
    let last = plan.steps.last().expect("steps");
    assert_eq!(*last.action, Action::AwsDeleteConnection { scope: scope("us-east-1"), connection: PCX.into() });
    assert_eq!(last.depends_on, (0..plan.steps.len() - 1).collect::<Vec<_>>());
}

#[test]
fn absent_peering_leaves_foreign_objects_alone() {
    let mut state = fresh();
    state.region("us-east-1").connections.push(connection("pcx-0000beef", "active", foreign()));
    state.region("us-east-1").connections.push(connection("pcx-0000cafe", "active", owned_by("another-owner", NAME)));
    state.table("rtb-aaaaaaa1").routes.push(route("10.1.0.0/16", "pcx-0000beef"));
    state.region("us-east-1").rules.push(ingress("sgr-0000beef", "sg-aaaaaaaa", "10.1.0.0/16", Tags::new()));
    state.region("us-east-1").rules.push(ingress("sgr-0000cafe", "sg-aaaaaaaa", "10.1.0.0/16", owned_by("another-owner", NAME)));
    let plan = plan_of(&absent_spec(), &state);
    assert!(plan.is_empty() && plan.conflicts.is_empty(), "{}", show(&plan));
    assert_eq!(plan.peerings[0].connection, None);
}

#[test]
fn absent_peering_with_nothing_owned_plans_nothing() {
    let plan = plan_of(&absent_spec(), &fresh());
    assert!(plan.is_empty(), "{}", show(&plan));
    assert!(plan.peerings[0].absent);
}

#[test]
fn absent_peering_cleans_up_after_a_dead_connection_without_deleting_it() {
    let mut state = converged();
    state.connection(PCX).status = ConnectionStatus::Deleted;
    let plan = plan_of(&absent_spec(), &state);
    assert_eq!(plan.steps.len(), 7, "{}", show(&plan));
    assert!(plan.steps.iter().all(|s| !matches!(*s.action, Action::AwsDeleteConnection { .. })));
}

#[test]
fn absent_peering_needs_neither_vpc_to_be_found() {
    let mut state = converged();
    state.region("us-east-1").vpcs.clear();
    let plan = plan_of(&absent_spec(), &state);
    assert!(matches!(plan.steps.last().map(|s| &*s.action), Some(Action::AwsDeleteConnection { .. })), "{}", show(&plan));
}

// Specs that cannot be planned.

#[test]
fn reports_a_vpc_id_that_does_not_exist_at_its_position() {
    let spec = spec(&peering(NAME, "{vpc: vpc-0000ffff}", "{vpc: vpc-bbbbbbbb}", ""));
    insta::assert_snapshot!(errors(&spec, &fresh()), @"
    spec.yaml:7:24: no VPC vpc-0000ffff in us-east-1
      hint: check the id, the region and the credentials (profile, role_arn) of this side
    ");
}

#[test]
fn reports_a_vpc_name_matching_no_vpc_or_two() {
    let mut state = fresh();
    state.vpc("vpc-aaaaaaaa").name = Some("services-vpc".into());
    let spec = spec(&peering(NAME, "{vpc: {name: byoc-vpc}}", "{vpc: {name: services-vpc}}", ""));
    insta::assert_snapshot!(errors(&spec, &state), @"
    spec.yaml:7:24: no VPC with Name tag `byoc-vpc` in us-east-1
      hint: check the Name tag, the region and the credentials of this side, or name it by id
    spec.yaml:8:23: 2 VPCs match {name: services-vpc} in us-east-1: vpc-aaaaaaaa, vpc-bbbbbbbb
      hint: name exactly one of them by id
    ");
}

#[test]
fn reports_a_route_table_name_matching_two_tables() {
    let mut state = fresh();
    state.table("rtb-aaaaaaa2").name = Some("byoc-private".into());
    let spec = spec(&peering(NAME, "{vpc: vpc-aaaaaaaa, route_tables: [{name: byoc-private}]}", ACCEPTER, ""));
    insta::assert_snapshot!(errors(&spec, &state), @"
    spec.yaml:7:53: 2 route tables match {name: byoc-private} of vpc-aaaaaaaa: rtb-aaaaaaa1, rtb-aaaaaaa2
      hint: name exactly one of them by id
    ");
}

#[test]
fn reports_a_route_table_of_another_vpc() {
    let spec = spec(&peering(NAME, "{vpc: vpc-aaaaaaaa, route_tables: [rtb-bbbbbbb1]}", ACCEPTER, ""));
    insta::assert_snapshot!(errors(&spec, &fresh()), @"
    spec.yaml:7:53: no route table rtb-bbbbbbb1 of vpc-aaaaaaaa
      hint: check the id, the region and the credentials (profile, role_arn) of this side
    ");
}

#[test]
fn reports_every_selector_problem_of_a_side_at_once() {
    let requester = "{vpc: vpc-aaaaaaaa, route_tables: [{name: nope}], security_groups: [{name: nope}]}";
    let spec = spec(&peering(NAME, requester, "{vpc: {name: nope}}", ""));
    insta::assert_snapshot!(errors(&spec, &fresh()), @"
    spec.yaml:7:53: no route table with Name tag `nope` of vpc-aaaaaaaa
      hint: check the Name tag, the region and the credentials of this side, or name it by id
    spec.yaml:7:86: no security group with group name `nope` of vpc-aaaaaaaa
      hint: check the group name, the region and the credentials of this side, or name it by id
    spec.yaml:8:23: no VPC with Name tag `nope` in us-east-1
      hint: check the Name tag, the region and the credentials of this side, or name it by id
    ");
}

#[test]
fn reports_a_region_that_was_not_read() {
    let spec = spec(&peering(NAME, "{vpc: vpc-aaaaaaaa}", "{vpc: vpc-bbbbbbbb, region: eu-west-1}", ""));
    insta::assert_snapshot!(errors(&spec, &fresh()), @"spec.yaml:8:17: accepter of `byoc-to-services`: nothing was read for eu-west-1");
}

#[test]
fn refuses_overlapping_cidrs_between_the_two_sides() {
    let mut state = fresh();
    state.vpc("vpc-bbbbbbbb").cidrs = vec![net("10.0.128.0/17")];
    insta::assert_snapshot!(errors(&basic(""), &state), @"
    spec.yaml:5:11: peering `byoc-to-services`: requester vpc-aaaaaaaa (10.0.0.0/16) overlaps accepter vpc-bbbbbbbb (10.0.128.0/17)
      hint: peered VPCs need disjoint address ranges; peer another VPC or re-address one of them
    ");
}

#[test]
fn refuses_overlap_through_a_secondary_cidr() {
    let mut state = fresh();
    state.vpc("vpc-bbbbbbbb").cidrs.push(net("10.10.0.0/24"));
    insta::assert_snapshot!(errors(&basic(""), &state), @"
    spec.yaml:5:11: peering `byoc-to-services`: requester vpc-aaaaaaaa (10.10.0.0/16) overlaps accepter vpc-bbbbbbbb (10.10.0.0/24)
      hint: peered VPCs need disjoint address ranges; peer another VPC or re-address one of them
    ");
}

#[test]
fn refuses_two_peerings_routing_overlapping_cidrs_in_one_table() {
    let mut state = fresh();
    let region = state.region("us-east-1");
    region.vpcs.push(vpc("vpc-cccccccc", "spoke-c", ACCOUNT, &["10.1.0.0/20"], &[]));
    region.route_tables.push(table("rtb-ccccccc1", "vpc-cccccccc", "spoke-c", vec![]));
    let hub = "{vpc: vpc-aaaaaaaa, route_tables: [rtb-aaaaaaa1]}";
    let peerings = peering("hub-to-b", hub, "{vpc: vpc-bbbbbbbb}", "") + &peering("hub-to-c", hub, "{vpc: vpc-cccccccc}", "");
    insta::assert_snapshot!(errors(&spec(&peerings), &state), @"
    spec.yaml:9:11: peering `hub-to-c` would route 10.1.0.0/20 in rtb-aaaaaaa1, where peering `hub-to-b` routes 10.1.0.0/16
      hint: the VPCs peered with one VPC need disjoint ranges; re-address one of them or drop one peering
    ");
}

// IPv6.

#[test]
fn routes_and_allows_ipv6_cidrs_only_when_asked() {
    let plan = plan_of(&basic("      ipv6: true\n"), &converged());
    insta::assert_snapshot!(show(&plan), @"
    0 + route rtb-aaaaaaa1 2600:1f18:bbbb:bb00::/56 -> pcx-11111111
    1 + route rtb-aaaaaaa2 2600:1f18:bbbb:bb00::/56 -> pcx-11111111
    2 + route rtb-bbbbbbb1 2600:1f18:aaaa:aa00::/56 -> pcx-11111111
    3 + ingress rule sg-aaaaaaaa tcp all ports from 2600:1f18:bbbb:bb00::/56
    4 + ingress rule sg-bbbbbbbb tcp all ports from 2600:1f18:aaaa:aa00::/56
    ");
    assert!(plan_of(&basic("      ipv6: false\n"), &converged()).is_empty());
}

#[test]
fn deletes_owned_ipv6_routes_and_rules_when_ipv6_is_turned_off() {
    let mut state = converged();
    state.table("rtb-bbbbbbb1").routes.push(route("2600:1f18:aaaa:aa00::/56", PCX));
    state.region("us-east-1").rules.push(ingress("sgr-bbbbbbb6", "sg-bbbbbbbb", "2600:1f18:aaaa:aa00::/56", owned(NAME)));
    insta::assert_snapshot!(show(&plan_of(&basic(""), &state)), @"
    0 - route rtb-bbbbbbb1 2600:1f18:aaaa:aa00::/56 -> pcx-11111111
    1 - ingress rule sg-bbbbbbbb tcp all ports from 2600:1f18:aaaa:aa00::/56 (sgr-bbbbbbb6)
    ");
}

#[test]
fn checks_ipv6_overlap_only_when_asked() {
    let mut state = fresh();
    state.vpc("vpc-bbbbbbbb").ipv6_cidrs = vec![net("2600:1f18:aaaa:aa00::/64")];
    assert!(plan_of(&basic(""), &state).conflicts.is_empty());
    insta::assert_snapshot!(errors(&basic("      ipv6: true\n"), &state), @"
    spec.yaml:5:11: peering `byoc-to-services`: requester vpc-aaaaaaaa (2600:1f18:aaaa:aa00::/56) overlaps accepter vpc-bbbbbbbb (2600:1f18:aaaa:aa00::/64)
      hint: peered VPCs need disjoint address ranges; peer another VPC or re-address one of them
    ");
}

// An accepter in another account and region.

const ROLE: &str = "arn:aws:iam::222222222222:role/PeerCtl";

fn west() -> crate::spec::AwsScope {
    crate::spec::AwsScope { role_arn: Some(ROLE.into()), ..scope("us-west-2") }
}

/// `fresh()` plus vpc-cccccccc (10.2/16) in account 2222… in us-west-2, read through a role.
fn two_accounts() -> State {
    let mut state = fresh();
    state.aws.push(crate::state::AwsRegionState {
        scope: west(),
        vpcs: vec![vpc("vpc-cccccccc", "services-west", "222222222222", &["10.2.0.0/16"], &[])],
        route_tables: vec![table("rtb-ccccccc1", "vpc-cccccccc", "services-west", vec![route("10.2.0.0/16", "local")])],
        security_groups: vec![group("sg-cccccccc", "vpc-cccccccc", "services")],
        ..Default::default()
    });
    state
}

fn cross_spec() -> crate::spec::Spec {
    let accepter = format!("{{vpc: vpc-cccccccc, region: us-west-2, role_arn: \"{ROLE}\", security_groups: [{{name: services}}]}}");
    spec(&peering(NAME, "{vpc: vpc-aaaaaaaa, route_tables: [rtb-aaaaaaa1]}", &accepter, "      dns_resolution: true\n"))
}

#[test]
fn acts_on_each_side_of_a_cross_account_peering_with_that_sides_scope() {
    let plan = plan_of(&cross_spec(), &two_accounts());
    insta::assert_snapshot!(show(&plan), @"
    0 + peering connection vpc-aaaaaaaa (111111111111, us-east-1) -> vpc-cccccccc (222222222222, us-west-2 (role arn:aws:iam::222222222222:role/PeerCtl)) [Name=byoc-to-services, peerctl:owner=byoc-prod, peerctl:peering=byoc-to-services]
    1 ~ accept pcx-(known after apply) in us-west-2 (role arn:aws:iam::222222222222:role/PeerCtl)  (after [0])
    2 ~ dns resolution from remote vpc on pcx-(known after apply) (requester side, us-east-1): false -> true  (after [1])
    3 ~ dns resolution from remote vpc on pcx-(known after apply) (accepter side, us-west-2 (role arn:aws:iam::222222222222:role/PeerCtl)): false -> true  (after [1])
    4 + route rtb-aaaaaaa1 10.2.0.0/16 -> pcx-(known after apply)  (after [1])
    5 + route rtb-ccccccc1 10.0.0.0/16 -> pcx-(known after apply)  (after [1])
    6 + route rtb-ccccccc1 10.10.0.0/16 -> pcx-(known after apply)  (after [1])
    7 + ingress rule sg-cccccccc tcp all ports from 10.0.0.0/16
    8 + ingress rule sg-cccccccc tcp all ports from 10.10.0.0/16
    ");
    let Action::AwsCreateConnection { requester, accepter, .. } = &*plan.steps[0].action else { panic!("create first") };
    assert_eq!(requester, &AwsEnd { scope: scope("us-east-1"), vpc: "vpc-aaaaaaaa".into(), account: ACCOUNT.into() });
    assert_eq!(accepter, &AwsEnd { scope: west(), vpc: "vpc-cccccccc".into(), account: "222222222222".into() });
    let scopes: Vec<(String, &str)> = plan
        .steps
        .iter()
        .map(|s| (render::describe(&s.action), s.action.aws_scope().map(|x| x.region.as_str()).unwrap_or_default()))
        .collect();
    for (what, region) in &scopes {
        let west_side =
            what.starts_with("accept") || what.contains("rtb-ccccccc1") || what.contains("sg-cccccccc") || what.contains("accepter side");
        assert_eq!(*region, if west_side { "us-west-2" } else { "us-east-1" }, "{what}");
    }
    assert!(
        plan.steps
            .iter()
            .filter(|s| s.action.aws_scope().map(|x| x.region.as_str()).unwrap_or_default() == "us-west-2")
            .all(|s| s.action.aws_scope() == Some(&west()))
    );
}

#[test]
fn sees_a_cross_account_connection_read_from_both_sides_once() {
    let mut state = two_accounts();
    let mut pcx = connection(PCX, "active", owned(NAME));
    pcx.accepter = crate::state::ConnectionEnd {
        vpc_id: "vpc-cccccccc".into(),
        owner_id: "222222222222".into(),
        region: "us-west-2".into(),
        allow_dns_resolution: Some(true),
    };
    pcx.requester.allow_dns_resolution = Some(true);
    let seen_by_accepter = crate::state::Connection { tags: Default::default(), ..pcx.clone() };
    state.region("us-east-1").connections.push(pcx);
    state.region("us-west-2").connections.push(seen_by_accepter);
    state.table("rtb-aaaaaaa1").routes.push(route("10.2.0.0/16", PCX));
    state.table("rtb-ccccccc1").routes.extend([route("10.0.0.0/16", PCX), route("10.10.0.0/16", PCX)]);
    state.region("us-west-2").rules.extend([
        ingress("sgr-ccccccc1", "sg-cccccccc", "10.0.0.0/16", owned(NAME)),
        ingress("sgr-ccccccc2", "sg-cccccccc", "10.10.0.0/16", owned(NAME)),
    ]);
    let plan = plan_of(&cross_spec(), &state);
    assert!(plan.is_empty() && plan.conflicts.is_empty(), "{}", show(&plan));
    let absent =
        plan_of(&spec(&peering(NAME, "{vpc: vpc-aaaaaaaa}", "{vpc: vpc-cccccccc, region: us-west-2}", "    absent: true\n")), &state);
    insta::assert_snapshot!(show(&absent), @"
    0 - route rtb-aaaaaaa1 10.2.0.0/16 -> pcx-11111111
    1 - route rtb-ccccccc1 10.0.0.0/16 -> pcx-11111111
    2 - route rtb-ccccccc1 10.10.0.0/16 -> pcx-11111111
    3 - ingress rule sg-cccccccc tcp all ports from 10.0.0.0/16 (sgr-ccccccc1)
    4 - ingress rule sg-cccccccc tcp all ports from 10.10.0.0/16 (sgr-ccccccc2)
    5 - peering connection pcx-11111111 in us-east-1  (after [0, 1, 2, 3, 4])
    ");
}

// Owned connections the spec no longer names.

#[test]
fn reports_owned_connections_missing_from_the_spec_without_touching_them() {
    let mut state = converged();
    let region = state.region("us-east-1");
    let elsewhere = |id: &str, status: &str, tags: Tags| {
        let mut c = connection(id, status, tags);
        c.accepter.vpc_id = "vpc-0000ffff".into();
        c
    };
    let extra = [
        elsewhere("pcx-00000002", "active", owned("old-link")),
        elsewhere("pcx-00000003", "pending-acceptance", owned("another-link")),
        elsewhere("pcx-00000004", "failed", owned("old-link")),
        elsewhere("pcx-00000005", "active", owned_by("another-owner", "old-link")),
        elsewhere("pcx-00000006", "active", foreign()),
    ];
    region.connections.extend(extra);
    region.connections.push(region.connections[1].clone());
    let plan = plan_of(&basic(""), &state);
    assert!(plan.is_empty() && plan.conflicts.is_empty(), "{}", show(&plan));
    insta::assert_snapshot!(show(&plan), @"
    ? another-link pcx-00000003 (pending-acceptance)
    ? old-link pcx-00000002 (active)
    ");
}

// Determinism.

#[test]
fn same_inputs_give_the_same_plan() {
    let spec = basic("      dns_resolution: true\n      ipv6: true\n");
    let mut state = converged();
    state.connection(PCX).status = ConnectionStatus::Failed;
    state.table("rtb-aaaaaaa2").routes.push(route("10.77.0.0/16", PCX));
    let first = plan_of(&spec, &state);
    let second = plan_of(&spec, &state.clone());
    assert_eq!(first, second);
    assert_eq!(render::json(&first), render::json(&second));
}

#[test]
fn basis_follows_the_observed_state() {
    let (spec, state) = (basic(""), converged());
    let basis = plan_of(&spec, &state).basis;
    assert_eq!(basis.len(), 64);
    assert_eq!(plan_of(&spec, &state.clone()).basis, basis);
    let mut moved = state.clone();
    moved.table("rtb-bbbbbbb1").routes[0].state = "blackhole".into();
    assert_ne!(plan_of(&spec, &moved).basis, basis);
    assert_eq!(plan_of(&basic("      dns_resolution: false\n"), &state).basis, basis, "the basis is the state's, not the spec's");
}

#[test]
fn basis_is_the_sha256_of_the_state_in_postcard_however_it_is_chunked() {
    use sha2::Digest;
    let mut state = converged();
    let region = state.aws[0].clone();
    // Over the digest's 64 KiB buffer, so the state is hashed in several chunks.
    state.aws.extend(std::iter::repeat_n(region, 200));
    let encoded = postcard::to_extend(&state, Vec::new()).unwrap();
    assert!(encoded.len() > 3 << 16, "{} bytes", encoded.len());
    let expected: String = sha2::Sha256::digest(&encoded).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(state.fingerprint(), expected);
}

// Rendering.

/// A plan with a bit of everything: `byoc-to-services` has a new rule, a route to
/// replace, a DNS option to set, a stale route and rule, and a foreign route in
/// the way; `old-link` is absent and still has a connection; `analytics` is
/// new; one owned connection is unmanaged.
pub(crate) fn mixed_plan() -> Plan {
    let (spec, state) = mixed();
    plan_of(&spec, &state)
}

/// Every kind of change: three peerings, one of them absent and one new.
fn mixed() -> (crate::spec::Spec, State) {
    let mut state = converged();
    state.connection(PCX).status = ConnectionStatus::Failed;
    *state.table("rtb-aaaaaaa1") =
        table("rtb-aaaaaaa1", "vpc-aaaaaaaa", "byoc-private", vec![route("10.0.0.0/16", "local"), route("10.1.0.0/16", "igw-aaaaaaaa")]);
    state.table("rtb-aaaaaaa2").routes.push(route("10.99.0.0/16", PCX));
    state.remove_rule("sgr-bbbbbbb2");
    let region = state.region("us-east-1");
    region.connections.push(connection("pcx-22222222", "active", owned(NAME)));
    region.connections.last_mut().expect("just pushed").requester.allow_dns_resolution = Some(true);
    let mut https = ingress("sgr-aaaaaaa3", "sg-aaaaaaaa", "10.1.0.0/16", owned(NAME));
    https.permission = Permission::normalized("tcp", Some(443), Some(443));
    region.rules.push(https);
    let mut old = connection("pcx-33333333", "active", owned("old-link"));
    old.accepter.vpc_id = "vpc-0000ffff".into();
    region.connections.push(old);
    region.route_tables.push(table("rtb-0000ffff", "vpc-0000ffff", "old", vec![route("10.0.0.0/16", "pcx-33333333")]));
    let mut unmanaged = connection("pcx-44444444", "active", owned("forgotten"));
    unmanaged.accepter.vpc_id = "vpc-0000eeee".into();
    region.connections.push(unmanaged);
    region.vpcs.push(vpc("vpc-dddddddd", "analytics", ACCOUNT, &["10.3.0.0/16"], &[]));
    region.route_tables.push(table("rtb-ddddddd1", "vpc-dddddddd", "analytics", vec![route("10.3.0.0/16", "local")]));
    let present = peering(NAME, REQUESTER, ACCEPTER, "      dns_resolution: true\n");
    let absent = peering("old-link", "{vpc: vpc-aaaaaaaa}", "{vpc: vpc-0000ffff}", "    absent: true\n");
    let new = peering("analytics", "{vpc: vpc-dddddddd}", "{vpc: vpc-bbbbbbbb, route_tables: []}", "      allow: []\n");
    (spec(&(present + &absent + &new)), state)
}

#[test]
fn a_plan_made_in_pieces_is_the_plan_made_whole() {
    let options = crate::planner::Options::default();
    // Steps that depend on earlier ones and refer to connections made by them, in every piece.
    let (mixed_spec, state) = mixed();
    let whole = crate::planner::plan_steps(&mixed_spec, &state, &options, 1).expect("plan");
    assert!(whole.steps.iter().any(|s| matches!(s.action.clone().connection_mut(), Some(ConnectionRef::CreatedByStep(_)))));
    for pieces in 2..=4 {
        assert_eq!(crate::planner::plan_steps(&mixed_spec, &state, &options, pieces), Ok(whole.clone()), "in {pieces} pieces");
    }
    // Problems found across pieces: two peerings, in two pieces, routing overlapping ranges in one table.
    let mut state = fresh();
    let region = state.region("us-east-1");
    region.vpcs.push(vpc("vpc-cccccccc", "spoke-c", ACCOUNT, &["10.1.0.0/20"], &[]));
    region.route_tables.push(table("rtb-ccccccc1", "vpc-cccccccc", "spoke-c", vec![]));
    let hub = "{vpc: vpc-aaaaaaaa, route_tables: [rtb-aaaaaaa1]}";
    let overlapping = spec(&(peering("hub-to-b", hub, "{vpc: vpc-bbbbbbbb}", "") + &peering("hub-to-c", hub, "{vpc: vpc-cccccccc}", "")));
    let whole = crate::planner::plan_steps(&overlapping, &state, &options, 1).expect_err("overlap");
    assert_eq!(crate::planner::plan_steps(&overlapping, &state, &options, 2), Err(whole));
}

#[test]
fn mixed_plan_has_every_kind_of_change() {
    let plan = mixed_plan();
    insta::assert_snapshot!(show(&plan), @"
    0 [byoc-to-services] ~ dns resolution from remote vpc on pcx-22222222 (accepter side, us-east-1): false -> true
    1 [byoc-to-services] ~ route rtb-aaaaaaa2 10.1.0.0/16 -> pcx-22222222 (was pcx-11111111)
    2 [byoc-to-services] - route rtb-aaaaaaa2 10.99.0.0/16 -> pcx-11111111
    3 [byoc-to-services] ~ route rtb-bbbbbbb1 10.0.0.0/16 -> pcx-22222222 (was pcx-11111111)
    4 [byoc-to-services] ~ route rtb-bbbbbbb1 10.10.0.0/16 -> pcx-22222222 (was pcx-11111111)
    5 [byoc-to-services] - ingress rule sg-aaaaaaaa tcp port 443 from 10.1.0.0/16 (sgr-aaaaaaa3)
    6 [byoc-to-services] + ingress rule sg-bbbbbbbb tcp all ports from 10.10.0.0/16
    7 [old-link] - route rtb-0000ffff 10.0.0.0/16 -> pcx-33333333
    8 [old-link] - peering connection pcx-33333333 in us-east-1  (after [7])
    9 [analytics] + peering connection vpc-dddddddd (111111111111, us-east-1) -> vpc-bbbbbbbb (111111111111, us-east-1) [Name=analytics, peerctl:owner=byoc-prod, peerctl:peering=analytics]
    10 [analytics] ~ accept pcx-(known after apply) in us-east-1  (after [9])
    11 [analytics] + route rtb-ddddddd1 10.1.0.0/16 -> pcx-(known after apply)  (after [10])
    ! [byoc-to-services] route table rtb-aaaaaaa1 already sends 10.1.0.0/16 to igw-aaaaaaaa, which peerctl does not own
    ? forgotten pcx-44444444 (active)
    ");
    let summary = plan.summary();
    assert!(summary.add > 0 && summary.change > 0 && summary.destroy > 0 && !plan.conflicts.is_empty());
}

#[test]
fn renders_a_mixed_plan_as_text() {
    insta::assert_snapshot!(render::text(&mixed_plan(), Style { color: false }));
}

#[test]
fn renders_a_mixed_plan_as_json() {
    let plan = mixed_plan();
    // The digest changes whenever the state's shape does; the tests above hold what it means.
    insta::assert_snapshot!(render::json(&plan).replace(&plan.basis, "[sha256 of the state]"));
}

#[test]
fn renders_a_mixed_plan_as_markdown() {
    insta::assert_snapshot!(render::markdown(&mixed_plan()));
}

#[test]
fn renders_a_converged_plan_as_markdown() {
    insta::assert_snapshot!(render::markdown(&plan_of(&basic(""), &converged())));
}

#[test]
fn keeps_markdown_of_odd_names_inside_their_table_cell_and_code_span() {
    let mut plan = mixed_plan();
    let odd = "a|b `c` *d* <e>";
    plan.peerings[0].name = odd.into();
    plan.steps.iter_mut().filter(|s| s.peering == NAME).for_each(|s| s.peering = odd.into());
    plan.conflicts[0].peering = odd.into();
    plan.conflicts[0].message = "route to `x_y|z` via *igw_1* <b>".into();
    let markdown = render::markdown(&plan);
    let lines: Vec<&str> = markdown.lines().filter(|l| l.contains("a|b") || l.contains("a\\|b") || l.contains("x_y")).collect();
    insta::assert_snapshot!(lines.join("\n"));
}

#[test]
fn renders_a_converged_plan_as_no_changes() {
    let plan = plan_of(&basic(""), &converged());
    insta::assert_snapshot!(render::text(&plan, Style { color: false }), @"

    No changes. Live state matches the spec.
    ");
}

#[test]
fn describes_dns_changes_without_altering_the_case_of_ids_and_roles() {
    let action = Action::AwsSetDnsResolution {
        scope: west(),
        connection: ConnectionRef::Id("pcx-0A1B".into()),
        side: ConnectionSide::Accepter,
        allow: true,
    };
    insta::assert_snapshot!(render::describe(&action), @"dns resolution from remote vpc on pcx-0A1B (accepter side, us-west-2 (role arn:aws:iam::222222222222:role/PeerCtl)): false -> true");
}

#[test]
fn colours_symbols_only_when_asked() {
    let plan = plan_of(&basic(""), &fresh());
    assert!(!render::text(&plan, Style { color: false }).contains('\x1b'));
    assert!(render::text(&plan, Style { color: true }).contains("\x1b[32m+\x1b[0m"));
}

// Connections of this peering that the spec no longer describes.

#[test]
fn moving_the_accepter_removes_the_old_connection_its_routes_and_rules() {
    let mut state = converged();
    let region = state.region("us-east-1");
    region.vpcs.push(vpc("vpc-cccccccc", "new-services-vpc", ACCOUNT, &["10.2.0.0/16"], &[]));
    region.route_tables.push(table("rtb-ccccccc1", "vpc-cccccccc", "new-main", vec![]));
    region.security_groups.push(group("sg-cccccccc", "vpc-cccccccc", "new-services"));
    let spec = spec(&peering(NAME, REQUESTER, "{vpc: vpc-cccccccc, security_groups: [sg-cccccccc]}", ""));
    let plan = plan_of(&spec, &state);
    insta::assert_snapshot!(show(&plan), @"
    0 + peering connection vpc-aaaaaaaa (111111111111, us-east-1) -> vpc-cccccccc (111111111111, us-east-1) [Name=byoc-to-services, peerctl:owner=byoc-prod, peerctl:peering=byoc-to-services]
    1 ~ accept pcx-(known after apply) in us-east-1  (after [0])
    2 + route rtb-aaaaaaa1 10.2.0.0/16 -> pcx-(known after apply)  (after [1])
    3 + route rtb-aaaaaaa2 10.2.0.0/16 -> pcx-(known after apply)  (after [1])
    4 + route rtb-ccccccc1 10.0.0.0/16 -> pcx-(known after apply)  (after [1])
    5 + route rtb-ccccccc1 10.10.0.0/16 -> pcx-(known after apply)  (after [1])
    6 + ingress rule sg-aaaaaaaa tcp all ports from 10.2.0.0/16
    7 - ingress rule sg-aaaaaaaa tcp all ports from 10.1.0.0/16 (sgr-aaaaaaa1)
    8 + ingress rule sg-cccccccc tcp all ports from 10.0.0.0/16
    9 + ingress rule sg-cccccccc tcp all ports from 10.10.0.0/16
    10 - route rtb-aaaaaaa1 10.1.0.0/16 -> pcx-11111111
    11 - route rtb-aaaaaaa2 10.1.0.0/16 -> pcx-11111111
    12 - route rtb-bbbbbbb1 10.0.0.0/16 -> pcx-11111111
    13 - route rtb-bbbbbbb1 10.10.0.0/16 -> pcx-11111111
    14 - ingress rule sg-bbbbbbbb tcp all ports from 10.0.0.0/16 (sgr-bbbbbbb1)
    15 - ingress rule sg-bbbbbbbb tcp all ports from 10.10.0.0/16 (sgr-bbbbbbb2)
    16 - peering connection pcx-11111111 in us-east-1  (after [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15])
    ");
}

#[test]
fn a_duplicate_owned_connection_is_deleted_after_its_routes_move() {
    let mut state = converged();
    state.region("us-east-1").connections.push(connection("pcx-22222222", "active", owned(NAME)));
    state.table("rtb-bbbbbbb1").routes.retain(|r| r.destination != net("10.10.0.0/16"));
    state.table("rtb-bbbbbbb1").routes.push(route("10.10.0.0/16", "pcx-22222222"));
    let plan = plan_of(&basic(""), &state);
    insta::assert_snapshot!(show(&plan), @"
    0 ~ route rtb-bbbbbbb1 10.10.0.0/16 -> pcx-11111111 (was pcx-22222222)
    1 - peering connection pcx-22222222 in us-east-1  (after [0])
    ");
}

// Adoption: `adopt: pcx-…` takes over a connection made by hand.

/// `converged()` as a person would have built it by hand: nothing tagged.
fn hand_made() -> State {
    let mut state = converged();
    state.connection(PCX).tags = foreign();
    state.aws.iter_mut().flat_map(|r| &mut r.rules).for_each(|rule| rule.tags.clear());
    state
}

const ADOPT: &str = "      adopt: pcx-11111111\n";

/// The plan that adopts `hand_made()`, for the plan schema's tests.
pub(crate) fn adoption_plan() -> Plan {
    plan_of(&basic(ADOPT), &hand_made())
}

#[test]
fn adopting_a_hand_made_peering_only_tags_it_and_its_matching_rules() {
    let plan = plan_of(&basic(ADOPT), &hand_made());
    insta::assert_snapshot!(show(&plan), @"
    0 ~ tags of pcx-11111111 in us-east-1 (adopted): add peerctl:owner=byoc-prod, peerctl:peering=byoc-to-services
    1 ~ tags of sgr-aaaaaaa1 in us-east-1 (adopted): add peerctl:owner=byoc-prod, peerctl:peering=byoc-to-services
    2 ~ tags of sgr-bbbbbbb1 in us-east-1 (adopted): add peerctl:owner=byoc-prod, peerctl:peering=byoc-to-services
    3 ~ tags of sgr-bbbbbbb2 in us-east-1 (adopted): add peerctl:owner=byoc-prod, peerctl:peering=byoc-to-services
    ");
    assert_eq!(plan.peerings[0].connection.as_deref(), Some(PCX));
}

#[test]
fn adopting_names_the_connection_when_it_has_no_name() {
    let mut state = hand_made();
    state.connection(PCX).tags.clear();
    let plan = plan_of(&basic(ADOPT), &state);
    let Action::AwsTag { tags, .. } = &*plan.steps[0].action else { panic!("{}", show(&plan)) };
    assert_eq!(tags.get("Name").map(String::as_str), Some(NAME));
}

#[test]
fn adopting_completes_what_the_hand_made_peering_lacks() {
    let mut state = hand_made();
    state.remove_route("rtb-aaaaaaa2", "10.1.0.0/16");
    state.remove_rule("sgr-bbbbbbb2");
    let plan = plan_of(&basic(ADOPT), &state);
    insta::assert_snapshot!(show(&plan), @"
    0 ~ tags of pcx-11111111 in us-east-1 (adopted): add peerctl:owner=byoc-prod, peerctl:peering=byoc-to-services
    1 + route rtb-aaaaaaa2 10.1.0.0/16 -> pcx-11111111
    2 ~ tags of sgr-aaaaaaa1 in us-east-1 (adopted): add peerctl:owner=byoc-prod, peerctl:peering=byoc-to-services
    3 ~ tags of sgr-bbbbbbb1 in us-east-1 (adopted): add peerctl:owner=byoc-prod, peerctl:peering=byoc-to-services
    4 + ingress rule sg-bbbbbbbb tcp all ports from 10.10.0.0/16
    ");
}

#[test]
fn an_adopted_connection_once_tagged_plans_nothing() {
    assert!(plan_of(&basic(ADOPT), &converged()).is_empty());
}

#[test]
fn adopt_never_takes_over_what_another_owner_tagged() {
    let mut state = hand_made();
    state.connection(PCX).tags = owned_by("someone-else", NAME);
    let plan = plan_of(&basic(ADOPT), &state);
    assert!(plan.steps.is_empty(), "{}", show(&plan));
    insta::assert_snapshot!(plan.conflicts[0].message, @"peering connection pcx-11111111 (active) already joins vpc-aaaaaaaa and vpc-bbbbbbbb and belongs to peering `byoc-to-services` of owner `someone-else`");

    let mut state = hand_made();
    state.region("us-east-1").rules.iter_mut().for_each(|r| r.tags = owned_by("someone-else", NAME));
    let plan = plan_of(&basic(ADOPT), &state);
    assert_eq!(plan.conflicts.len(), 3, "{}", show(&plan));
}

#[test]
fn adopt_of_no_live_connection_between_the_vpcs_is_an_error_at_its_position() {
    insta::assert_snapshot!(errors(&basic(ADOPT), &fresh()), @"
    spec.yaml:9:14: peering `byoc-to-services`: pcx-11111111 is not a live peering connection between vpc-aaaaaaaa and vpc-bbbbbbbb
      hint: check the id (`peerctl import aws` lists the connections); to have peerctl create a new connection instead, remove `adopt`
    ");
    let mut state = hand_made();
    state.connection(PCX).status = ConnectionStatus::Deleted;
    assert!(errors(&basic(ADOPT), &state).contains("is not a live peering connection"));
}

#[test]
fn adopt_leaves_other_foreign_connections_between_the_vpcs_in_conflict() {
    let mut state = hand_made();
    state.region("us-east-1").connections.push(connection("pcx-0000beef", "active", foreign()));
    let plan = plan_of(&basic(ADOPT), &state);
    assert!(plan.steps.is_empty(), "{}", show(&plan));
    assert!(plan.conflicts[0].message.contains("pcx-0000beef"), "{}", show(&plan));
}

// Limits the clouds enforce (planner/limits.rs): live objects, plus what the
// plan adds, minus what it removes, against AWS's default quotas.

/// `n` live connections between `vpc` and other VPCs (vpc-f0000000, …), not peerctl's.
fn peered_with(state: &mut State, vpc: &str, n: usize, status: &str) {
    for i in 0..n {
        let mut c = connection(&format!("pcx-f{i:07x}"), status, foreign());
        c.requester.vpc_id = format!("vpc-f{i:07x}");
        c.accepter.vpc_id = vpc.into();
        state.region("us-east-1").connections.push(c);
    }
}

/// `n` routes in `table` to ranges of no peer (172.16.i.0/24) through a gateway.
fn filler_routes(state: &mut State, table: &str, n: usize) {
    state.table(table).routes.extend((0..n).map(|i| route(&format!("172.16.{i}.0/24"), "igw-aaaaaaaa")));
}

/// `n` inbound rules in `group` from ranges of no peer (172.16.i.0/24).
fn filler_rules(state: &mut State, group: &str, n: usize) {
    let rules = (0..n).map(|i| ingress(&format!("sgr-f{i:07x}"), group, &format!("172.16.{i}.0/24"), Tags::new()));
    state.region("us-east-1").rules.extend(rules);
}

#[test]
fn refuses_a_connection_that_would_take_a_vpc_over_fifty() {
    let mut state = fresh();
    peered_with(&mut state, "vpc-bbbbbbbb", 50, "active");
    insta::assert_snapshot!(errors(&basic(""), &state), @r#"
    spec.yaml:5:11: peering `byoc-to-services`: vpc-bbbbbbbb in us-east-1 would have 51 peering connections (50 now, 1 more planned); AWS allows 50 active peering connections per VPC
      hint: raise "Active VPC peering connections per VPC" in Service Quotas (Amazon Virtual Private Cloud, up to 125) before applying, or peer this VPC with fewer VPCs
    "#);
}

#[test]
fn the_fiftieth_connection_is_allowed_and_dead_ones_do_not_count() {
    let mut state = fresh();
    peered_with(&mut state, "vpc-bbbbbbbb", 49, "active");
    plan_of(&basic(""), &state);
    let mut state = fresh();
    peered_with(&mut state, "vpc-bbbbbbbb", 60, "deleted");
    plan_of(&basic(""), &state);
}

#[test]
fn pending_connections_count_towards_the_vpc_limit() {
    let mut state = fresh();
    peered_with(&mut state, "vpc-bbbbbbbb", 50, "pending-acceptance");
    assert!(errors(&basic(""), &state).contains("would have 51 peering connections"));
}

#[test]
fn a_count_already_over_the_default_means_the_quota_was_raised() {
    let mut state = fresh();
    peered_with(&mut state, "vpc-bbbbbbbb", 51, "active");
    filler_routes(&mut state, "rtb-bbbbbbb1", 51);
    filler_rules(&mut state, "sg-bbbbbbbb", 61);
    plan_of(&basic(""), &state);
}

#[test]
fn blames_the_peering_that_crosses_the_vpc_limit() {
    let mut state = fresh();
    peered_with(&mut state, "vpc-bbbbbbbb", 49, "active");
    let region = state.region("us-east-1");
    region.vpcs.push(vpc("vpc-cccccccc", "other-vpc", ACCOUNT, &["10.2.0.0/16"], &[]));
    let second = peering("second", "{vpc: vpc-cccccccc, route_tables: []}", "{vpc: vpc-bbbbbbbb, route_tables: []}", "");
    let spec = spec(&format!("{}{second}", peering(NAME, REQUESTER, ACCEPTER, "")));
    insta::assert_snapshot!(errors(&spec, &state), @r#"
    spec.yaml:9:11: peering `second`: vpc-bbbbbbbb in us-east-1 would have 51 peering connections (49 now, 2 more planned); AWS allows 50 active peering connections per VPC
      hint: raise "Active VPC peering connections per VPC" in Service Quotas (Amazon Virtual Private Cloud, up to 125) before applying, or peer this VPC with fewer VPCs
    "#);
}

#[test]
fn refuses_routes_that_would_take_a_table_over_fifty_and_local_routes_do_not_count() {
    let mut state = fresh();
    filler_routes(&mut state, "rtb-bbbbbbb1", 48);
    plan_of(&basic(""), &state);
    state.table("rtb-bbbbbbb1").routes.push(route("172.17.0.0/24", "igw-aaaaaaaa"));
    insta::assert_snapshot!(errors(&basic(""), &state), @r#"
    spec.yaml:5:11: peering `byoc-to-services`: route table rtb-bbbbbbb1 of vpc-bbbbbbbb would hold 51 IPv4 routes (49 now, 2 more planned); AWS allows 50 per route table
      hint: raise "Routes per route table" in Service Quotas (Amazon Virtual Private Cloud, up to 1000) before applying, or route this peering through other tables (`route_tables:`)
    "#);
}

#[test]
fn routes_are_counted_per_ip_family() {
    let mut state = fresh();
    let v6 = (0..50).map(|i| route(&format!("2600:1f18:0:{i:x}::/64"), "igw-aaaaaaaa"));
    state.table("rtb-bbbbbbb1").routes.extend(v6);
    plan_of(&basic(""), &state);
    let message = errors(&basic("      ipv6: true\n"), &state);
    assert!(message.contains("rtb-bbbbbbb1 of vpc-bbbbbbbb would hold 51 IPv6 routes (50 now, 1 more planned)"), "{message}");
}

#[test]
fn routes_the_plan_deletes_make_room_for_those_it_adds() {
    // The peer moved from 10.1/16 to 10.2/16: one owned route goes, one comes, in a full table.
    let mut state = converged();
    filler_routes(&mut state, "rtb-aaaaaaa1", 49);
    state.vpc("vpc-bbbbbbbb").cidrs = vec![net("10.2.0.0/16")];
    let plan = plan_of(&basic(""), &state);
    assert!(show(&plan).contains("- route rtb-aaaaaaa1 10.1.0.0/16 -> pcx-11111111"), "{}", show(&plan));
    assert!(show(&plan).contains("+ route rtb-aaaaaaa1 10.2.0.0/16 -> pcx-11111111"), "{}", show(&plan));
}

#[test]
fn refuses_rules_that_would_take_a_group_over_sixty() {
    let mut state = fresh();
    filler_rules(&mut state, "sg-bbbbbbbb", 58);
    plan_of(&basic(""), &state);
    state.region("us-east-1").rules.push(ingress("sgr-0000cafe", "sg-bbbbbbbb", "172.17.0.0/24", Tags::new()));
    insta::assert_snapshot!(errors(&basic(""), &state), @r#"
    spec.yaml:5:11: peering `byoc-to-services`: security group sg-bbbbbbbb of vpc-bbbbbbbb would hold 61 inbound IPv4 rules (59 now, 2 more planned); AWS allows 60 per group
      hint: each `allow` rule is one rule per peer range; raise "Inbound or outbound rules per security group" in Service Quotas (Amazon Virtual Private Cloud) before applying, allow less (`allow:`), or open another group (`security_groups:`)
    "#);
}

#[test]
fn a_rule_from_a_group_counts_in_both_families() {
    let mut state = fresh();
    filler_rules(&mut state, "sg-bbbbbbbb", 58);
    let from_group = crate::state::SecurityGroupRule { source: None, ..ingress("sgr-0000beef", "sg-bbbbbbbb", "0.0.0.0/0", Tags::new()) };
    state.region("us-east-1").rules.push(from_group);
    assert!(errors(&basic(""), &state).contains("would hold 61 inbound IPv4 rules (59 now, 2 more planned)"));
}

#[test]
fn rules_the_plan_revokes_make_room_for_those_it_adds() {
    let mut state = converged();
    filler_rules(&mut state, "sg-aaaaaaaa", 59);
    state.vpc("vpc-bbbbbbbb").cidrs = vec![net("10.2.0.0/16")];
    let plan = plan_of(&basic(""), &state);
    assert!(show(&plan).contains("+ ingress rule sg-aaaaaaaa tcp all ports from 10.2.0.0/16"), "{}", show(&plan));
}

// `peerctl import`: the spec written from a hand-made peering plans only its tags.

#[test]
fn an_imported_hand_made_peering_plans_only_its_ownership_tags() {
    let state = hand_made();
    let imported = crate::import::aws(&state, OWNER, &scope("us-east-1"), None);
    insta::assert_snapshot!(imported.text, @"
    # Written by `peerctl import aws --region us-east-1`: the peerings that exist, each with `adopt`,
    # so the first apply only adds peerctl's ownership tags. Review, then `peerctl plan`.
    version: 1
    owner: byoc-prod
    aws:
      region: us-east-1
    peerings:
      - name: hand-made
        aws:
          adopt: pcx-11111111
          requester:
            vpc: vpc-aaaaaaaa
            route_tables: [rtb-aaaaaaa1, rtb-aaaaaaa2]
            security_groups: [sg-aaaaaaaa]
          accepter:
            vpc: vpc-bbbbbbbb
            route_tables: [rtb-bbbbbbb1]
            security_groups: [sg-bbbbbbbb]
          allow: [{protocol: tcp, ports: all}]
    ");
    let spec = crate::load("imported.yaml", &imported.text).unwrap_or_else(|e| panic!("{e}"));
    let plan = plan_of(&spec, &state);
    assert!(plan.conflicts.is_empty(), "{}", show(&plan));
    assert_eq!(plan.steps.len(), 4, "{}", show(&plan));
    assert!(plan.steps.iter().all(|s| matches!(*s.action, Action::AwsTag { .. })), "{}", show(&plan));
}

#[test]
fn import_skips_owned_connections_and_reads_only_what_touches_the_vpc() {
    let mut state = hand_made();
    state.region("us-east-1").connections.push(connection("pcx-22222222", "active", owned_by("someone", "theirs")));
    let imported = crate::import::aws(&state, OWNER, &scope("us-east-1"), None);
    assert_eq!(imported.peerings, 1);
    assert!(imported.text.contains("# note: pcx-22222222 already belongs to peerctl owner `someone`: not imported"), "{}", imported.text);
    let elsewhere = crate::import::aws(&state, OWNER, &scope("us-east-1"), Some("vpc-cccccccc"));
    assert_eq!(elsewhere.peerings, 0);
    crate::load("empty.yaml", &elsewhere.text).unwrap_or_else(|e| panic!("{e}\n{}", elsewhere.text));
}

#[test]
fn a_connection_pruned_in_the_same_plan_frees_its_place_at_the_vpc() {
    let mut state = fresh();
    peered_with(&mut state, "vpc-bbbbbbbb", 49, "active");
    let mut old = connection("pcx-0000dead", "active", owned("old-link"));
    old.requester.vpc_id = "vpc-0000dead".into();
    state.region("us-east-1").connections.push(old);
    assert!(errors(&basic(""), &state).contains("would have 51 peering connections (50 now, 1 more planned)"));
    let options = crate::planner::Options { prune: true, targets: Vec::new() };
    let plan = crate::planner::plan_with(&basic(""), &state, &options).unwrap_or_else(|e| panic!("{e}"));
    assert!(show(&plan).contains("- peering connection pcx-0000dead"), "{}", show(&plan));
}
