//! The `closed_set!` macro: a closed set of names (decisions, kinds of
//! finding, kinds of change, statuses) as an enum written as one table.
//!
//! Each row gives a variant, its name in the JSON contract and its doc
//! comment; the macro derives from that one table the enum, `ALL` (the rows
//! in table order), `as_str`, `from_name`, `Display`, `Serialize` and
//! `Deserialize`. Reading an unknown name (a result file written by a newer
//! or a hand-edited privsim) is an error that names the set and lists the
//! known names, never a silent fallback. Values order by name, as the
//! strings they replace did, so a sort keyed by them keeps its order.

macro_rules! closed_set {
    (
        $(#[$meta:meta])*
        pub enum $name:ident ($what:literal) {
            $(
                $(#[doc = $doc:literal])*
                $variant:ident = $text:literal,
            )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $(
                $(#[doc = $doc])*
                $variant,
            )+
        }

        impl $name {
            /// Every value, in the table's order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The name in the JSON contract and the reports.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            /// The value of a name, if it is one.
            pub fn from_name(name: &str) -> Option<Self> {
                match name {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }

            /// The position in [`Self::ALL`].
            pub fn position(self) -> usize {
                Self::ALL.iter().position(|v| *v == self).unwrap_or(Self::ALL.len())
            }

            /// Every name, in the table's order, each in backticks, joined
            /// by `, ` (for messages listing what is accepted).
            pub fn names() -> String {
                Self::ALL
                    .iter()
                    .map(|v| format!("`{}`", v.as_str()))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.pad(self.as_str())
            }
        }

        impl PartialOrd for $name {
            fn partial_cmp(&self, other: &Self) -> Option<::std::cmp::Ordering> {
                Some(self.cmp(other))
            }
        }

        impl Ord for $name {
            fn cmp(&self, other: &Self) -> ::std::cmp::Ordering {
                self.as_str().cmp(other.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let name = <String as ::serde::Deserialize>::deserialize(deserializer)?;
                Self::from_name(&name).ok_or_else(|| {
                    <D::Error as ::serde::de::Error>::custom(format!(
                        "unknown {} `{}`, expected one of {}",
                        $what,
                        name,
                        Self::names()
                    ))
                })
            }
        }
    };
}

pub(crate) use closed_set;

#[cfg(test)]
mod tests {
    use crate::check::{
        ChangeKind, ChangeStatus, CheckResult, Edit, Effect, ExceptionState, HygieneIssue,
        ProofVerdict, ProofsStatus, RuleStatus, Side,
    };
    use crate::result::{
        CeilingDecision, Decision, FindingKind, MoveKind, NeverVerdict, ObservationStatus,
        PolicyKind, SearchStrategy,
    };

    /// Every name of a set reads back as its value, and names are distinct.
    fn round_trips<T>(all: &[T], name: fn(&T) -> &'static str, from: fn(&str) -> Option<T>)
    where
        T: PartialEq + std::fmt::Debug + serde::Serialize + serde::de::DeserializeOwned,
    {
        for value in all {
            let json = serde_json::to_string(value).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", name(value)));
            let back: T = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{json}: {e}"));
            assert_eq!(&back, value);
            assert_eq!(from(name(value)).as_ref(), Some(value));
        }
        let mut names: Vec<_> = all.iter().map(name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all.len(), "a name is listed twice");
    }

    #[test]
    fn every_closed_set_round_trips_through_its_json_names() {
        round_trips(Decision::ALL, |v| v.as_str(), Decision::from_name);
        round_trips(
            CeilingDecision::ALL,
            |v| v.as_str(),
            CeilingDecision::from_name,
        );
        round_trips(FindingKind::ALL, |v| v.as_str(), FindingKind::from_name);
        round_trips(MoveKind::ALL, |v| v.as_str(), MoveKind::from_name);
        round_trips(NeverVerdict::ALL, |v| v.as_str(), NeverVerdict::from_name);
        round_trips(
            ObservationStatus::ALL,
            |v| v.as_str(),
            ObservationStatus::from_name,
        );
        round_trips(ChangeKind::ALL, |v| v.as_str(), ChangeKind::from_name);
        round_trips(ChangeStatus::ALL, |v| v.as_str(), ChangeStatus::from_name);
        round_trips(
            ExceptionState::ALL,
            |v| v.as_str(),
            ExceptionState::from_name,
        );
        round_trips(RuleStatus::ALL, |v| v.as_str(), RuleStatus::from_name);
        round_trips(Edit::ALL, |v| v.as_str(), Edit::from_name);
        round_trips(Effect::ALL, |v| v.as_str(), Effect::from_name);
        round_trips(ProofsStatus::ALL, |v| v.as_str(), ProofsStatus::from_name);
        round_trips(ProofVerdict::ALL, |v| v.as_str(), ProofVerdict::from_name);
        round_trips(Side::ALL, |v| v.as_str(), Side::from_name);
        round_trips(HygieneIssue::ALL, |v| v.as_str(), HygieneIssue::from_name);
        round_trips(
            SearchStrategy::ALL,
            |v| v.as_str(),
            SearchStrategy::from_name,
        );
        round_trips(PolicyKind::ALL, |v| v.as_str(), PolicyKind::from_name);
        assert_eq!(ChangeKind::ALL.len(), 17);
        // A new hygiene problem is a change of its own kind, `policy-` and its name.
        for issue in HygieneIssue::ALL {
            assert_eq!(
                issue.change().as_str(),
                format!("policy-{}", issue.as_str())
            );
        }
    }

    /// A stored gate result whose closed-set field holds a value no privsim
    /// writes is refused at that value's line and column, naming the set's
    /// known values; the same document with the known value reads back.
    #[test]
    fn a_stored_check_result_with_an_unknown_value_is_a_located_error() {
        let lines = [
            r#"{"format": "privsim-check/1", "passed": false,"#,
            r#" "baseline": {"spec": "git:main"}, "candidate": {"spec": "."},"#,
            r#" "config": {"fail_on": {"new_access": true, "new_access_expected": true,"#,
            r#"   "broken_workflow": true, "new_escalation": true, "failed_expectation": true,"#,
            r#"   "narrowed": false, "held_longer": true}, "budget": {},"#,
            r#"   "search": {"enabled": true, "strategy": "exhaustive", "seed": 0,"#,
            r#"   "max_steps": 10, "depth": 2}},"#,
            r#" "summary": {"scenarios": 0, "failed_scenarios": 0, "changes": 0,"#,
            r#"   "failures": 0, "excepted": 0, "stale_exceptions": 0},"#,
            r#" "scenarios": [], "exceptions": [],"#,
            r#" "proofs": {"status": "ran", "timeout_ms": 1, "proven": 0, "refuted": 0,"#,
            r#"   "unknown": 0, "scenarios_without_schema": 0},"#,
            r#" "coverage": [{"id": "p", "change": "added", "effect": "permit","#,
            r#"   "exercised_by": []}],"#,
            r#" "config_change": {"file": "g", "revision": "r", "change": "changed","#,
            r#"   "status": "fail", "message": "m"},"#,
            r#" "budget_exhausted": {"budget": "1m", "status": "allowed","#,
            r#"   "not_checked": [], "cut_short": [], "message": "m"}}"#,
        ];
        let document = lines.join("\n");
        let parsed: Result<CheckResult, _> = serde_json::from_str(&document);
        assert!(parsed.is_ok(), "{parsed:?}");
        for (from, to, expected) in [
            (
                r#""strategy": "exhaustive""#,
                r#""strategy": "greedy""#,
                "unknown search strategy `greedy`, expected one of `random`, `novelty`, `exhaustive`",
            ),
            (
                r#""status": "ran""#,
                r#""status": "maybe""#,
                "unknown proofs status `maybe`, expected one of `ran`, `skipped`",
            ),
            (
                r#""change": "added""#,
                r#""change": "renamed""#,
                "unknown kind of edit `renamed`, expected one of `added`, `changed`, `removed`",
            ),
            (
                r#""effect": "permit""#,
                r#""effect": "allow""#,
                "unknown policy effect `allow`, expected one of `permit`, `forbid`",
            ),
            (
                r#""status": "fail""#,
                r#""status": "warn""#,
                "unknown rule status `warn`, expected one of `fail`, `allowed`",
            ),
        ] {
            assert_eq!(document.matches(from).count(), 1, "{from}");
            let changed = document.replacen(from, to, 1);
            let line = document
                .lines()
                .position(|l| l.contains(from))
                .map_or(0, |i| i + 1);
            let error = serde_json::from_str::<CheckResult>(&changed)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(
                error.starts_with(expected) && error.contains(&format!("at line {line} column")),
                "{error}"
            );
        }
        for (value, expected) in [
            (
                r#""verdict": "disproven""#,
                "unknown proof verdict `disproven`, expected one of `proven`, `refuted`, `unknown`, `not-applicable`",
            ),
            (
                r#""verdict": "proven", "only_in": "both""#,
                "unknown side `both`, expected one of `baseline`, `candidate`",
            ),
        ] {
            let json = format!(
                r#"{{"principal_type": "A", "action": "a", "resource_type": "R", {value}}}"#
            );
            let error = serde_json::from_str::<crate::check::EnvProof>(&json)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(error.starts_with(expected), "{error}");
        }
        let error = serde_json::from_str::<Vec<HygieneIssue>>(r#"["redundant", "slow"]"#)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            error.starts_with("unknown hygiene issue `slow`, expected one of `never-applies`"),
            "{error}"
        );
    }

    #[test]
    fn an_unknown_name_is_an_error_naming_the_set_and_the_known_names() {
        let error = serde_json::from_str::<Decision>("\"maybe\"")
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            error.as_deref(),
            Some("unknown decision `maybe`, expected one of `allow`, `deny`, `error`")
        );
        let error = serde_json::from_str::<ChangeKind>("\"new-thing\"")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            error.starts_with(
                "unknown kind of change `new-thing`, expected one of `new-escalation`, "
            ),
            "{error}"
        );
        // The suggestion's `--group`, as a stored suggestion carries it.
        let error = serde_json::from_str::<crate::suggest::Group>("\"by-moon\"")
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            error.as_deref(),
            Some(
                "unknown grouping `by-moon`, expected one of `agent`, `task`, `resource-type`, `parent`"
            )
        );
        let read: crate::suggest::Group = serde_json::from_str("\"resource-type\"").unwrap();
        assert_eq!(read, crate::suggest::Group::ResourceType);
    }

    #[test]
    fn values_order_and_display_as_their_names() {
        // Sorting by value is sorting by name, as the strings sorted before.
        let mut kinds = FindingKind::ALL.to_vec();
        kinds.sort();
        let names: Vec<_> = kinds.iter().map(|k| k.as_str()).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted);
        // `Display` pads like a string, so aligned text output is unchanged.
        assert_eq!(format!("[{:<7}]", Decision::Deny), "[deny   ]");
        assert_eq!(ChangeKind::FixedEscalation.position(), 16);
    }
}
