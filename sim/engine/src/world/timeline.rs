//! One model of the world over time for everything after loading: the
//! scenario's own timeline, or the one a replay lived.

use crate::load::{Scenario, Session};

use super::{Grant, World};

/// The world over time as one run of a scenario sees it: the segments (an
/// entity store per stretch in which nothing changes), the grants in force
/// and the sessions' spans; everything else (policies, schema, facts, steps)
/// is the scenario's.
///
/// [`Timeline::loaded`] is what the scenario file says. A replay whose world
/// changes (effects, dormant sessions started by steps) lives another one,
/// owned by a [`Lived`]; accounting and the gate measure that one. Nothing
/// copies the scenario to describe it.
#[derive(Debug, Clone, Copy)]
pub struct Timeline<'s> {
    /// The scenario, for all that does not change over the run.
    pub scenario: &'s Scenario,
    /// The segments.
    pub world: &'s World,
    /// Every grant (and every change an effect made, as a grant) over the run.
    pub grants: &'s [Grant],
    /// The sessions, each with the span it ran.
    pub sessions: &'s [Session],
}

impl<'s> Timeline<'s> {
    /// The scenario's timeline as loaded.
    pub fn loaded(scenario: &'s Scenario) -> Self {
        Self {
            scenario,
            world: &scenario.world,
            grants: &scenario.grants,
            sessions: &scenario.sessions,
        }
    }
}

/// The parts of a timeline a replay lived that differ from the loaded one
/// ([`super::state::lived`]): the world rebuilt with every change as a
/// grant, those grants, and the sessions with dormant ones bounded by when
/// they ran.
#[derive(Debug, Clone)]
pub struct Lived {
    world: World,
    grants: Vec<Grant>,
    sessions: Vec<Session>,
}

impl Lived {
    pub(crate) fn new(world: World, grants: Vec<Grant>, sessions: Vec<Session>) -> Self {
        Self {
            world,
            grants,
            sessions,
        }
    }

    /// The lived timeline of `scenario` (the scenario it was lived from).
    pub fn timeline<'s>(&'s self, scenario: &'s Scenario) -> Timeline<'s> {
        Timeline {
            scenario,
            world: &self.world,
            grants: &self.grants,
            sessions: &self.sessions,
        }
    }
}

/// The timeline `lived` describes, else the scenario's own.
pub fn of<'s>(scenario: &'s Scenario, lived: Option<&'s Lived>) -> Timeline<'s> {
    lived.map_or_else(|| Timeline::loaded(scenario), |l| l.timeline(scenario))
}
