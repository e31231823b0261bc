//! The plan: ordered, fully specified actions, plus what stands in the way.

use crate::spec::{AwsScope, GcpNetwork, Rule};
use crate::state::{GcpRouteFlags, Permission, Tags};
use ipnet::IpNet;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::BTreeMap;

/// Bumped only when a saved plan of the old format could be misread.
pub const PLAN_FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Plan {
    /// The plan format: bumped only when a saved plan of the old format could
    /// be misread; apply refuses plans of another format.
    #[schemars(extend("const" = PLAN_FORMAT_VERSION))]
    pub format_version: u32,
    /// The spec's owner.
    pub owner: String,
    /// The spec file the plan was made from, as given on the command line,
    /// and the SHA-256 of its text: a saved plan is refused when it changed.
    pub spec_file: String,
    /// SHA-256 (hex) of the spec file's text.
    pub spec_digest: String,
    /// `--prune` and `--target` as the plan was made with them.
    #[serde(default)]
    pub options: crate::planner::Options,
    /// Digest of the observed state this plan was computed from: a saved plan
    /// is refused when live state no longer has it.
    pub basis: String,
    /// In dependency order: a step only depends on earlier steps.
    pub steps: Vec<Step>,
    /// Foreign objects in the way; apply refuses while there are any.
    pub conflicts: Vec<Conflict>,
    /// One entry per peering of the spec, in spec order.
    pub peerings: Vec<PeeringStatus>,
    /// Connections carrying this owner whose peering is not in the spec.
    pub unmanaged: Vec<Unmanaged>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    pub fn summary(&self) -> Summary {
        let mut summary = Summary::default();
        for step in &self.steps {
            match step.action.kind() {
                ChangeKind::Add => summary.add += 1,
                ChangeKind::Change => summary.change += 1,
                ChangeKind::Destroy => summary.destroy += 1,
            }
        }
        summary
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Summary {
    pub add: usize,
    pub change: usize,
    pub destroy: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Step {
    pub peering: String,
    pub action: Box<Action>,
    /// Why, for people only; the executor never reads it.
    pub reason: Cow<'static, str>,
    /// Indexes of earlier steps that must succeed first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Conflict {
    pub peering: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PeeringStatus {
    pub name: String,
    pub cloud: String,
    pub absent: bool,
    /// The connection in use, when there is one.
    pub connection: Option<String>,
    pub status: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Unmanaged {
    pub peering: String,
    /// `aws` or `gcp`.
    #[serde(default)]
    pub cloud: String,
    pub connection: String,
    pub status: String,
}

/// `+`, `~` or `-`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Add,
    Change,
    Destroy,
}

impl ChangeKind {
    pub fn symbol(self) -> char {
        match self {
            ChangeKind::Add => '+',
            ChangeKind::Change => '~',
            ChangeKind::Destroy => '-',
        }
    }
}

/// A peering connection, either known or made by an earlier step of this plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionRef {
    Id(String),
    CreatedByStep(usize),
}

impl ConnectionRef {
    pub fn id(&self) -> Option<&str> {
        match self {
            ConnectionRef::Id(id) => Some(id),
            ConnectionRef::CreatedByStep(_) => None,
        }
    }
}

/// One end of a connection to create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AwsEnd {
    pub scope: AwsScope,
    pub vpc: String,
    pub account: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionSide {
    Requester,
    Accepter,
}

/// Everything the executor needs with the plan's owner and the step's
/// peering, which mark what it creates (`state::ownership_tags`); nothing is
/// decided at apply time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Action {
    /// Tagged `state::connection_tags`.
    AwsCreateConnection {
        requester: AwsEnd,
        accepter: AwsEnd,
    },
    AwsAcceptConnection {
        scope: AwsScope,
        connection: ConnectionRef,
    },
    AwsSetDnsResolution {
        scope: AwsScope,
        connection: ConnectionRef,
        side: ConnectionSide,
        allow: bool,
    },
    AwsCreateRoute {
        scope: AwsScope,
        route_table: String,
        #[schemars(with = "crate::schema::Cidr")]
        destination: IpNet,
        connection: ConnectionRef,
    },
    AwsReplaceRoute {
        scope: AwsScope,
        route_table: String,
        #[schemars(with = "crate::schema::Cidr")]
        destination: IpNet,
        connection: ConnectionRef,
        previous_target: String,
    },
    AwsDeleteRoute {
        scope: AwsScope,
        route_table: String,
        #[schemars(with = "crate::schema::Cidr")]
        destination: IpNet,
        target: String,
    },
    /// Tagged `state::ownership_tags`, described `state::rule_description`.
    AwsAuthorizeIngress {
        scope: AwsScope,
        group: String,
        rule: Rule,
        permission: Permission,
        #[schemars(with = "crate::schema::Cidr")]
        source: IpNet,
    },
    AwsRevokeIngress {
        scope: AwsScope,
        group: String,
        rule_id: String,
        permission: Permission,
        #[schemars(with = "crate::schema::Cidr")]
        source: IpNet,
    },
    AwsDeleteConnection {
        scope: AwsScope,
        connection: String,
    },
    /// `CreateTags`: marks an adopted connection or rule as this peering's.
    AwsTag {
        scope: AwsScope,
        resource: String,
        tags: Tags,
    },
    /// `networks.addPeering` on `network`, towards `peer`.
    GcpAddPeering {
        network: GcpNetwork,
        peer: GcpNetwork,
        name: String,
        flags: GcpRouteFlags,
    },
    /// `networks.updatePeering`: only the route flags change.
    GcpUpdatePeering {
        network: GcpNetwork,
        peer: GcpNetwork,
        name: String,
        flags: GcpRouteFlags,
    },
    GcpRemovePeering {
        network: GcpNetwork,
        peer: GcpNetwork,
        name: String,
    },
    GcpInsertFirewall {
        firewall: GcpFirewallSpec,
    },
    /// `firewalls.update`: replaces the rule with this content.
    GcpUpdateFirewall {
        firewall: GcpFirewallSpec,
    },
    GcpDeleteFirewall {
        project: String,
        name: String,
    },
}

/// An ingress firewall rule as peerctl writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct GcpFirewallSpec {
    pub name: String,
    pub network: GcpNetwork,
    pub description: String,
    pub allowed: Vec<Rule>,
    #[schemars(with = "Vec<crate::schema::Cidr>")]
    pub source_ranges: Vec<IpNet>,
}

impl Action {
    pub fn kind(&self) -> ChangeKind {
        match self {
            Action::AwsCreateConnection { .. }
            | Action::AwsCreateRoute { .. }
            | Action::AwsAuthorizeIngress { .. }
            | Action::GcpAddPeering { .. }
            | Action::GcpInsertFirewall { .. } => ChangeKind::Add,
            Action::AwsAcceptConnection { .. }
            | Action::AwsSetDnsResolution { .. }
            | Action::AwsReplaceRoute { .. }
            | Action::AwsTag { .. }
            | Action::GcpUpdatePeering { .. }
            | Action::GcpUpdateFirewall { .. } => ChangeKind::Change,
            Action::AwsDeleteRoute { .. }
            | Action::AwsRevokeIngress { .. }
            | Action::AwsDeleteConnection { .. }
            | Action::GcpRemovePeering { .. }
            | Action::GcpDeleteFirewall { .. } => ChangeKind::Destroy,
        }
    }

    /// Where the executor keeps this action's rate budget: AWS credentials and
    /// region, or the GCP project.
    pub fn budget_key(&self) -> String {
        match self.aws_scope() {
            Some(scope) => {
                format!("aws/{}/{}/{}", scope.profile.as_deref().unwrap_or("-"), scope.role_arn.as_deref().unwrap_or("-"), scope.region)
            }
            None => match self {
                Action::GcpAddPeering { network, .. }
                | Action::GcpUpdatePeering { network, .. }
                | Action::GcpRemovePeering { network, .. } => {
                    format!("gcp/{}", network.project)
                }
                Action::GcpInsertFirewall { firewall } | Action::GcpUpdateFirewall { firewall } => {
                    format!("gcp/{}", firewall.network.project)
                }
                Action::GcpDeleteFirewall { project, .. } => format!("gcp/{project}"),
                _ => String::new(),
            },
        }
    }

    /// Networks that must not see two of these operations at once, in sorted
    /// order: GCP allows one peering operation at a time on a pair of networks.
    pub fn locks(&self) -> Vec<String> {
        match self {
            Action::GcpAddPeering { network, peer, .. }
            | Action::GcpUpdatePeering { network, peer, .. }
            | Action::GcpRemovePeering { network, peer, .. } => {
                let mut locks = vec![network.to_string(), peer.to_string()];
                locks.sort();
                locks.dedup();
                locks
            }
            _ => Vec::new(),
        }
    }

    /// The AWS credentials and region that carry this action out.
    pub fn aws_scope(&self) -> Option<&AwsScope> {
        Some(match self {
            Action::AwsCreateConnection { requester, .. } => &requester.scope,
            Action::AwsAcceptConnection { scope, .. }
            | Action::AwsSetDnsResolution { scope, .. }
            | Action::AwsCreateRoute { scope, .. }
            | Action::AwsReplaceRoute { scope, .. }
            | Action::AwsDeleteRoute { scope, .. }
            | Action::AwsAuthorizeIngress { scope, .. }
            | Action::AwsRevokeIngress { scope, .. }
            | Action::AwsDeleteConnection { scope, .. }
            | Action::AwsTag { scope, .. } => scope,
            _ => return None,
        })
    }

    /// The connection this action refers to, if any.
    pub fn connection_mut(&mut self) -> Option<&mut ConnectionRef> {
        match self {
            Action::AwsAcceptConnection { connection, .. }
            | Action::AwsSetDnsResolution { connection, .. }
            | Action::AwsCreateRoute { connection, .. }
            | Action::AwsReplaceRoute { connection, .. } => Some(connection),
            _ => None,
        }
    }

    /// Replaces references to connections created earlier in this run by their ids.
    pub fn resolve(&mut self, created: &BTreeMap<usize, String>) -> Result<(), usize> {
        if let Some(connection) = self.connection_mut()
            && let ConnectionRef::CreatedByStep(step) = connection
        {
            let id = created.get(step).ok_or(*step)?;
            *connection = ConnectionRef::Id(id.clone());
        }
        Ok(())
    }
}
