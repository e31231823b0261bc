//! Drift: what a plan says about live state, read as a report for a
//! scheduled check rather than as work to do. Every step of the plan is an
//! object that drifted (missing, changed, or owned but no longer wanted),
//! every conflict a foreign object breaking a peering, every owned peering
//! missing from the spec an extra. Pure: the caller passes the clock.

use crate::plan::{ChangeKind, Plan};
use crate::render::describe;
use serde::Serialize;
use std::fmt::Write;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub owner: String,
    pub in_sync: bool,
    /// Every drifted object, in plan order.
    pub drift: Vec<Drift>,
    /// One entry per peering of the spec, then one per owned peering not in it.
    pub peerings: Vec<PeeringDrift>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Drift {
    pub peering: String,
    pub kind: Kind,
    /// The object and what peerctl would do about it.
    pub object: String,
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// The spec wants it; live state lacks it.
    Missing,
    /// It exists, with other values than the spec's.
    Changed,
    /// Owned by this spec's owner, but the spec no longer wants it.
    ExtraOwned,
    /// An object peerctl does not own is in the way.
    ForeignConflict,
    /// A peering carrying this owner that the spec does not name.
    NotInSpec,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Missing => "missing",
            Kind::Changed => "changed",
            Kind::ExtraOwned => "extra-owned",
            Kind::ForeignConflict => "foreign conflict",
            Kind::NotInSpec => "owned, not in spec",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeeringDrift {
    pub name: String,
    pub cloud: String,
    /// `active`, or what the peering is instead (`pending-acceptance`, `inactive / missing`, …).
    pub status: Option<String>,
    pub absent: bool,
    pub drifted: usize,
}

pub fn report(plan: &Plan) -> Report {
    let mut drift: Vec<Drift> = plan
        .steps
        .iter()
        .map(|step| Drift {
            peering: step.peering.clone(),
            kind: match step.action.kind() {
                ChangeKind::Add => Kind::Missing,
                ChangeKind::Change => Kind::Changed,
                ChangeKind::Destroy => Kind::ExtraOwned,
            },
            object: describe(&step.action),
            detail: step.reason.to_string(),
        })
        .collect();
    drift.extend(plan.conflicts.iter().map(|c| Drift {
        peering: c.peering.clone(),
        kind: Kind::ForeignConflict,
        object: String::new(),
        detail: c.message.clone(),
    }));
    drift.extend(plan.unmanaged.iter().map(|u| Drift {
        peering: u.peering.clone(),
        kind: Kind::NotInSpec,
        object: u.connection.clone(),
        detail: format!("status {}; add it to the spec, or delete it with `apply --prune`", u.status),
    }));
    let count = |name: &str| drift.iter().filter(|d| d.peering == name).count();
    let mut peerings: Vec<PeeringDrift> = plan
        .peerings
        .iter()
        .map(|p| PeeringDrift {
            name: p.name.clone(),
            cloud: p.cloud.clone(),
            status: p.status.clone(),
            absent: p.absent,
            drifted: count(&p.name),
        })
        .collect();
    for unmanaged in &plan.unmanaged {
        if peerings.iter().all(|p| p.name != unmanaged.peering) {
            peerings.push(PeeringDrift {
                name: unmanaged.peering.clone(),
                cloud: unmanaged.cloud.clone(),
                status: Some(unmanaged.status.clone()),
                absent: false,
                drifted: count(&unmanaged.peering),
            });
        }
    }
    Report { owner: plan.owner.clone(), in_sync: drift.is_empty(), drift, peerings }
}

/// For terminals and logs.
pub fn text(report: &Report) -> String {
    if report.in_sync {
        return format!("No drift: live state matches the spec ({} peering(s), owner `{}`).\n", report.peerings.len(), report.owner);
    }
    let mut out = String::new();
    for peering in report.peerings.iter().filter(|p| p.drifted > 0) {
        let status = peering.status.as_deref().unwrap_or("missing");
        let _ = writeln!(out, "peering \"{}\" ({}, {status}): {} drifted", peering.name, peering.cloud, peering.drifted);
        for item in report.drift.iter().filter(|d| d.peering == peering.name) {
            let object = if item.object.is_empty() { String::new() } else { format!("{}: ", item.object) };
            let _ = writeln!(out, "  {:<18} {object}{}", item.kind.as_str(), item.detail);
        }
    }
    let _ = writeln!(
        out,
        "\nDrift: {} object(s) in {} peering(s) differ from the spec.",
        report.drift.len(),
        report.peerings.iter().filter(|p| p.drifted > 0).count()
    );
    out
}

/// Prometheus text format, for node_exporter's textfile collector. `now` is
/// seconds since the Unix epoch. `report` is `None` when the check failed.
pub fn metrics(owner: &str, report: Option<&Report>, now: f64) -> String {
    let owner = escape(owner);
    let mut out = String::new();
    let mut gauge = |name: &str, help: &str, samples: Vec<(String, String)>| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
        for (labels, value) in samples {
            let _ = writeln!(out, "{name}{{{labels}}} {value}");
        }
    };
    gauge(
        "peerctl_drift_last_check_timestamp_seconds",
        "When the last drift check ran.",
        vec![(format!("owner=\"{owner}\""), format!("{now:.0}"))],
    );
    gauge(
        "peerctl_drift_check_success",
        "1 if the last drift check could read live state and plan, else 0.",
        vec![(format!("owner=\"{owner}\""), u8::from(report.is_some()).to_string())],
    );
    let Some(report) = report else { return out };
    let labels = |p: &PeeringDrift| format!("owner=\"{owner}\",peering=\"{}\",cloud=\"{}\"", escape(&p.name), p.cloud);
    gauge(
        "peerctl_drifted_objects",
        "Objects of the peering that differ from the spec.",
        report.peerings.iter().map(|p| (labels(p), p.drifted.to_string())).collect(),
    );
    let active = |p: &PeeringDrift| u8::from(p.status.as_deref() == Some("active")).to_string();
    gauge(
        "peerctl_peering_active",
        "1 if the peering is active on both sides, else 0.",
        report.peerings.iter().filter(|p| !p.absent).map(|p| (labels(p), active(p))).collect(),
    );
    gauge(
        "peerctl_peering_status",
        "Always 1; the status label says how the peering is (active, pending-acceptance, missing, ...).",
        report
            .peerings
            .iter()
            .filter(|p| !p.absent)
            .map(|p| (format!("{},status=\"{}\"", labels(p), escape(p.status.as_deref().unwrap_or("missing"))), "1".to_string()))
            .collect(),
    );
    out
}

/// A Prometheus label value: backslash, quote and newline escaped.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Action, Conflict, PLAN_FORMAT_VERSION, PeeringStatus, Step, Unmanaged};

    fn plan() -> Plan {
        let status = |name: &str, status: Option<&str>| PeeringStatus {
            name: name.into(),
            cloud: "gcp".into(),
            absent: false,
            connection: None,
            status: status.map(str::to_string),
        };
        Plan {
            format_version: PLAN_FORMAT_VERSION,
            owner: "team".into(),
            spec_file: "spec.yaml".into(),
            spec_digest: String::new(),
            options: Default::default(),
            basis: String::new(),
            steps: vec![Step {
                peering: "a".into(),
                action: Box::new(Action::GcpDeleteFirewall { project: "proj-123".into(), name: "peerctl-team--a-c".into() }),
                reason: "the spec no longer asks for this rule".into(),
                depends_on: vec![],
            }],
            conflicts: vec![Conflict { peering: "a".into(), message: "a route by hand".into() }],
            peerings: vec![status("a", Some("inactive / missing")), status("b", Some("active"))],
            unmanaged: vec![Unmanaged { peering: "old".into(), cloud: "aws".into(), connection: "pcx-1".into(), status: "active".into() }],
        }
    }

    #[test]
    fn every_step_conflict_and_unmanaged_peering_is_drift() {
        let report = report(&plan());
        let kinds: Vec<(&str, Kind)> = report.drift.iter().map(|d| (d.peering.as_str(), d.kind)).collect();
        assert_eq!(kinds, [("a", Kind::ExtraOwned), ("a", Kind::ForeignConflict), ("old", Kind::NotInSpec)]);
        let drifted: Vec<(&str, usize)> = report.peerings.iter().map(|p| (p.name.as_str(), p.drifted)).collect();
        assert_eq!(drifted, [("a", 2), ("b", 0), ("old", 1)]);
        assert!(!report.in_sync);
        let text = text(&report);
        assert!(text.contains("peering \"a\" (gcp, inactive / missing): 2 drifted"), "{text}");
        assert!(!text.contains("peering \"b\""), "{text}");
    }

    #[test]
    fn metrics_are_prometheus_gauges_per_peering() {
        let report = report(&plan());
        let text = metrics("team", Some(&report), 1_700_000_000.0);
        for line in [
            "# TYPE peerctl_drifted_objects gauge",
            "peerctl_drifted_objects{owner=\"team\",peering=\"a\",cloud=\"gcp\"} 2",
            "peerctl_drifted_objects{owner=\"team\",peering=\"old\",cloud=\"aws\"} 1",
            "peerctl_peering_active{owner=\"team\",peering=\"b\",cloud=\"gcp\"} 1",
            "peerctl_peering_status{owner=\"team\",peering=\"a\",cloud=\"gcp\",status=\"inactive / missing\"} 1",
            "peerctl_drift_last_check_timestamp_seconds{owner=\"team\"} 1700000000",
            "peerctl_drift_check_success{owner=\"team\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "missing `{line}` in\n{text}");
        }
        let failed = metrics("te\"am", None, 1.0);
        assert!(failed.contains("peerctl_drift_check_success{owner=\"te\\\"am\"} 0"), "{failed}");
        assert!(!failed.contains("peerctl_drifted_objects{"), "{failed}");
    }
}
