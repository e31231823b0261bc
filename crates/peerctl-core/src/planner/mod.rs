//! The planner: `plan(spec, state)` → `Plan`. Pure and deterministic: no I/O,
//! no clock, no randomness; the same inputs always give the same plan.

mod aws;
mod gcp;
mod limits;
mod resolve;

pub use gcp::entry_name as gcp_entry_name;

use crate::diag::{Diagnostics, Loc};
use crate::plan::{Action, Conflict, PLAN_FORMAT_VERSION, PeeringStatus, Plan, Step, Unmanaged};
use crate::spec::{CloudPeering, Peering, Spec};
use crate::state::State;
use std::collections::BTreeSet;

/// Computes the actions that make `state` match `spec`. Problems that make
/// planning impossible (a VPC that does not exist, overlapping ranges) are
/// diagnostics pointing into the spec; foreign objects in the way are
/// conflicts in the plan.
pub fn plan(spec: &Spec, state: &State) -> Result<Plan, Diagnostics> {
    plan_with(spec, state, &Options::default())
}

/// What a run asks for beyond the spec.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Options {
    /// Plan the deletion of peerings that carry the spec's owner but that the
    /// spec no longer names (otherwise they are only listed).
    pub prune: bool,
    /// Only these peerings (of the spec, or owned ones to prune); all when empty.
    pub targets: Vec<String>,
}

pub fn plan_with(spec: &Spec, state: &State, options: &Options) -> Result<Plan, Diagnostics> {
    // The state's digest takes as long as a quarter of the planning: it is
    // made on a second thread meanwhile.
    std::thread::scope(|threads| {
        let basis = threads.spawn(|| state.fingerprint());
        let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let pieces = (spec.peerings.len() / PIECE).clamp(1, threads);
        let plan = plan_steps(spec, state, options, pieces)?;
        Ok(Plan { basis: basis.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)), ..plan })
    })
}

/// The plan, but for its `basis`; the peerings planned in `pieces`.
pub(crate) fn plan_steps(spec: &Spec, state: &State, options: &Options, pieces: usize) -> Result<Plan, Diagnostics> {
    let targeted = |name: &str| options.targets.is_empty() || options.targets.iter().any(|t| t == name);
    let lookup = aws::Lookup::new(state, &spec.owner);
    let gcp_lookup = gcp::Lookup::new(state, &spec.owner);
    let peerings: Vec<&Peering> = spec.peerings.iter().filter(|p| targeted(&p.name)).collect();
    let mut builder = plan_in_pieces(Builder::new(spec, state, &lookup, &gcp_lookup), &peerings, pieces);
    let mut aws_unmanaged = aws::unmanaged(spec, &lookup);
    let mut gcp_unmanaged = gcp::unmanaged(spec, state);
    aws_unmanaged.retain(|u| targeted(&u.peering));
    gcp_unmanaged.retain(|u| targeted(&u.peering));
    for target in &options.targets {
        let known =
            spec.peerings.iter().any(|p| &p.name == target) || aws_unmanaged.iter().chain(&gcp_unmanaged).any(|u| &u.peering == target);
        if !known {
            builder.diags.error_with_hint(
                Loc::default(),
                format!("--target {target}: no peering of that name in the spec, nor one owned by `{}` in the clouds read", spec.owner),
                "use a peering name from the spec (or, with --prune, of an owned peering listed by plan)",
            );
        }
    }
    if options.prune {
        let names = |list: &[Unmanaged]| list.iter().map(|u| u.peering.clone()).collect::<BTreeSet<_>>();
        for peering in names(&aws_unmanaged) {
            aws::prune(&mut builder, &peering);
        }
        for peering in names(&gcp_unmanaged) {
            gcp::prune(&mut builder, &peering);
        }
    }
    let unmanaged = if options.prune { Vec::new() } else { [aws_unmanaged, gcp_unmanaged].concat() };
    // Two checks of the whole plan, side by side.
    let Builder { steps, conflicts, peerings, mut diags, claimed_routes, .. } = builder;
    let (collisions, limits) = std::thread::scope(|threads| {
        let collisions = threads.spawn(|| {
            let mut diags = Diagnostics::new(spec.file.clone());
            aws::check_route_collisions(claimed_routes, &mut diags);
            diags
        });
        let mut limits = Diagnostics::new(spec.file.clone());
        limits::check(spec, state, &steps, &mut limits);
        (collisions.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)), limits)
    });
    diags.append(collisions);
    diags.append(limits);
    diags.into_result(Plan {
        format_version: PLAN_FORMAT_VERSION,
        owner: spec.owner.clone(),
        spec_file: spec.file.clone(),
        spec_digest: spec.digest.clone(),
        options: options.clone(),
        basis: String::new(),
        steps,
        conflicts,
        peerings,
        unmanaged,
    })
}

/// Each peering is planned on its own, from the same indexes: a large spec
/// is planned in pieces of at least this many peerings, one thread each.
const PIECE: usize = 1_000;

/// Plans `peerings` in `pieces` (on as many threads) and joins the pieces in
/// spec order: the plan is the same however many pieces there were.
fn plan_in_pieces<'a>(empty: Builder<'a>, peerings: &[&'a Peering], pieces: usize) -> Builder<'a> {
    let plan_piece = |mut builder: Builder<'a>, piece: &[&'a Peering]| {
        for &peering in piece {
            match &peering.cloud {
                CloudPeering::Aws(aws) if peering.absent => aws::plan_absent(&mut builder, peering, aws),
                CloudPeering::Aws(aws) => aws::plan_present(&mut builder, peering, aws),
                CloudPeering::Gcp(gcp) if peering.absent => gcp::plan_absent(&mut builder, peering, gcp),
                CloudPeering::Gcp(gcp) => gcp::plan_present(&mut builder, peering, gcp),
            }
        }
        builder
    };
    if pieces <= 1 {
        return plan_piece(empty, peerings);
    }
    let (spec, state, aws, gcp) = (empty.spec, empty.state, empty.aws, empty.gcp);
    std::thread::scope(|threads| {
        let planning: Vec<_> = peerings
            .chunks(peerings.len().div_ceil(pieces))
            .map(|piece| threads.spawn(move || plan_piece(Builder::new(spec, state, aws, gcp), piece)))
            .collect();
        planning.into_iter().fold(empty, |mut whole, piece| {
            whole.append(piece.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)));
            whole
        })
    })
}

/// A route a peering wants: route table, destination, peering, where it is in the spec.
pub(crate) type Claim<'a> = (&'a str, ipnet::IpNet, &'a str, crate::Loc);

/// Accumulates the plan as each peering is considered.
pub(crate) struct Builder<'a> {
    pub spec: &'a Spec,
    pub state: &'a State,
    /// Indexes over `state.aws` and `state.gcp`, built once.
    pub aws: &'a aws::Lookup<'a>,
    pub gcp: &'a gcp::Lookup<'a>,
    pub steps: Vec<Step>,
    pub conflicts: Vec<Conflict>,
    pub peerings: Vec<PeeringStatus>,
    pub diags: Diagnostics,
    /// Every route the plan wants, to catch two peerings claiming one.
    pub claimed_routes: Vec<Claim<'a>>,
}

impl<'a> Builder<'a> {
    fn new(spec: &'a Spec, state: &'a State, aws: &'a aws::Lookup<'a>, gcp: &'a gcp::Lookup<'a>) -> Self {
        Self {
            spec,
            state,
            aws,
            gcp,
            steps: Vec::new(),
            conflicts: Vec::new(),
            peerings: Vec::new(),
            diags: Diagnostics::new(spec.file.clone()),
            claimed_routes: Vec::new(),
        }
    }

    /// Adds a step and returns its index, for later steps to depend on.
    pub fn step(
        &mut self,
        peering: &str,
        action: Action,
        reason: impl Into<std::borrow::Cow<'static, str>>,
        depends_on: Vec<usize>,
    ) -> usize {
        self.steps.push(Step { peering: peering.to_string(), action: Box::new(action), reason: reason.into(), depends_on });
        self.steps.len() - 1
    }

    /// Adds what `later` planned after what this one did, its steps renumbered.
    fn append(&mut self, later: Builder<'a>) {
        let offset = self.steps.len();
        let mut steps = later.steps;
        for step in &mut steps {
            step.depends_on.iter_mut().for_each(|index| *index += offset);
            if let Some(crate::plan::ConnectionRef::CreatedByStep(index)) = step.action.connection_mut() {
                *index += offset;
            }
        }
        if self.steps.is_empty() {
            self.steps = steps; // the first piece's steps are not moved
        } else {
            self.steps.append(&mut steps);
        }
        self.conflicts.extend(later.conflicts);
        self.peerings.extend(later.peerings);
        self.diags.append(later.diags);
        self.claimed_routes.extend(later.claimed_routes);
    }

    pub fn conflict(&mut self, peering: &str, message: impl Into<String>) {
        self.conflicts.push(Conflict { peering: peering.to_string(), message: message.into() });
    }
}
