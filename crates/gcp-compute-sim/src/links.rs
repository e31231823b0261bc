//! Resource paths and `selfLink`s.
//!
//! Every link the simulator emits uses Google's canonical host
//! (`https://www.googleapis.com/compute/v1/…`), as real Compute does even
//! when it is reached through an endpoint override; links it receives may
//! use any host (or none) and are reduced to their `projects/…` path.

use crate::error::ApiError;

/// The prefix of every `selfLink`.
pub const LINK_BASE: &str = "https://www.googleapis.com/compute/v1/";

/// `projects/p/global/networks/n`
pub fn network_path(project: &str, name: &str) -> String {
    format!("projects/{project}/global/networks/{name}")
}

pub fn firewall_path(project: &str, name: &str) -> String {
    format!("projects/{project}/global/firewalls/{name}")
}

pub fn route_path(project: &str, name: &str) -> String {
    format!("projects/{project}/global/routes/{name}")
}

pub fn region_path(project: &str, region: &str) -> String {
    format!("projects/{project}/regions/{region}")
}

pub fn subnetwork_path(project: &str, region: &str, name: &str) -> String {
    format!("projects/{project}/regions/{region}/subnetworks/{name}")
}

/// A full link for a path.
pub fn link(path: &str) -> String {
    format!("{LINK_BASE}{path}")
}

/// Reduces a full or partial URL to the part starting at `projects/`, or
/// `None` when there is no such part.
fn strip_to_projects(reference: &str) -> Option<&str> {
    if reference.starts_with("projects/") {
        return Some(reference);
    }
    reference.find("/projects/").map(|i| &reference[i + 1..])
}

/// Resolves a network reference (full URL, `projects/P/global/networks/N`,
/// `global/networks/N` or a bare name) to `(project, name)`.
pub fn parse_network_ref(reference: &str, default_project: &str, field: &str) -> Result<(String, String), ApiError> {
    let bad = || ApiError::invalid_field(field, reference, "The URL is malformed.");
    let reference = reference.trim();
    if let Some(path) = strip_to_projects(reference) {
        let parts: Vec<&str> = path.split('/').collect();
        return match parts.as_slice() {
            ["projects", p, "global", "networks", n] if !p.is_empty() && !n.is_empty() => Ok(((*p).to_string(), (*n).to_string())),
            _ => Err(bad()),
        };
    }
    if let Some(name) = reference.strip_prefix("global/networks/") {
        return if name.is_empty() || name.contains('/') { Err(bad()) } else { Ok((default_project.into(), name.into())) };
    }
    if reference.is_empty() || reference.contains('/') || reference.contains(':') {
        return Err(bad());
    }
    Ok((default_project.to_string(), reference.to_string()))
}

/// Resolves a region reference (full URL, `regions/R`, or a bare name).
pub fn parse_region_ref(reference: &str) -> String {
    reference.rsplit('/').next().unwrap_or(reference).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_network_references_in_every_form() {
        let want = Ok(("p".to_string(), "n".to_string()));
        assert_eq!(parse_network_ref("https://www.googleapis.com/compute/v1/projects/p/global/networks/n", "x", "f"), want);
        assert_eq!(parse_network_ref("http://127.0.0.1:9/compute/v1/projects/p/global/networks/n", "x", "f"), want);
        assert_eq!(parse_network_ref("projects/p/global/networks/n", "x", "f"), want);
        assert_eq!(parse_network_ref("global/networks/n", "p", "f"), want);
        assert_eq!(parse_network_ref("n", "p", "f"), want);
        assert!(parse_network_ref("projects/p/regions/r", "p", "f").is_err());
    }
}
