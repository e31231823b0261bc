//! The spec: what peerings should exist, as the user wrote it.
//!
//! Types here are the decoded, validated form; `load` builds them from YAML
//! (see `decode.rs`) and every value that a later error may need to point at
//! keeps its `Loc`.

use crate::diag::Loc;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::fmt;

pub const SPEC_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    /// The file it was read from, as given on the command line.
    pub file: String,
    /// SHA-256 of the file's text, so a saved plan can tell when the spec changed.
    pub digest: String,
    pub owner: String,
    /// Where `owner` is written, for errors about it.
    pub owner_loc: Loc,
    pub peerings: Vec<Peering>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peering {
    pub name: String,
    pub loc: Loc,
    pub absent: bool,
    pub cloud: CloudPeering,
}

// A spec holds tens to thousands of these: boxing the larger variant saves nothing worth the noise.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloudPeering {
    Aws(AwsPeering),
    Gcp(GcpPeering),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsPeering {
    pub requester: AwsSide,
    pub accepter: AwsSide,
    pub allow: Vec<Rule>,
    pub dns_resolution: bool,
    pub ipv6: bool,
    /// `adopt: pcx-…`: an existing, untagged connection between the two VPCs
    /// that this peering takes over (tagging it and its matching rules)
    /// instead of reporting it as a foreign conflict.
    pub adopt: Option<Adopted>,
}

/// An existing object the spec takes over, and where it is named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adopted {
    pub id: String,
    pub loc: Loc,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsSide {
    pub scope: AwsScope,
    pub vpc: Selector,
    pub route_tables: Selection,
    pub security_groups: Selection,
    pub loc: Loc,
}

/// Where an AWS side lives and how peerctl reaches it: the credentials
/// (default chain, a profile, or an assumed role) and the region. Each scope
/// is read once per plan.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AwsScope {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    pub region: String,
}

impl AwsScope {
    /// The credentials part, shared by every region of one account.
    pub fn same_credentials(&self, other: &AwsScope) -> bool {
        self.profile == other.profile && self.role_arn == other.role_arn
    }
}

impl fmt::Display for AwsScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.region)?;
        if let Some(profile) = &self.profile {
            write!(f, " (profile {profile})")?;
        }
        if let Some(role) = &self.role_arn {
            write!(f, " (role {role})")?;
        }
        Ok(())
    }
}

/// An object named by its id or by its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    pub by: By,
    pub loc: Loc,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum By {
    Id(String),
    Name(String),
}

impl fmt::Display for By {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            By::Id(id) => f.write_str(id),
            By::Name(name) => write!(f, "{{name: {name}}}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    All,
    Only(Vec<Selector>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcpPeering {
    pub network: GcpNetwork,
    pub peer_network: GcpNetwork,
    pub export_custom_routes: bool,
    pub import_custom_routes: bool,
    pub export_subnet_routes_with_public_ip: bool,
    pub import_subnet_routes_with_public_ip: bool,
    pub allow: Vec<Rule>,
    /// `adopt: {network: NAME, peer_network: NAME}`: the names of existing
    /// entries this peering uses on each network instead of `OWNER--PEERING`.
    /// GCP peerings carry no labels, so these names in the spec are what make
    /// the entries this peering's.
    pub adopt: Option<GcpEntryNames>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcpEntryNames {
    pub network: String,
    pub peer_network: String,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GcpNetwork {
    pub project: String,
    pub name: String,
}

impl fmt::Display for GcpNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "projects/{}/global/networks/{}", self.project, self.name)
    }
}

/// An inbound rule to open from the peer's ranges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Rule {
    pub protocol: Protocol,
    pub ports: Ports,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
    Icmp,
    All,
}

impl Protocol {
    /// Every protocol a rule may name, as written in a spec (`Display`).
    pub const VALUES: [Protocol; 4] = [Protocol::Tcp, Protocol::Udp, Protocol::Icmp, Protocol::All];

    /// Rules for `icmp` and `all` cover every port, so they name none.
    pub fn has_ports(self) -> bool {
        matches!(self, Protocol::Tcp | Protocol::Udp)
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Icmp => "icmp",
            Protocol::All => "all",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Ports {
    All,
    Range { from: u16, to: u16 },
}

impl fmt::Display for Ports {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ports::All => f.write_str("all ports"),
            Ports::Range { from, to } if from == to => write!(f, "port {from}"),
            Ports::Range { from, to } => write!(f, "ports {from}-{to}"),
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.protocol {
            Protocol::Icmp | Protocol::All => write!(f, "{}", self.protocol),
            _ => write!(f, "{} {}", self.protocol, self.ports),
        }
    }
}

/// "All TCP", the guide's rule and the default when `allow` is omitted.
pub const ALL_TCP: Rule = Rule { protocol: Protocol::Tcp, ports: Ports::All };

/// Two address ranges share at least one address.
pub fn overlaps(a: &IpNet, b: &IpNet) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// `is_valid_name` as a regular expression (unanchored), for the JSON schema;
/// `schema_tests` checks that the two agree.
pub const NAME_REGEX: &str = "[a-z]([a-z0-9-]{0,61}[a-z0-9])?";

/// Names of peerings and owners: what GCP accepts as a resource name, so the
/// same name works in AWS tags and GCP peering names.
pub fn is_valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    bytes.len() <= 63
        && first.is_ascii_lowercase()
        && (last.is_ascii_lowercase() || last.is_ascii_digit())
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}
