//! Property names of the request schemas, copied from the Compute v1
//! discovery document (tests/data/compute-v1-peering.discovery.json), so a
//! body naming a field Compute does not know is refused as Compute does.

pub const NETWORK: &[&str] = &[
    "IPv4Range",
    "additionalTags",
    "autoCreateSubnetworks",
    "creationTimestamp",
    "description",
    "enableUlaInternalIpv6",
    "firewallPolicy",
    "gatewayIPv4",
    "id",
    "internalIpv6Range",
    "kind",
    "mtu",
    "name",
    "networkFirewallPolicyEnforcementOrder",
    "networkProfile",
    "params",
    "peerings",
    "routingConfig",
    "selfLink",
    "selfLinkWithId",
    "subnetworks",
];

pub const NETWORK_PEERING: &[&str] = &[
    "autoCreateRoutes",
    "connectionStatus",
    "exchangeSubnetRoutes",
    "exportCustomRoutes",
    "exportSubnetRoutesWithPublicIp",
    "importCustomRoutes",
    "importSubnetRoutesWithPublicIp",
    "name",
    "network",
    "peerMtu",
    "stackType",
    "state",
    "stateDetails",
    "updateStrategy",
];

pub const NETWORKS_ADD_PEERING_REQUEST: &[&str] = &["autoCreateRoutes", "name", "networkPeering", "peerNetwork"];

pub const NETWORKS_REMOVE_PEERING_REQUEST: &[&str] = &["name"];

pub const NETWORKS_UPDATE_PEERING_REQUEST: &[&str] = &["networkPeering"];

pub const SUBNETWORK: &[&str] = &[
    "allowSubnetCidrRoutesOverlap",
    "creationTimestamp",
    "description",
    "enableFlowLogs",
    "externalIpv6Prefix",
    "fingerprint",
    "gatewayAddress",
    "id",
    "internalIpv6Prefix",
    "ipCidrRange",
    "ipCollection",
    "ipv6AccessType",
    "ipv6CidrRange",
    "ipv6GceEndpoint",
    "kind",
    "logConfig",
    "name",
    "network",
    "params",
    "privateIpGoogleAccess",
    "privateIpv6GoogleAccess",
    "purpose",
    "region",
    "reservedInternalRange",
    "resolveSubnetMask",
    "role",
    "secondaryIpRanges",
    "selfLink",
    "stackType",
    "state",
    "systemReservedExternalIpv6Ranges",
    "systemReservedInternalIpv6Ranges",
    "utilizationDetails",
];

pub const SUBNETWORK_SECONDARY_RANGE: &[&str] = &["ipCidrRange", "ipCollection", "ipVersion", "rangeName", "reservedInternalRange"];

pub const FIREWALL: &[&str] = &[
    "allowed",
    "creationTimestamp",
    "denied",
    "description",
    "destinationRanges",
    "direction",
    "disabled",
    "id",
    "kind",
    "logConfig",
    "name",
    "network",
    "params",
    "priority",
    "selfLink",
    "sourceRanges",
    "sourceServiceAccounts",
    "sourceTags",
    "targetServiceAccounts",
    "targetTags",
];

pub const ROUTE: &[&str] = &[
    "asPaths",
    "creationTimestamp",
    "description",
    "destRange",
    "id",
    "kind",
    "name",
    "network",
    "nextHopGateway",
    "nextHopHub",
    "nextHopIlb",
    "nextHopInstance",
    "nextHopInterRegionCost",
    "nextHopInterconnectAttachment",
    "nextHopIp",
    "nextHopMed",
    "nextHopNetwork",
    "nextHopOrigin",
    "nextHopPeering",
    "nextHopVpnTunnel",
    "params",
    "priority",
    "routeStatus",
    "routeType",
    "selfLink",
    "tags",
    "warnings",
];

pub const NETWORK_ROUTING_CONFIG: &[&str] = &[
    "bgpAlwaysCompareMed",
    "bgpBestPathSelectionMode",
    "bgpInterRegionCost",
    "effectiveBgpAlwaysCompareMed",
    "effectiveBgpInterRegionCost",
    "routingMode",
];

pub const FIREWALL_LOG_CONFIG: &[&str] = &["enable", "metadata"];

use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::error::ApiError;

/// Parses a request body, refusing names the schema lacks (`at` is how
/// Compute names the body in its message: `resource`, `networkPeering`, …).
pub fn parse_body<T: DeserializeOwned>(bytes: &[u8], known: &[&str], at: &str) -> Result<T, ApiError> {
    let value: Value = if bytes.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(bytes).map_err(ApiError::invalid_json)?
    };
    check_keys(&value, known, at)?;
    from_value(value)
}

/// Deserialises an already-checked JSON value.
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    serde_json::from_value(value).map_err(ApiError::invalid_json)
}

/// Refuses object members that are not properties of the schema.
pub fn check_keys(value: &Value, known: &[&str], at: &str) -> Result<(), ApiError> {
    let Some(object) = value.as_object() else {
        return Err(ApiError::invalid_json(format!("Invalid value at '{at}': expected an object.")));
    };
    match object.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(ApiError::invalid_json(format!("Unknown name \"{k}\" at '{at}': Cannot find field."))),
        None => Ok(()),
    }
}

/// Checks a nested member (an object or each object of an array) if present.
pub fn check_nested(value: &Value, member: &str, known: &[&str], at: &str) -> Result<(), ApiError> {
    match value.get(member) {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Array(items)) => items.iter().try_for_each(|item| check_keys(item, known, at)),
        Some(other) => check_keys(other, known, at),
    }
}
