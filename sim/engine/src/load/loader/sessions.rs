//! Sessions resolved into delegation chains, `[[grant]]`s, and the context
//! a session presents.

use super::*;

impl Loader<'_> {
    /// One `[[session]]`, after the sessions before it.
    pub(super) fn sessions(
        &self,
        raw: &[Spanned<raw::RawSession>],
        sessions: &mut Vec<Session>,
        start: Instant,
        facts: &Facts,
        defaults: &Defaults,
    ) -> Result<()> {
        // Session ids declared so far, by index: a scenario may declare many
        // thousands, so lookups must not scan the list.
        let mut declared: HashMap<String, usize> = sessions
            .iter()
            .enumerate()
            .map(|(index, session)| (session.id.clone(), index))
            .collect();
        for spanned in raw {
            let s = spanned.get_ref();
            let id = s.id.get_ref().clone();
            if declared.insert(id.clone(), sessions.len()).is_some() {
                return Err(self
                    .err(span(&s.id), format!("session `{id}` is defined twice"))
                    .help_boxed("session ids are unique across the scenario and its shared world; a scenario adds sessions, it does not override them")
                    .into());
            }
            let principal = self.uid(&s.principal, "bad principal")?;
            let mut parent_index = None;
            let chain = match (&s.on_behalf_of, &s.parent) {
                (Some(_), Some(parent)) => {
                    return Err(self.err(span(parent), "a session has either `on_behalf_of` or `parent`, not both").help_boxed("`parent` names the session this one was delegated from; its principal is the delegator").into());
                }
                (Some(delegator), None) => {
                    vec![self.uid(delegator, "bad delegator")?, principal.clone()]
                }
                (None, Some(parent)) => {
                    let Some(parent_session) = declared
                        .get(parent.get_ref())
                        .and_then(|&index| sessions.get(index))
                    else {
                        return Err(self
                            .err(
                                span(parent),
                                format!(
                                    "no session `{}` is declared before this one",
                                    parent.get_ref()
                                ),
                            )
                            .help_boxed("declare the parent session first")
                            .into());
                    };
                    parent_index = sessions
                        .iter()
                        .position(|other| &other.id == parent.get_ref());
                    let mut chain = parent_session.chain.clone();
                    chain.push(principal.clone());
                    chain
                }
                (None, None) => vec![principal.clone()],
            };
            let from = s.from.as_ref().map(|t| self.time(t, start)).transpose()?;
            let until = s.until.as_ref().map(|t| self.time(t, start)).transpose()?;
            if let (Some(from), Some(until), Some(written)) = (from, until, &s.until)
                && until <= from
            {
                return Err(self
                    .err(span(written), "a session must end after it starts")
                    .into());
            }
            let own = s
                .context
                .as_ref()
                .map(|c| self.table(c))
                .transpose()?
                .unwrap_or_default();
            let mut context = defaults
                .by_session
                .get(&id)
                .map(|(_, _, entries)| entries.clone())
                .unwrap_or_default();
            context.extend(own.clone());
            if let (Some(key), Some(written)) = (
                own.keys()
                    .find(|key| facts.keys().any(|fact_key| fact_key == *key)),
                &s.context,
            ) {
                return Err(self
                    .err(
                        span(written),
                        format!(
                            "session `{id}` sets context key `{key}`, which `[facts]` already fills"
                        ),
                    )
                    .help_boxed("rename the key or the fact's key")
                    .into());
            }
            let dormant = s.dormant.as_ref().is_some_and(|d| *d.get_ref());
            let lifetime = match &s.lifetime {
                Some(written) if !dormant => {
                    return Err(self
                        .err(span(written), "`lifetime` is for dormant sessions")
                        .help_boxed(
                            "add `dormant = true`, or bound the session with `from`/`until`",
                        )
                        .into());
                }
                Some(written) => Some(self.lifetime(written, start)?),
                None => None,
            };
            if let (true, Some(written)) = (dormant, s.from.as_ref().or(s.until.as_ref())) {
                return Err(self
                    .err(span(written), "a dormant session starts when an effect starts it, so it has no `from` or `until`")
                    .help_boxed("bound it with `lifetime` instead")
                    .into());
            }
            sessions.push(Session {
                id,
                principal,
                chain,
                parent: parent_index,
                task: s.task.as_ref().map(|t| t.get_ref().clone()),
                context,
                from,
                until,
                dormant,
                lifetime,
            });
        }
        Ok(())
    }

    /// `[[grant]]` items, after the grants before them (a grant without an
    /// `id` is named by its place among all of them: `grant-3`).
    pub(super) fn grants(
        &self,
        raw: &[Spanned<raw::RawGrant>],
        grants: &mut Vec<Grant>,
        start: Instant,
    ) -> Result<()> {
        for spanned in raw {
            let g = spanned.get_ref();
            let number = grants.len() + 1;
            let id =
                g.id.as_ref()
                    .map_or_else(|| format!("grant-{number}"), |id| id.get_ref().clone());
            if grants.iter().any(|other| other.id == id) {
                return Err(self
                    .err(
                        g.id.as_ref().map_or(span(spanned), span),
                        format!("grant `{id}` is defined twice"),
                    )
                    .into());
            }
            let principal = self.uid(&g.principal, "bad principal")?;
            let parents = g
                .parents
                .iter()
                .map(|p| self.uid(p, "bad parent"))
                .collect::<Result<Vec<_>>>()?;
            let attrs = g
                .attrs
                .as_ref()
                .map(|a| self.table(a))
                .transpose()?
                .unwrap_or_default();
            if parents.is_empty() && attrs.is_empty() {
                return Err(self
                    .err(span(spanned), format!("grant `{id}` changes nothing"))
                    .help_boxed("give it `parents` to add (e.g. a role) and/or `attrs` to set")
                    .into());
            }
            let from = self.time(&g.from, start)?;
            let until = g.until.as_ref().map(|t| self.time(t, start)).transpose()?;
            if let (Some(until), Some(written)) = (until, &g.until)
                && until <= from
            {
                return Err(self
                    .err(span(written), "a grant must end after it starts")
                    .into());
            }
            let expiry = g
                .expiry
                .as_ref()
                .map_or(RawExpiry::Simulator, |e| *e.get_ref());
            if expiry == RawExpiry::Policy && until.is_none() {
                return Err(self
                    .err(
                        g.expiry.as_ref().map_or(span(spanned), span),
                        "`expiry = \"policy\"` needs an `until` for the policies to enforce",
                    )
                    .into());
            }
            grants.push(Grant {
                id,
                principal,
                parents,
                removed_parents: Vec::new(),
                attrs,
                from,
                until,
                ticket: g.ticket.clone(),
                removed_at_until: expiry == RawExpiry::Simulator,
                revocable: true,
            });
        }
        Ok(())
    }

    /// The context a request presents: facts first, then the session's context,
    /// then the step's own entries (which replace the session's).
    pub(super) fn context(
        &self,
        facts: &Facts,
        at: Instant,
        session: Option<&Session>,
        principal: &EntityUid,
        chain: &[EntityUid],
        extra: Option<(&Map<String, Value>, Range<usize>)>,
    ) -> Result<Map<String, Value>> {
        let mut context = session_context(facts, at, session, principal, chain);
        if let Some((extra, place)) = extra {
            if let Some(key) = extra
                .keys()
                .find(|key| facts.keys().any(|fact_key| fact_key == *key))
            {
                return Err(self
                    .err(
                        place,
                        format!("context key `{key}` is already filled by `[facts]`"),
                    )
                    .help_boxed("rename the key or the fact's key")
                    .into());
            }
            context.extend(
                extra
                    .iter()
                    .map(|(key, value)| (key.clone(), value.clone())),
            );
        }
        Ok(context)
    }
}
