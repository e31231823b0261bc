//! Observed state: facts read from the clouds, nothing more. Providers fill it;
//! the planner reads it. Ownership is derived from tags, never stored.

use crate::spec::{AwsScope, GcpNetwork, Rule};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

pub type Tags = BTreeMap<String, String>;

pub const TAG_OWNER: &str = "peerctl:owner";
pub const TAG_PEERING: &str = "peerctl:peering";

/// The tags that make an object `peering`'s of `owner`, as `Ownership::of` reads them.
pub fn ownership_tags(owner: &str, peering: &str) -> Tags {
    Tags::from([(TAG_OWNER.to_string(), owner.to_string()), (TAG_PEERING.to_string(), peering.to_string())])
}

/// A new connection's tags: its ownership, and its peering as its `Name`.
pub fn connection_tags(owner: &str, peering: &str) -> Tags {
    let mut tags = ownership_tags(owner, peering);
    tags.insert("Name".to_string(), peering.to_string());
    tags
}

/// The description of the security group rules peerctl makes. No spaces:
/// moto's IAM check re-encodes a form body with `+` for spaces and so refuses
/// the SDK's `%20` (see tests/e2e/iam.rs).
pub fn rule_description(owner: &str, peering: &str) -> String {
    format!("peerctl:{owner}/{peering}")
}

/// Who an object belongs to, from peerctl's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ownership<'a> {
    /// Carries `peerctl:owner` = `owner` and this peering name.
    Owned {
        owner: &'a str,
        peering: &'a str,
    },
    Foreign,
}

impl<'a> Ownership<'a> {
    pub fn of(tags: &'a Tags) -> Self {
        match (tags.get(TAG_OWNER), tags.get(TAG_PEERING)) {
            (Some(owner), Some(peering)) => Ownership::Owned { owner, peering },
            _ => Ownership::Foreign,
        }
    }

    pub fn is(&self, owner: &str, peering: &str) -> bool {
        matches!(self, Ownership::Owned { owner: o, peering: p } if *o == owner && *p == peering)
    }
}

/// Everything read for one plan.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub aws: Vec<AwsRegionState>,
    #[serde(default)]
    pub gcp: Vec<GcpProjectState>,
}

impl State {
    pub fn aws_region(&self, scope: &AwsScope) -> Option<&AwsRegionState> {
        self.aws.iter().find(|r| &r.scope == scope)
    }

    pub fn gcp_project(&self, project: &str) -> Option<&GcpProjectState> {
        self.gcp.iter().find(|p| p.project == project)
    }

    pub fn gcp_network(&self, network: &GcpNetwork) -> Option<&GcpNetworkState> {
        self.gcp_project(&network.project)?.networks.iter().find(|n| n.name == network.name)
    }

    /// A digest of everything read, so a saved plan can tell when the world
    /// moved: SHA-256 of the state in postcard's encoding (specified and
    /// compact), streamed into the hash, never held in memory whole.
    pub fn fingerprint(&self) -> String {
        let hashing = Hashing { hasher: Sha256::new(), buffer: Vec::with_capacity(Hashing::BUFFER) };
        postcard::serialize_with_flavor(self, hashing).unwrap_or_default()
    }
}

/// A postcard output that hashes what is written, in chunks.
struct Hashing {
    hasher: Sha256,
    buffer: Vec<u8>,
}

impl Hashing {
    const BUFFER: usize = 1 << 16;

    /// Hashes what the buffer holds when `more` bytes would not fit.
    fn make_room(&mut self, more: usize) {
        if self.buffer.len() + more > Self::BUFFER {
            self.hasher.update(&self.buffer);
            self.buffer.clear();
        }
    }
}

impl postcard::ser_flavors::Flavor for Hashing {
    type Output = String;

    /// A byte (a tag, a length, a bool) is pushed, not copied through a call
    /// to `memcpy`: a tenth of the digest's time.
    fn try_push(&mut self, byte: u8) -> postcard::Result<()> {
        self.make_room(1);
        self.buffer.push(byte);
        Ok(())
    }

    fn try_extend(&mut self, bytes: &[u8]) -> postcard::Result<()> {
        self.make_room(bytes.len());
        self.buffer.extend_from_slice(bytes);
        Ok(())
    }

    fn finalize(mut self) -> postcard::Result<String> {
        self.hasher.update(&self.buffer);
        Ok(hex(&self.hasher.finalize()))
    }
}

/// SHA-256 of `bytes`, in hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// What one set of credentials sees in one region.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AwsRegionState {
    pub scope: AwsScope,
    pub vpcs: Vec<Vpc>,
    pub route_tables: Vec<RouteTable>,
    pub security_groups: Vec<SecurityGroup>,
    pub rules: Vec<SecurityGroupRule>,
    pub connections: Vec<Connection>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vpc {
    pub id: String,
    pub name: Option<String>,
    pub owner_id: String,
    /// Associated IPv4 ranges, primary first.
    pub cidrs: Vec<IpNet>,
    pub ipv6_cidrs: Vec<IpNet>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RouteTable {
    pub id: String,
    pub vpc_id: String,
    pub name: Option<String>,
    pub routes: Vec<Route>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Route {
    pub destination: IpNet,
    /// The target's id: `pcx-…`, `igw-…`, `local`, …
    pub target: String,
    /// `active` or `blackhole`.
    pub state: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecurityGroup {
    pub id: String,
    pub vpc_id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecurityGroupRule {
    pub id: String,
    pub group_id: String,
    pub egress: bool,
    pub permission: Permission,
    /// The IPv4 or IPv6 source range; rules from groups or prefix lists have none.
    pub source: Option<IpNet>,
    pub description: Option<String>,
    pub tags: Tags,
}

/// A protocol and port range as EC2 states them: `tcp 0-65535`, `icmp -1--1`, `-1` for all.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Permission {
    pub protocol: String,
    pub from_port: i32,
    pub to_port: i32,
}

impl Permission {
    /// EC2 reports protocols by name or number; compare them as names.
    pub fn normalized(protocol: &str, from_port: Option<i32>, to_port: Option<i32>) -> Self {
        let protocol = match protocol {
            "6" => "tcp",
            "17" => "udp",
            "1" => "icmp",
            "58" => "icmpv6",
            "all" => "-1",
            other => other,
        };
        let (from_port, to_port) = if matches!(protocol, "-1" | "icmp" | "icmpv6") {
            (from_port.unwrap_or(-1), to_port.unwrap_or(-1))
        } else {
            (from_port.unwrap_or(0), to_port.unwrap_or(65535))
        };
        let from_port = if protocol == "-1" { -1 } else { from_port };
        let to_port = if protocol == "-1" { -1 } else { to_port };
        Permission { protocol: protocol.to_string(), from_port, to_port }
    }
}

impl Permission {
    /// The permission that lets `rule` in from `source`: ICMP from an IPv6
    /// range is ICMPv6.
    pub fn for_source(rule: crate::spec::Rule, source: &IpNet) -> Self {
        let permission = Permission::from(rule);
        match (permission.protocol.as_str(), source) {
            ("icmp", IpNet::V6(_)) => Permission { protocol: "icmpv6".into(), ..permission },
            _ => permission,
        }
    }
}

impl From<crate::spec::Rule> for Permission {
    fn from(rule: crate::spec::Rule) -> Self {
        use crate::spec::{Ports, Protocol};
        let (from, to) = match rule.ports {
            Ports::All => (0, 65535),
            Ports::Range { from, to } => (i32::from(from), i32::from(to)),
        };
        match rule.protocol {
            Protocol::Tcp => Permission { protocol: "tcp".into(), from_port: from, to_port: to },
            Protocol::Udp => Permission { protocol: "udp".into(), from_port: from, to_port: to },
            Protocol::Icmp => Permission { protocol: "icmp".into(), from_port: -1, to_port: -1 },
            Protocol::All => Permission { protocol: "-1".into(), from_port: -1, to_port: -1 },
        }
    }
}

impl std::fmt::Display for Permission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.protocol.as_str(), self.from_port, self.to_port) {
            ("-1", _, _) => f.write_str("all traffic"),
            (p @ ("icmp" | "icmpv6"), -1, -1) => f.write_str(p),
            (p, 0, 65535) => write!(f, "{p} all ports"),
            (p, a, b) if a == b => write!(f, "{p} port {a}"),
            (p, a, b) => write!(f, "{p} ports {a}-{b}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Connection {
    pub id: String,
    pub status: ConnectionStatus,
    pub requester: ConnectionEnd,
    pub accepter: ConnectionEnd,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectionEnd {
    pub vpc_id: String,
    pub owner_id: String,
    pub region: String,
    /// `AllowDnsResolutionFromRemoteVpc`; unknown until the connection is active.
    pub allow_dns_resolution: Option<bool>,
}

/// EC2's peering-connection status codes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConnectionStatus {
    InitiatingRequest,
    PendingAcceptance,
    Provisioning,
    Active,
    Deleting,
    Deleted,
    Rejected,
    Failed,
    Expired,
    /// A status this peerctl does not know; the planner refuses to guess.
    Unknown(String),
}

impl ConnectionStatus {
    pub fn parse(code: &str) -> Self {
        match code {
            "initiating-request" => Self::InitiatingRequest,
            "pending-acceptance" => Self::PendingAcceptance,
            "provisioning" => Self::Provisioning,
            "active" => Self::Active,
            "deleting" => Self::Deleting,
            "deleted" => Self::Deleted,
            "rejected" => Self::Rejected,
            "failed" => Self::Failed,
            "expired" => Self::Expired,
            other => Self::Unknown(other.to_string()),
        }
    }

    /// Gone for good: such a connection is replaced, never reused.
    pub fn is_terminal(&self) -> bool {
        matches!(self, Self::Deleting | Self::Deleted | Self::Rejected | Self::Failed | Self::Expired)
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::InitiatingRequest => "initiating-request",
            Self::PendingAcceptance => "pending-acceptance",
            Self::Provisioning => "provisioning",
            Self::Active => "active",
            Self::Deleting => "deleting",
            Self::Deleted => "deleted",
            Self::Rejected => "rejected",
            Self::Failed => "failed",
            Self::Expired => "expired",
            Self::Unknown(code) => code,
        }
    }
}

/// What one GCP project holds that peerctl reads: networks (with their
/// peering entries), the subnetworks' ranges and peerctl's firewall rules.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GcpProjectState {
    pub project: String,
    pub networks: Vec<GcpNetworkState>,
    pub subnetworks: Vec<GcpSubnetwork>,
    /// Only rules whose name starts with `peerctl-`.
    pub firewalls: Vec<GcpFirewall>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GcpNetworkState {
    pub name: String,
    /// Auto mode (`autoCreateSubnetworks: true`): two such networks cannot peer.
    pub auto_mode: bool,
    pub peerings: Vec<GcpPeeringEntry>,
}

/// One entry of `Network.peerings[]`: this network's half of a peering.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GcpPeeringEntry {
    pub name: String,
    pub peer: GcpNetwork,
    /// `ACTIVE` or `INACTIVE`, as the API computes it.
    pub state: String,
    pub flags: GcpRouteFlags,
}

/// The route-exchange options of one side of a GCP peering.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GcpRouteFlags {
    pub export_custom_routes: bool,
    pub import_custom_routes: bool,
    pub export_subnet_routes_with_public_ip: bool,
    pub import_subnet_routes_with_public_ip: bool,
}

impl GcpRouteFlags {
    /// The other side's flags that make routes flow as this side says: it
    /// exports what this side imports, and imports what this side exports.
    pub fn mirrored(self) -> Self {
        GcpRouteFlags {
            export_custom_routes: self.import_custom_routes,
            import_custom_routes: self.export_custom_routes,
            export_subnet_routes_with_public_ip: self.import_subnet_routes_with_public_ip,
            import_subnet_routes_with_public_ip: self.export_subnet_routes_with_public_ip,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GcpSubnetwork {
    pub name: String,
    pub region: String,
    pub network: GcpNetwork,
    /// The primary range, then secondary ranges.
    pub ranges: Vec<IpNet>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GcpFirewall {
    pub name: String,
    pub network: GcpNetwork,
    pub description: String,
    pub ingress: bool,
    pub allowed: Vec<Rule>,
    pub source_ranges: Vec<IpNet>,
}
