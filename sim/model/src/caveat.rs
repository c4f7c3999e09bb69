//! Caveats as data: what a search or an observation window left out, as a
//! kind (a closed set) with the numbers and names that kind needs, and the
//! one table that writes each kind's sentence.
//!
//! The engine returns [`SearchLimit`]s and [`WindowLimit`]s, never
//! sentences. The contract carries both: `limits` (this data, so a CI
//! pipeline can act on a kind without parsing English) and `caveats` (the
//! sentences of [`SearchLimit::sentence`] and [`WindowLimit::sentence`], the
//! field the contract had first, byte-identical to what the engine used to
//! write). The sentences are written here, in the model crate, because the
//! engine fills `caveats` when it builds the result and cannot depend on the
//! report crate; a report reads the sentences like any other field.
//!
//! In JSON a limit is an object whose first key is `kind`, followed by that
//! kind's fields. Reading one back dispatches on `kind` before reading the
//! rest, so an unknown kind is an error naming the known kinds at its line
//! and column, and a limit reads back exactly as it was written.

use std::fmt;

use serde::de::value::MapAccessDeserializer;
use serde::de::{Error as _, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::closed::closed_set;
use crate::time::Instant;

closed_set! {
    /// What an escalation search's move set left out, in the order a
    /// summary lists them.
    pub enum SearchLimitKind ("kind of search limit") {
        /// Workers stopped at the cap of distinct states kept (`--max-states`).
        StateCap = "state-cap",
        /// More moments the world changes at were pending than the clock
        /// moves tried from a state.
        ClockMoves = "clock-moves",
        /// Datetime literals of the policies that could not be read as a moment.
        UnreadMoments = "unread-moments",
        /// The policies compute times, so a computed moment may be missed.
        TimeArithmetic = "time-arithmetic",
        /// A never rule's type pattern matched more entities than act.
        Principals = "principals",
        /// Actions with more combinations of context values than were tried.
        ContextCombinations = "context-combinations",
        /// Context keys whose values could not all be derived from the policies.
        UnguidedContext = "unguided-context",
        /// Actions never requested: no entity could fill a context key.
        UnfillableContext = "unfillable-context",
        /// Effects of allowed requests that could not apply.
        EffectsNotApplied = "effects-not-applied",
        /// Allowed requests whose effects would make the world invalid.
        EffectsRejected = "effects-rejected",
        /// States whose world could not be built.
        UncheckedStates = "unchecked-states",
        /// The result is one shard of a campaign (`--shard I/N`).
        Shard = "shard",
        /// The result was merged from shards (`privsim fuzz merge`).
        Merged = "merged",
    }
}

closed_set! {
    /// What limits an observation window's findings, in the order a window
    /// lists them.
    pub enum WindowLimitKind ("kind of observation limit") {
        /// The window starts before the scenario's start.
        StartBeforeScenario = "start-before-scenario",
        /// Steps with no time of their own take the previous step's.
        UntimedSteps = "untimed-steps",
        /// Allowed steps fall outside the window.
        StepsOutside = "steps-outside",
        /// Principals have pairs that could not be asked about.
        UncheckedPairs = "unchecked-pairs",
    }
}

closed_set! {
    /// Why the values of a context key the policies read could not all be
    /// derived from them.
    pub enum UnguidedWhy ("reason a context key is unguided") {
        /// The key is compared with a computed value.
        Computed = "computed",
        /// The key is an argument of an extension function (`name`).
        Extension = "extension-argument",
        /// The key is read as a record with an attribute (`name`) no entity has.
        Record = "record",
        /// The key is tested with `has` only.
        HasOnly = "has-only",
        /// The schema's context type rejected every value derived.
        IllTyped = "ill-typed",
        /// A session presents the key, so it is not varied for principals
        /// acting alone either.
        SessionPresented = "session-presented",
    }
}

/// How many of a sharded or parallel search's workers stopped at the state cap.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct WorkersStopped {
    /// Workers that stopped at their share of the cap.
    pub stopped: usize,
    /// Workers of this result.
    pub of: usize,
}

/// A `[[never]]` rule whose type pattern matched more entities than act.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct UnsearchedRule {
    /// The rule's line in the scenario file.
    pub line: usize,
    /// How many matching entities never acted.
    pub more: usize,
}

/// A context key and how many values the search tried for it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ContextKeyValues {
    /// The context key.
    pub key: String,
    /// How many values.
    pub values: usize,
}

/// An action requested with only some of its combinations of context values.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CutContext {
    /// The action.
    pub action: String,
    /// Combinations tried.
    pub tried: usize,
    /// Combinations there are.
    pub combinations: u128,
    /// The context keys and how many values each takes.
    pub keys: Vec<ContextKeyValues>,
    /// Distinct scripted contexts the combinations start from.
    pub scripted: usize,
}

/// One reason a context key is unguided.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct UnguidedReason {
    /// Why.
    pub why: UnguidedWhy,
    /// The extension function or the record attribute, for those reasons.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub name: Option<String>,
}

/// A context key the policies read whose values were not all derived.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct UnguidedKey {
    /// The context key.
    pub key: String,
    /// Why, each reason once, in a fixed order.
    pub reasons: Vec<UnguidedReason>,
}

/// An action never requested because no entity could fill a context key.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct UnfillableAction {
    /// The action.
    pub action: String,
    /// The context key.
    pub key: String,
    /// The entity types the key takes (empty: any).
    pub types: Vec<String>,
}

/// An effect that could not apply.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct EffectNotApplied {
    /// The effect's 1-based number among the scenario's effects.
    pub effect: usize,
    /// Its line in the scenario file.
    pub line: usize,
    /// Its action.
    pub action: String,
    /// On how many allowed requests it could not apply.
    pub count: u64,
    /// Why, the first time (its first line).
    pub reason: String,
}

/// An action whose allowed requests had effects that would make the world invalid.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct EffectsRejectedBy {
    /// The action.
    pub action: String,
    /// How many allowed requests.
    pub count: u64,
    /// Why, the first time (its first line).
    pub reason: String,
}

/// One thing an escalation search left out, as data; [`SearchLimit::sentence`]
/// says it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SearchLimit {
    /// Workers stopped at the state cap before the budget of moves was spent.
    StateCap {
        /// The cap (`--max-states`).
        max_states: u64,
        /// With several workers: how many stopped (absent: the one search did).
        workers: Option<WorkersStopped>,
    },
    /// More moments were pending than were tried.
    ClockMoves {
        /// States with more pending moments than were tried.
        states: usize,
        /// The most moments pending in one state.
        most: usize,
        /// That state's time (RFC 3339, UTC).
        at: Instant,
        /// How many of the earliest moments were tried from each state.
        tried: usize,
        /// Whether `--tick` moved the clock in fixed steps too.
        tick: bool,
    },
    /// Datetime literals that could not be read as a moment.
    UnreadMoments {
        /// The literals (first line of each).
        literals: Vec<String>,
        /// Whether `--tick` moved the clock in fixed steps too.
        tick: bool,
    },
    /// Time arithmetic in the policies.
    TimeArithmetic {
        /// The methods the policies compute times with.
        methods: Vec<String>,
        /// Whether `--tick` moved the clock in fixed steps too.
        tick: bool,
    },
    /// Never rules whose type pattern matched more entities than act.
    Principals {
        /// How many matching entities act per rule.
        per_rule: usize,
        /// The rules.
        rules: Vec<UnsearchedRule>,
    },
    /// Actions with more combinations of context values than were tried.
    ContextCombinations {
        /// Combinations tried per request.
        per_request: usize,
        /// The actions.
        actions: Vec<CutContext>,
    },
    /// Context keys whose values could not all be derived.
    UnguidedContext {
        /// The keys, sorted.
        keys: Vec<UnguidedKey>,
    },
    /// Actions never requested for want of an entity for a context key.
    UnfillableContext {
        /// The actions.
        actions: Vec<UnfillableAction>,
    },
    /// Effects that could not apply.
    EffectsNotApplied {
        /// The effects, in scenario order.
        effects: Vec<EffectNotApplied>,
    },
    /// Allowed requests whose effects would make the world invalid.
    EffectsRejected {
        /// Per action, sorted.
        actions: Vec<EffectsRejectedBy>,
    },
    /// States whose world could not be built.
    UncheckedStates {
        /// How many.
        states: u64,
        /// The first one's time (RFC 3339, UTC).
        first_at: Instant,
        /// Why, the first time (its first line).
        reason: String,
    },
    /// The result is one shard of a campaign.
    Shard {
        /// Which shard, 1 to `count`.
        index: usize,
        /// How many shards.
        count: usize,
        /// Its first worker, 1-based.
        first_worker: usize,
        /// Its last worker, 1-based.
        last_worker: usize,
        /// The campaign's workers (`--jobs`).
        jobs: usize,
    },
    /// The result was merged from shards.
    Merged {
        /// How many shards.
        shards: usize,
    },
}

/// One thing that limits an observation window's findings, as data;
/// [`WindowLimit::sentence`] says it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum WindowLimit {
    /// The window starts before the scenario's start.
    StartBeforeScenario {
        /// The window's start (RFC 3339, UTC).
        start: Instant,
        /// The scenario's start.
        scenario_start: Instant,
    },
    /// Steps with no time of their own.
    UntimedSteps {
        /// How many.
        steps: usize,
    },
    /// Allowed steps outside the window.
    StepsOutside {
        /// How many.
        steps: usize,
    },
    /// Principals with `unchecked` pairs.
    UncheckedPairs {
        /// How many.
        principals: usize,
    },
}

/// `request`, `requests`.
fn plural(count: u64, noun: &str) -> String {
    if count == 1 {
        noun.to_string()
    } else {
        format!("{noun}s")
    }
}

/// `once`, `3 times`.
fn times(count: u64) -> String {
    if count == 1 {
        "once".to_string()
    } else {
        format!("{count} times")
    }
}

/// At most three items, then how many more.
fn listed<I: IntoIterator<Item = String>>(items: I) -> String {
    const SHOWN: usize = 3;
    let items: Vec<String> = items.into_iter().collect();
    let more = items.len().saturating_sub(SHOWN);
    let mut text = items.into_iter().take(SHOWN).collect::<Vec<_>>().join(", ");
    if more > 0 {
        text.push_str(&format!(", and {more} more"));
    }
    text
}

/// What to do about clock moments left out.
fn tick_hint(tick: bool) -> &'static str {
    if tick {
        ""
    } else {
        "; use --tick to move the clock in fixed steps"
    }
}

impl CutContext {
    /// `` `key`: 3 values × `other`: 2 values × 4 scripted contexts ``.
    fn factors(&self) -> String {
        let mut factors: Vec<String> = self
            .keys
            .iter()
            .map(|k| {
                format!(
                    "`{}`: {} {}",
                    k.key,
                    k.values,
                    plural(k.values as u64, "value")
                )
            })
            .collect();
        if self.scripted > 1 {
            factors.push(format!("{} scripted contexts", self.scripted));
        }
        factors.join(" × ")
    }
}

impl UnguidedReason {
    fn words(&self) -> String {
        let name = self.name.as_deref().unwrap_or_default();
        match self.why {
            UnguidedWhy::Computed => "compared with a computed value".to_string(),
            UnguidedWhy::Extension => format!("an argument of `{name}`"),
            UnguidedWhy::Record => format!("read as a record with `{name}`, which no entity has"),
            UnguidedWhy::HasOnly => "tested with `has` only".to_string(),
            UnguidedWhy::IllTyped => {
                "the schema's context type rejected every value derived".to_string()
            }
            UnguidedWhy::SessionPresented => {
                "a session presents it, so it is not varied for principals acting alone either"
                    .to_string()
            }
        }
    }
}

impl SearchLimit {
    /// Its kind.
    pub fn kind(&self) -> SearchLimitKind {
        match self {
            Self::StateCap { .. } => SearchLimitKind::StateCap,
            Self::ClockMoves { .. } => SearchLimitKind::ClockMoves,
            Self::UnreadMoments { .. } => SearchLimitKind::UnreadMoments,
            Self::TimeArithmetic { .. } => SearchLimitKind::TimeArithmetic,
            Self::Principals { .. } => SearchLimitKind::Principals,
            Self::ContextCombinations { .. } => SearchLimitKind::ContextCombinations,
            Self::UnguidedContext { .. } => SearchLimitKind::UnguidedContext,
            Self::UnfillableContext { .. } => SearchLimitKind::UnfillableContext,
            Self::EffectsNotApplied { .. } => SearchLimitKind::EffectsNotApplied,
            Self::EffectsRejected { .. } => SearchLimitKind::EffectsRejected,
            Self::UncheckedStates { .. } => SearchLimitKind::UncheckedStates,
            Self::Shard { .. } => SearchLimitKind::Shard,
            Self::Merged { .. } => SearchLimitKind::Merged,
        }
    }

    /// The sentence the summary's `caveats` carry for it: the one table of
    /// the search's caveat sentences.
    pub fn sentence(&self) -> String {
        match self {
            Self::StateCap {
                max_states,
                workers,
            } => {
                let who = match workers {
                    None => "the search".to_string(),
                    Some(w) => format!(
                        "{} of {} workers (each keeps its share of the cap)",
                        w.stopped, w.of
                    ),
                };
                format!(
                    "states: {who} stopped at the cap of {max_states} distinct states kept (--max-states) before the budget of moves was spent; the states beyond it were not explored (the state that reached the cap was still checked), so an exhaustive depth covers only the levels completed before; raise --max-states (memory grows with it)"
                )
            }
            Self::ClockMoves {
                states,
                most,
                at,
                tried,
                tick,
            } => {
                let what = if *states == 1 {
                    format!(
                        "{most} moments the world changes at were pending at {at}, only the earliest {tried} were tried"
                    )
                } else {
                    format!(
                        "in {states} states more than {tried} moments the world changes at were pending (the most, {most}, at {at}), only the earliest {tried} were tried from each"
                    )
                };
                let fix = if *tick {
                    "raise --depth"
                } else {
                    "raise --depth, or use --tick to move the clock in fixed steps"
                };
                format!(
                    "clock moves: {what}; a later moment is reached only through the earlier ones, one move each, so states there may lie beyond the depth explored; {fix}"
                )
            }
            Self::UnreadMoments { literals, tick } => format!(
                "clock moments: the policies' datetime {} {} could not be read as a moment, so the clock was never moved there (if Cedar cannot read it either, the policy errs and nothing changes there){}",
                plural(literals.len() as u64, "literal"),
                listed(literals.iter().map(|l| format!("`{l}`"))),
                tick_hint(*tick)
            ),
            Self::TimeArithmetic { methods, tick } => format!(
                "clock moments: the policies compute times ({}); the clock was moved to the datetimes of the policies and the data and to those shifted by each duration literal, but a moment computed otherwise may have been missed{}",
                listed(methods.iter().map(|m| format!("`{m}`"))),
                tick_hint(*tick)
            ),
            Self::Principals { per_rule, rules } => format!(
                "principals: a never rule's type pattern matched more entities than the {per_rule} per rule that act in the search ({}); the others were never tried as actors",
                listed(
                    rules
                        .iter()
                        .map(|r| format!("line {}: {} more", r.line, r.more))
                )
            ),
            Self::ContextCombinations {
                per_request,
                actions,
            } => match actions.as_slice() {
                [one] => format!(
                    "context values: {} was requested with {} of its {} combinations of context values ({}); requests with the other {} were never made",
                    one.action,
                    one.tried,
                    one.combinations,
                    one.factors(),
                    one.combinations.saturating_sub(one.tried as u128)
                ),
                many => format!(
                    "context values: {} actions have more combinations of context values than the {per_request} tried per request: {}; requests with the other combinations were never made",
                    many.len(),
                    listed(many.iter().map(|c| format!(
                        "{} ({} of {}: {})",
                        c.action,
                        c.tried,
                        c.combinations,
                        c.factors()
                    )))
                ),
            },
            Self::UnguidedContext { keys } => format!(
                "context values: the policies read {} whose values could not all be derived from them: {}; only the scripted values and those derived were tried",
                if keys.len() == 1 {
                    "1 context key".to_string()
                } else {
                    format!("{} context keys", keys.len())
                },
                listed(keys.iter().map(|k| {
                    let why: Vec<String> = k.reasons.iter().map(UnguidedReason::words).collect();
                    format!("`{}` ({})", k.key, why.join("; "))
                }))
            ),
            Self::UnfillableContext { actions } => format!(
                "context values: {} never requested, because an effect of the action reads an entity from a context key and the world has no entity to put there: {}; neither the requests nor their effects were tried",
                if actions.len() == 1 {
                    "1 action was".to_string()
                } else {
                    format!("{} actions were", actions.len())
                },
                listed(actions.iter().map(|a| {
                    let kinds = if a.types.is_empty() {
                        String::new()
                    } else {
                        format!(" of type {}", a.types.join(" or "))
                    };
                    format!(
                        "{} (no entity{kinds} for context key `{}`)",
                        a.action, a.key
                    )
                }))
            ),
            Self::EffectsNotApplied { effects } => {
                let said = |e: &EffectNotApplied| {
                    (
                        format!("effect {} (line {}) of {}", e.effect, e.line, e.action),
                        format!(
                            "on {} allowed {} ({})",
                            e.count,
                            plural(e.count, "request"),
                            e.reason
                        ),
                    )
                };
                match effects.as_slice() {
                    [one] => {
                        let (effect, how) = said(one);
                        format!(
                            "effects not applied: {effect} could not apply {how}; the search went on without its change, so the states it would have made were not explored"
                        )
                    }
                    many => format!(
                        "effects not applied: {} effects could not apply: {}; the search went on without their changes, so the states they would have made were not explored",
                        many.len(),
                        listed(many.iter().map(|e| {
                            let (effect, how) = said(e);
                            format!("{effect} {how}")
                        }))
                    ),
                }
            }
            Self::EffectsRejected { actions } => {
                let total: u64 = actions.iter().map(|a| a.count).sum();
                format!(
                    "effects rejected: {total} allowed {} had effects that would make the world invalid: {}; each was treated as changing nothing, so the states past them were not explored",
                    plural(total, "request"),
                    listed(actions.iter().map(|a| format!(
                        "{} {} ({})",
                        a.action,
                        times(a.count),
                        a.reason
                    )))
                )
            }
            Self::UncheckedStates {
                states,
                first_at,
                reason,
            } => format!(
                "unchecked states: the world could not be built in {states} {} (first at {first_at}: {reason}); their invariants were not checked and no request in them was evaluated",
                plural(*states, "state")
            ),
            Self::Shard {
                index,
                count,
                first_worker,
                last_worker,
                jobs,
            } => format!(
                "shard: this result is shard {index}/{count} of the campaign: only its workers {first_worker} to {last_worker} of {jobs} searched, so the findings and any exhaustive depth cover that part alone; merge every shard's result with `privsim fuzz merge`"
            ),
            Self::Merged { shards } => format!(
                "shards: merged from {shards} shards; `states` is the sum of theirs (a state two shards reached counts twice), and the caveats are those of every shard"
            ),
        }
    }
}

impl WindowLimit {
    /// Its kind.
    pub fn kind(&self) -> WindowLimitKind {
        match self {
            Self::StartBeforeScenario { .. } => WindowLimitKind::StartBeforeScenario,
            Self::UntimedSteps { .. } => WindowLimitKind::UntimedSteps,
            Self::StepsOutside { .. } => WindowLimitKind::StepsOutside,
            Self::UncheckedPairs { .. } => WindowLimitKind::UncheckedPairs,
        }
    }

    /// The sentence the window's `caveats` carry for it: the one table of
    /// the observation window's caveat sentences.
    pub fn sentence(&self) -> String {
        match self {
            Self::StartBeforeScenario {
                start,
                scenario_start,
            } => format!(
                "the window starts at {start}, before the scenario's start {scenario_start}: nothing is known before that start, so held time counts from it"
            ),
            Self::UntimedSteps { steps } => format!(
                "{steps} step(s) have no time of their own (no `at`) and take the previous step's time, so their uses are dated by it"
            ),
            Self::StepsOutside { steps } => format!(
                "{steps} allowed step(s) fall outside the window and do not count as uses in it"
            ),
            Self::UncheckedPairs { principals } => format!(
                "{principals} principal(s) have pairs that could not be asked about (`unchecked`): those pairs have no idle time and are never unused-access findings"
            ),
        }
    }
}

// In JSON a limit is `{"kind": …, <its fields>}`: the fields of each
// variant are a private struct of the same shape, so serde writes and reads
// them, and the kind is read first to pick which.
macro_rules! tagged {
    ($limit:ident, $kind:ident, $visitor:ident, $expecting:literal {
        $($variant:ident { $($field:ident: $ty:ty),* $(,)? })+
    }) => {
        impl Serialize for $limit {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                match self {
                    $(
                        Self::$variant { $($field),* } => {
                            #[derive(Serialize)]
                            struct Fields<'a> {
                                kind: $kind,
                                $($field: &'a $ty,)*
                            }
                            Fields { kind: $kind::$variant, $($field),* }.serialize(serializer)
                        }
                    )+
                }
            }
        }

        impl<'de> Deserialize<'de> for $limit {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct $visitor;
                impl<'de> Visitor<'de> for $visitor {
                    type Value = $limit;

                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($expecting)
                    }

                    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<$limit, A::Error> {
                        if map.next_key::<String>()?.as_deref() != Some("kind") {
                            return Err(A::Error::custom(concat!($expecting, " starts with its `kind`")));
                        }
                        let kind: $kind = map.next_value()?;
                        let rest = MapAccessDeserializer::new(map);
                        match kind {
                            $(
                                $kind::$variant => {
                                    #[derive(Deserialize)]
                                    struct Fields {
                                        $($field: $ty,)*
                                    }
                                    let Fields { $($field),* } = Fields::deserialize(rest)?;
                                    Ok($limit::$variant { $($field),* })
                                }
                            )+
                        }
                    }
                }
                deserializer.deserialize_map($visitor)
            }
        }
    };
}

tagged!(SearchLimit, SearchLimitKind, SearchLimitVisitor, "a search limit" {
    StateCap { max_states: u64, workers: Option<WorkersStopped> }
    ClockMoves { states: usize, most: usize, at: Instant, tried: usize, tick: bool }
    UnreadMoments { literals: Vec<String>, tick: bool }
    TimeArithmetic { methods: Vec<String>, tick: bool }
    Principals { per_rule: usize, rules: Vec<UnsearchedRule> }
    ContextCombinations { per_request: usize, actions: Vec<CutContext> }
    UnguidedContext { keys: Vec<UnguidedKey> }
    UnfillableContext { actions: Vec<UnfillableAction> }
    EffectsNotApplied { effects: Vec<EffectNotApplied> }
    EffectsRejected { actions: Vec<EffectsRejectedBy> }
    UncheckedStates { states: u64, first_at: Instant, reason: String }
    Shard { index: usize, count: usize, first_worker: usize, last_worker: usize, jobs: usize }
    Merged { shards: usize }
});

tagged!(WindowLimit, WindowLimitKind, WindowLimitVisitor, "an observation limit" {
    StartBeforeScenario { start: Instant, scenario_start: Instant }
    UntimedSteps { steps: usize }
    StepsOutside { steps: usize }
    UncheckedPairs { principals: usize }
});

#[cfg(test)]
mod tests {
    use super::*;

    /// One limit of every kind, with lists of more than three items where a
    /// sentence lists them, so `listed` shortens them.
    fn one_of_each() -> Vec<SearchLimit> {
        let four = |prefix: &str| (1..=4).map(|i| format!("{prefix}{i}")).collect::<Vec<_>>();
        vec![
            SearchLimit::StateCap {
                max_states: 1_000,
                workers: Some(WorkersStopped { stopped: 2, of: 3 }),
            },
            SearchLimit::ClockMoves {
                states: 2,
                most: 7,
                at: Instant(1_767_225_600_000),
                tried: 4,
                tick: false,
            },
            SearchLimit::UnreadMoments {
                literals: vec!["2026-13-01".to_string()],
                tick: true,
            },
            SearchLimit::TimeArithmetic {
                methods: four("offset"),
                tick: false,
            },
            SearchLimit::Principals {
                per_rule: 32,
                rules: vec![UnsearchedRule { line: 9, more: 3 }],
            },
            SearchLimit::ContextCombinations {
                per_request: 64,
                actions: vec![CutContext {
                    action: "Action::\"a\"".to_string(),
                    tried: 64,
                    // More than a u64 holds: read back exactly all the same.
                    combinations: u128::from(u64::MAX) * 3,
                    keys: vec![ContextKeyValues {
                        key: "k".to_string(),
                        values: 1,
                    }],
                    scripted: 2,
                }],
            },
            SearchLimit::UnguidedContext {
                keys: vec![UnguidedKey {
                    key: "ip".to_string(),
                    reasons: vec![
                        UnguidedReason {
                            why: UnguidedWhy::Extension,
                            name: Some("ip".to_string()),
                        },
                        UnguidedReason {
                            why: UnguidedWhy::HasOnly,
                            name: None,
                        },
                    ],
                }],
            },
            SearchLimit::UnfillableContext {
                actions: vec![UnfillableAction {
                    action: "Action::\"b\"".to_string(),
                    key: "target".to_string(),
                    types: vec!["User".to_string(), "Group".to_string()],
                }],
            },
            SearchLimit::EffectsNotApplied {
                effects: vec![EffectNotApplied {
                    effect: 2,
                    line: 30,
                    action: "Action::\"c\"".to_string(),
                    count: 1,
                    reason: "no such entity".to_string(),
                }],
            },
            SearchLimit::EffectsRejected {
                actions: vec![EffectsRejectedBy {
                    action: "Action::\"d\"".to_string(),
                    count: 3,
                    reason: "bad attribute".to_string(),
                }],
            },
            SearchLimit::UncheckedStates {
                states: 1,
                first_at: Instant(1_767_312_000_500),
                reason: "a cycle".to_string(),
            },
            SearchLimit::Shard {
                index: 2,
                count: 3,
                first_worker: 3,
                last_worker: 4,
                jobs: 6,
            },
            SearchLimit::Merged { shards: 3 },
        ]
    }

    #[test]
    fn every_search_limit_kind_reads_back_exactly_with_its_kind_first() {
        let limits = one_of_each();
        let kinds: Vec<SearchLimitKind> = limits.iter().map(SearchLimit::kind).collect();
        assert_eq!(
            kinds,
            SearchLimitKind::ALL,
            "one of each kind, in table order"
        );
        for limit in &limits {
            let json = serde_json::to_string(limit).unwrap_or_default();
            let kind_first = format!("{{\"kind\":\"{}\",", limit.kind());
            assert!(json.starts_with(&kind_first), "{json}");
            let back: SearchLimit =
                serde_json::from_str(&json).unwrap_or_else(|e| panic!("{json}: {e}"));
            assert_eq!(&back, limit);
            assert_eq!(back.sentence(), limit.sentence());
        }
        let windows = [
            WindowLimit::StartBeforeScenario {
                start: Instant(1_767_225_600_000),
                scenario_start: Instant(1_767_312_000_000),
            },
            WindowLimit::UntimedSteps { steps: 2 },
            WindowLimit::StepsOutside { steps: 1 },
            WindowLimit::UncheckedPairs { principals: 4 },
        ];
        let kinds: Vec<WindowLimitKind> = windows.iter().map(WindowLimit::kind).collect();
        assert_eq!(kinds, WindowLimitKind::ALL);
        for limit in &windows {
            let json = serde_json::to_string(limit).unwrap_or_default();
            let back: WindowLimit =
                serde_json::from_str(&json).unwrap_or_else(|e| panic!("{json}: {e}"));
            assert_eq!(&back, limit);
        }
    }

    #[test]
    fn the_sentences_say_the_data() {
        let limits = one_of_each();
        let said: Vec<String> = limits.iter().map(SearchLimit::sentence).collect();
        assert_eq!(
            said[0],
            "states: 2 of 3 workers (each keeps its share of the cap) stopped at the cap of 1000 distinct states kept (--max-states) before the budget of moves was spent; the states beyond it were not explored (the state that reached the cap was still checked), so an exhaustive depth covers only the levels completed before; raise --max-states (memory grows with it)"
        );
        assert_eq!(
            said[3],
            "clock moments: the policies compute times (`offset1`, `offset2`, `offset3`, and 1 more); the clock was moved to the datetimes of the policies and the data and to those shifted by each duration literal, but a moment computed otherwise may have been missed; use --tick to move the clock in fixed steps"
        );
        assert_eq!(
            said[5],
            "context values: Action::\"a\" was requested with 64 of its 55340232221128654845 combinations of context values (`k`: 1 value × 2 scripted contexts); requests with the other 55340232221128654781 were never made"
        );
        assert_eq!(
            said[6],
            "context values: the policies read 1 context key whose values could not all be derived from them: `ip` (an argument of `ip`; tested with `has` only); only the scripted values and those derived were tried"
        );
        assert_eq!(
            said[9],
            "effects rejected: 3 allowed requests had effects that would make the world invalid: Action::\"d\" 3 times (bad attribute); each was treated as changing nothing, so the states past them were not explored"
        );
        assert_eq!(
            said[11],
            "shard: this result is shard 2/3 of the campaign: only its workers 3 to 4 of 6 searched, so the findings and any exhaustive depth cover that part alone; merge every shard's result with `privsim fuzz merge`"
        );
        assert_eq!(
            WindowLimit::UntimedSteps { steps: 2 }.sentence(),
            "2 step(s) have no time of their own (no `at`) and take the previous step's time, so their uses are dated by it"
        );
    }

    #[test]
    fn an_unknown_or_misplaced_kind_is_a_located_error() {
        let json = "[\n  {\"kind\": \"merged\", \"shards\": 2},\n  {\"kind\": \"gremlins\", \"count\": 1}\n]";
        let error = serde_json::from_str::<Vec<SearchLimit>>(json)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            error.starts_with(
                "unknown kind of search limit `gremlins`, expected one of `state-cap`, `clock-moves`,"
            ) && error.ends_with("at line 3 column 21"),
            "{error}"
        );
        let error =
            serde_json::from_str::<WindowLimit>("{\"steps\": 1, \"kind\": \"untimed-steps\"}")
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
        assert!(
            error.starts_with("an observation limit starts with its `kind`"),
            "{error}"
        );
        let error = serde_json::from_str::<WindowLimit>("{\"kind\": \"untimed-steps\"}")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.starts_with("missing field `steps`"), "{error}");
    }
}
