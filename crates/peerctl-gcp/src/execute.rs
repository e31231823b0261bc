//! Carrying out GCP actions. Each mutation carries a request id, the same for
//! the engine's retries of one step, so a retry never does the work twice;
//! each waits for its operation. A failure counts as success only after
//! reading the object back and finding it as the plan wants it ("already
//! there", "already gone"); when that read fails too, the first error stands.

use crate::GcpProvider;
use crate::observe::{allowed, firewall, network_ref, route_flags};
use peerctl_core::plan::{Action, GcpFirewallSpec};
use peerctl_core::spec::GcpNetwork;
use peerctl_core::state::GcpRouteFlags;
use peerctl_engine::{Outcome, ProviderError};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicU64, Ordering};

pub(crate) async fn execute(provider: &GcpProvider, action: &Action) -> Result<Outcome, ProviderError> {
    let key = serde_json::to_string(action).unwrap_or_default();
    let id = provider
        .request_ids
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(key.clone())
        .or_insert_with(|| request_id(&provider.run_id, &key))
        .clone();
    let result = run(provider, action, &id).await;
    // Only a retry may reuse the id (`mutate` drops it once an operation ran
    // with it and failed): once the action is settled, the same action later
    // in this run is new work.
    if !result.as_ref().is_err_and(ProviderError::is_retryable) {
        provider.request_ids.lock().unwrap_or_else(|e| e.into_inner()).remove(&key);
    }
    result
}

async fn run(provider: &GcpProvider, action: &Action, id: &str) -> Result<Outcome, ProviderError> {
    match action {
        Action::GcpAddPeering { network, peer, name, flags } => {
            let body = json!({ "networkPeering": peering_body(name, Some(peer), flags) });
            let added =
                provider.mutate("networks.addPeering", Method::POST, &format!("{}/addPeering", path(network)), id, Some(&body)).await;
            match added {
                Err(error) if !error.is_retryable() && entry_is(provider, network, name, peer, flags).await.unwrap_or(false) => {}
                other => other?,
            }
        }
        Action::GcpUpdatePeering { network, peer, name, flags } => {
            let body = json!({ "networkPeering": peering_body(name, None, flags) });
            let updated = provider
                .mutate("networks.updatePeering", Method::PATCH, &format!("{}/updatePeering", path(network)), id, Some(&body))
                .await;
            match updated {
                Err(error) if !error.is_retryable() && entry_is(provider, network, name, peer, flags).await.unwrap_or(false) => {}
                other => other?,
            }
        }
        Action::GcpRemovePeering { network, name, .. } => {
            let body = json!({ "name": name });
            let removed =
                provider.mutate("networks.removePeering", Method::POST, &format!("{}/removePeering", path(network)), id, Some(&body)).await;
            match removed {
                Err(error) if !error.is_retryable() && entry(provider, network, name).await.is_ok_and(|e| e.is_none()) => {}
                other => other?,
            }
        }
        Action::GcpInsertFirewall { firewall: spec } => {
            let project = &spec.network.project;
            let inserted = provider
                .mutate("firewalls.insert", Method::POST, &format!("projects/{project}/global/firewalls"), id, Some(&firewall_body(spec)))
                .await;
            match inserted {
                Err(ProviderError::AlreadyExists(text)) => {
                    let got = provider.get("firewalls.get", &format!("projects/{project}/global/firewalls/{}", spec.name)).await;
                    let current = match got {
                        // Another run's insert of the same rule is still in progress: worth another try.
                        Err(ProviderError::NotFound(_)) => {
                            return Err(ProviderError::Unavailable(format!(
                                "{text}, but not readable yet: another operation is creating it"
                            )));
                        }
                        other => other?,
                    };
                    if !same_firewall(&current, spec)? {
                        return Err(ProviderError::AlreadyExists(format!("{text}, with other content; run plan again")));
                    }
                }
                other => other?,
            }
        }
        Action::GcpUpdateFirewall { firewall: spec } => {
            let path = format!("projects/{}/global/firewalls/{}", spec.network.project, spec.name);
            provider.mutate("firewalls.update", Method::PUT, &path, id, Some(&firewall_body(spec))).await?;
        }
        Action::GcpDeleteFirewall { project, name } => {
            let path = format!("projects/{project}/global/firewalls/{name}");
            match provider.mutate("firewalls.delete", Method::DELETE, &path, id, None).await {
                Err(ProviderError::NotFound(_)) => {}
                other => other?,
            }
        }
        other => return Err(ProviderError::Other(format!("not a GCP action: {other:?}"))),
    }
    Ok(Outcome::Done)
}

fn path(network: &GcpNetwork) -> String {
    format!("projects/{}/global/networks/{}", network.project, network.name)
}

/// A UUID (the form `requestId` takes), different for every run and action.
fn request_id(run_id: &str, key: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let mut hash = Sha256::new();
    hash.update(format!("{run_id}/{}/{key}", NEXT.fetch_add(1, Ordering::Relaxed)));
    let mut bytes: [u8; 16] = hash.finalize()[..16].try_into().unwrap_or_default();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

/// `networkPeering` as addPeering (with the peer) and updatePeering (without) take it.
fn peering_body(name: &str, peer: Option<&GcpNetwork>, flags: &GcpRouteFlags) -> Value {
    let mut body = json!({
        "name": name,
        "exchangeSubnetRoutes": true,
        "exportCustomRoutes": flags.export_custom_routes,
        "importCustomRoutes": flags.import_custom_routes,
        "exportSubnetRoutesWithPublicIp": flags.export_subnet_routes_with_public_ip,
        "importSubnetRoutesWithPublicIp": flags.import_subnet_routes_with_public_ip,
    });
    if let Some(peer) = peer {
        body["network"] = json!(path(peer));
    }
    body
}

fn firewall_body(spec: &GcpFirewallSpec) -> Value {
    json!({
        "name": spec.name,
        "network": path(&spec.network),
        "description": spec.description,
        "direction": "INGRESS",
        "priority": 1000,
        "allowed": spec.allowed.iter().map(allowed).collect::<Vec<_>>(),
        "sourceRanges": spec.source_ranges.iter().map(ToString::to_string).collect::<Vec<_>>(),
    })
}

/// The entry named `name` on `network`, read back.
async fn entry(provider: &GcpProvider, network: &GcpNetwork, name: &str) -> Result<Option<Value>, ProviderError> {
    let current = provider.get("networks.get", &path(network)).await?;
    if current.get("name").and_then(Value::as_str) != Some(network.name.as_str()) {
        return Err(ProviderError::Other(format!("networks.get: unreadable answer for {network}: {current}")));
    }
    let entries = current.get("peerings").and_then(Value::as_array).cloned().unwrap_or_default();
    Ok(entries.into_iter().find(|p| p.get("name").and_then(Value::as_str) == Some(name)))
}

/// Whether `network` already holds the entry exactly as wanted.
async fn entry_is(
    provider: &GcpProvider,
    network: &GcpNetwork,
    name: &str,
    peer: &GcpNetwork,
    flags: &GcpRouteFlags,
) -> Result<bool, ProviderError> {
    Ok(entry(provider, network, name).await?.is_some_and(|e| {
        network_ref(e.get("network").and_then(Value::as_str).unwrap_or_default()).as_ref() == Some(peer) && route_flags(&e) == *flags
    }))
}

fn same_firewall(current: &Value, spec: &GcpFirewallSpec) -> Result<bool, ProviderError> {
    fn sorted<T: Ord + Clone>(items: &[T]) -> Vec<T> {
        let mut items = items.to_vec();
        items.sort();
        items
    }
    let current = firewall(current)?;
    Ok(current.ingress
        && current.network == spec.network
        && current.description == spec.description
        && sorted(&current.allowed) == sorted(&spec.allowed)
        && sorted(&current.source_ranges) == sorted(&spec.source_ranges))
}
