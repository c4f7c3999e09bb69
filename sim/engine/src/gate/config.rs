//! The gate's configuration file (`privsim-gate.toml`): which kinds of change
//! fail the build, per-principal budgets, the escalation search's budget, and
//! acknowledged exceptions. Parsed like a scenario: unknown keys and bad
//! values are errors at their `file:line:col`.

use std::ops::Range;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use privsim_model::check::ChangeKind;
use privsim_model::diag::{Error, SourceFile};

use crate::load::rules::Pattern;
use privsim_model::result::SearchStrategy;

use super::model::{Budget, FailOn, SearchConfig};

/// The gate's rules.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// The file they came from, as given (none: the built-in defaults).
    pub file: Option<String>,
    /// Which kinds of change fail the gate.
    pub fail_on: FailOn,
    /// Per-principal budgets.
    pub budget: Budget,
    /// The escalation search.
    pub search: SearchConfig,
    /// The proofs (`[prove]`).
    pub prove: ProveConfig,
    /// Acknowledged changes.
    pub exceptions: Vec<Exception>,
}

/// The `[prove]` table: whether the gate proves when a solver is found, and
/// the time limit per solver query. `--prove` / `--no-prove` override it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProveConfig {
    /// `false`: never prove (like `--no-prove`).
    pub enabled: bool,
    /// Milliseconds per solver query.
    pub timeout_ms: u64,
}

impl Default for ProveConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            timeout_ms: crate::prove::DEFAULT_PER_QUERY_MS,
        }
    }
}

/// An acknowledged change: every field given must match.
#[derive(Debug, Clone)]
pub struct Exception {
    /// `file:line` of the `[[exception]]` table.
    pub location: String,
    /// The kind of change.
    pub kind: ChangeKind,
    /// A scenario name or file.
    pub scenario: Option<String>,
    /// The principal, as written and as a pattern.
    pub principal: Option<(String, Pattern)>,
    /// The action.
    pub action: Option<(String, Pattern)>,
    /// The resource.
    pub resource: Option<(String, Pattern)>,
    /// Why it is accepted.
    pub reason: String,
    /// The last day it applies, `YYYY-MM-DD`.
    pub expires: Option<String>,
}

// `privsim-gate.toml` as written; `crate::schema` generates its JSON Schema
// from this type (a line comment: a doc comment would become the schema's
// `description` and move that key in the committed schema).
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    fail_on: Option<RawFailOn>,
    budget: Option<RawBudget>,
    search: Option<RawSearch>,
    prove: Option<RawProve>,
    #[serde(default, rename = "exception")]
    #[cfg_attr(feature = "json-schema", schemars(with = "Vec<RawException>"))]
    exceptions: Vec<Spanned<RawException>>,
}

#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
struct RawProve {
    enabled: Option<bool>,
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<u64>"))]
    timeout_ms: Option<Spanned<u64>>,
}

#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
struct RawFailOn {
    new_access: Option<bool>,
    new_access_expected: Option<bool>,
    broken_workflow: Option<bool>,
    new_escalation: Option<bool>,
    failed_expectation: Option<bool>,
    failed_expectation_on_baseline: Option<bool>,
    narrowed: Option<bool>,
    held_longer: Option<bool>,
    new_access_proven: Option<bool>,
    config_change: Option<bool>,
    unexercised_change: Option<bool>,
    time_budget: Option<bool>,
    policy_never_applies: Option<bool>,
    policy_redundant: Option<bool>,
    policy_never_grants: Option<bool>,
    policy_may_error: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
struct RawBudget {
    weighted_gap_growth: Option<u64>,
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<f64>"))]
    utilization_drop: Option<Spanned<f64>>,
}

#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
struct RawSearch {
    enabled: Option<bool>,
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<String>"))]
    strategy: Option<Spanned<String>>,
    seed: Option<u64>,
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<u64>"))]
    max_steps: Option<Spanned<u64>>,
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<usize>"))]
    depth: Option<Spanned<usize>>,
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<String>"))]
    tick: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
struct RawException {
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<String>"))]
    kind: Option<Spanned<String>>,
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<String>"))]
    scenario: Option<Spanned<String>>,
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<String>"))]
    principal: Option<Spanned<String>>,
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<String>"))]
    action: Option<Spanned<String>>,
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<String>"))]
    resource: Option<Spanned<String>>,
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<String>"))]
    reason: Option<Spanned<String>>,
    /// The last day the exception applies, a TOML date: `2026-12-31`.
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<String>"))]
    expires: Option<Spanned<toml::Value>>,
}

/// Reads and checks a configuration file.
pub fn load(path: &Path) -> Result<Config, Error> {
    let file = SourceFile::read(path, path.display().to_string())?;
    parse(&file)
}

/// Parses configuration text; every error is located in `file`.
pub fn parse(file: &SourceFile) -> Result<Config, Error> {
    let raw: RawConfig = toml::from_str(&file.text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        let message = e.message().trim_end_matches('\n').replace('\n', "; ");
        let error = file.error(span, message);
        if e.message().contains("unknown field") {
            error.with_help(
                "check the spelling; the gate configuration is documented in docs/check.md",
            )
        } else {
            error
        }
    })?;
    let mut config = Config {
        file: Some(file.display.clone()),
        ..Config::default()
    };
    if let Some(fail_on) = raw.fail_on {
        let rules = &mut config.fail_on;
        let set = |value: Option<bool>, rule: &mut bool| {
            if let Some(value) = value {
                *rule = value;
            }
        };
        set(fail_on.new_access, &mut rules.new_access);
        set(fail_on.new_access_expected, &mut rules.new_access_expected);
        set(fail_on.broken_workflow, &mut rules.broken_workflow);
        set(fail_on.new_escalation, &mut rules.new_escalation);
        set(fail_on.failed_expectation, &mut rules.failed_expectation);
        set(
            fail_on.failed_expectation_on_baseline,
            &mut rules.failed_expectation_on_baseline,
        );
        set(fail_on.narrowed, &mut rules.narrowed);
        set(fail_on.held_longer, &mut rules.held_longer);
        set(fail_on.new_access_proven, &mut rules.new_access_proven);
        set(fail_on.config_change, &mut rules.config_change);
        set(fail_on.unexercised_change, &mut rules.unexercised_change);
        set(fail_on.time_budget, &mut rules.time_budget);
        set(
            fail_on.policy_never_applies,
            &mut rules.policy_never_applies,
        );
        set(fail_on.policy_redundant, &mut rules.policy_redundant);
        set(fail_on.policy_never_grants, &mut rules.policy_never_grants);
        set(fail_on.policy_may_error, &mut rules.policy_may_error);
    }
    if let Some(budget) = raw.budget {
        config.budget.weighted_gap_growth = budget.weighted_gap_growth;
        if let Some(drop) = budget.utilization_drop {
            let value = *drop.get_ref();
            if !(0.0..=1.0).contains(&value) {
                return Err(file
                    .error(
                        drop.span(),
                        format!("`utilization_drop` is {value}, not between 0 and 1"),
                    )
                    .with_help(
                        "utilization is a ratio: `0.1` allows a drop of 10 percentage points",
                    )
                    .into());
            }
            config.budget.utilization_drop = Some(value);
        }
    }
    if let Some(search) = raw.search {
        let options = &mut config.search;
        if let Some(enabled) = search.enabled {
            options.enabled = enabled;
        }
        if let Some(strategy) = search.strategy {
            let Some(parsed) = SearchStrategy::from_name(strategy.get_ref()) else {
                return Err(file
                    .error(
                        strategy.span(),
                        format!("unknown search strategy `{}`", strategy.get_ref()),
                    )
                    .with_help("use `random`, `novelty` or `exhaustive`")
                    .into());
            };
            options.strategy = parsed;
        }
        if let Some(seed) = search.seed {
            options.seed = seed;
        }
        if let Some(max_steps) = search.max_steps {
            if *max_steps.get_ref() == 0 {
                return Err(file
                    .error(max_steps.span(), "`max_steps` must be at least 1")
                    .into());
            }
            options.max_steps = max_steps.into_inner();
        }
        if let Some(depth) = search.depth {
            if *depth.get_ref() == 0 {
                return Err(file
                    .error(depth.span(), "`depth` must be at least 1")
                    .into());
            }
            if *depth.get_ref() > crate::search::MAX_DEPTH {
                return Err(file
                    .error(
                        depth.span(),
                        format!("`depth` must be at most {}", crate::search::MAX_DEPTH),
                    )
                    .into());
            }
            options.depth = depth.into_inner();
        }
        if let Some(tick) = search.tick {
            match privsim_model::time::parse_duration(tick.get_ref()) {
                Ok(millis) if millis > 0 => options.tick = Some(tick.into_inner()),
                Ok(_) => {
                    return Err(file
                        .error(tick.span(), "`tick` must be longer than zero")
                        .into());
                }
                Err(message) => return Err(file.error(tick.span(), message).into()),
            }
        }
    }
    if let Some(prove) = raw.prove {
        if let Some(enabled) = prove.enabled {
            config.prove.enabled = enabled;
        }
        if let Some(timeout) = prove.timeout_ms {
            if *timeout.get_ref() == 0 {
                return Err(file
                    .error(timeout.span(), "`timeout_ms` must be at least 1")
                    .into());
            }
            config.prove.timeout_ms = timeout.into_inner();
        }
    }
    for raw in &raw.exceptions {
        config.exceptions.push(exception(file, raw)?);
    }
    Ok(config)
}

fn exception(file: &SourceFile, raw: &Spanned<RawException>) -> Result<Exception, Error> {
    let table = raw.span();
    let header = header_span(file, table.clone());
    let location = format!("{}:{}", file.display, file.line_col(header.start).0);
    let inner = raw.get_ref();
    let Some(kind) = &inner.kind else {
        return Err(file
            .error(header, "this exception has no `kind`")
            .with_help(format!(
                "say which kind of change it accepts: {}",
                accepted_kinds()
            ))
            .into());
    };
    let Some(accepted) =
        ChangeKind::from_name(kind.get_ref()).filter(|k| *k != ChangeKind::FixedEscalation)
    else {
        return Err(file
            .error(
                kind.span(),
                format!(
                    "`{}` is not a kind of change the gate fails on",
                    kind.get_ref()
                ),
            )
            .with_help(format!("use one of {}", accepted_kinds()))
            .into());
    };
    let reason = match &inner.reason {
        Some(reason) if !reason.get_ref().trim().is_empty() => reason.get_ref().trim().to_string(),
        Some(reason) => {
            return Err(file
                .error(reason.span(), "the `reason` is empty")
                .with_help("say why this change is acceptable, for the next reviewer")
                .into());
        }
        None => {
            return Err(file
                .error(header, "this exception has no `reason`")
                .with_help(
                    "every exception says why the change is acceptable, for the next reviewer",
                )
                .into());
        }
    };
    let pattern = |written: &Option<Spanned<String>>| -> Result<Option<(String, Pattern)>, Error> {
        match written {
            None => Ok(None),
            Some(written) => Pattern::parse(Some(written.get_ref()))
                .map(|pattern| Some((written.get_ref().clone(), pattern)))
                .map_err(|message| file.error(written.span(), message).into()),
        }
    };
    let expires = match &inner.expires {
        None => None,
        Some(value) => Some(date(value.get_ref()).ok_or_else(|| {
            file.error(value.span(), "`expires` is not a date like `2026-12-31`")
                .with_help("write the last day the exception applies, as a TOML date: `expires = 2026-12-31`")
        })?),
    };
    if let Some(scenario) = &inner.scenario
        && scenario.get_ref().trim().is_empty()
    {
        return Err(file
            .error(scenario.span(), "the `scenario` is empty")
            .with_help("give the scenario's name or its file, or leave the key out to match every scenario")
            .into());
    }
    Ok(Exception {
        location,
        kind: accepted,
        scenario: inner.scenario.as_ref().map(|s| s.get_ref().clone()),
        principal: pattern(&inner.principal)?,
        action: pattern(&inner.action)?,
        resource: pattern(&inner.resource)?,
        reason,
        expires,
    })
}

/// The `[[exception]]` header line of a table's span (which starts at the
/// header, or with some parsers at the table's first key: then look back).
fn header_span(file: &SourceFile, table: Range<usize>) -> Range<usize> {
    let line_end = |at: usize| {
        file.text[at..]
            .find('\n')
            .map_or(file.text.len(), |n| at + n)
    };
    if file
        .text
        .get(table.start..)
        .is_some_and(|rest| rest.starts_with("[["))
    {
        return table.start..line_end(table.start);
    }
    let before = file.text.get(..table.start).unwrap_or("");
    match before.rfind("[[") {
        Some(at)
            if before[at..]
                .trim_start_matches("[[")
                .trim_start()
                .starts_with("exception") =>
        {
            at..line_end(at)
        }
        _ => table.start..table.start,
    }
}

fn accepted_kinds() -> String {
    ChangeKind::ALL
        .iter()
        .filter(|k| **k != ChangeKind::FixedEscalation)
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A TOML local date (`2026-12-31`) or a string in that form, as `YYYY-MM-DD`.
fn date(value: &toml::Value) -> Option<String> {
    let text = match value {
        toml::Value::Datetime(datetime) if datetime.time.is_none() && datetime.offset.is_none() => {
            let date = datetime.date?;
            format!("{:04}-{:02}-{:02}", date.year, date.month, date.day)
        }
        toml::Value::String(text) => text.clone(),
        _ => return None,
    };
    valid_date(&text).then_some(text)
}

/// Whether `text` is a real calendar date written `YYYY-MM-DD`.
pub fn valid_date(text: &str) -> bool {
    text.len() == 10
        && privsim_model::time::Instant::parse_rfc3339(&format!("{text}T00:00:00Z")).is_ok()
}
