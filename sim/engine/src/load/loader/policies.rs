//! The scenario's policies (files, template links, schema validation) and
//! its risk weights.

use super::*;

impl Loader<'_> {
    pub(super) fn policies(&self, header: &raw::RawHeader) -> Result<Policies> {
        let mut files = Vec::new();
        if let Some(path) = &self.options.policies {
            for file in policy_files(path)? {
                let display = file
                    .strip_prefix(path)
                    .ok()
                    .and_then(|relative| self.options.policy_displays.get(relative))
                    .cloned()
                    .unwrap_or_else(|| file.display().to_string());
                files.push(SourceFile::read(&file, display)?);
            }
        } else {
            if header.policies.get_ref().is_empty() {
                return Err(self
                    .err(span(&header.policies), "no policy files listed")
                    .help_boxed("list at least one `.cedar` file or folder")
                    .into());
            }
            for written in header.policies.get_ref() {
                let (path, display) = self.resolve(written)?;
                if path.is_dir() {
                    let mut found = Vec::new();
                    let mut visited = BTreeSet::new();
                    if let Err(link) =
                        collect_policy_folder(&path, &self.root, &mut visited, &mut found)?
                    {
                        let inner = link.strip_prefix(&path).unwrap_or(&link);
                        let shown = Path::new(written.get_ref()).join(inner);
                        return Err(self.escapes(span(written), &shown.display().to_string()));
                    }
                    if found.is_empty() {
                        return Err(self
                            .err(
                                span(written),
                                format!("no `.cedar` files in `{}`", written.get_ref()),
                            )
                            .into());
                    }
                    for file in found {
                        let inner = file.strip_prefix(&path).unwrap_or(&file);
                        // A symlink in the folder may point anywhere: follow it
                        // only if it stays inside the scenario's folder.
                        let inside = file
                            .canonicalize()
                            .is_ok_and(|canonical| canonical.starts_with(&self.root));
                        if !inside {
                            let shown = Path::new(written.get_ref()).join(inner);
                            return Err(self.escapes(span(written), &shown.display().to_string()));
                        }
                        files.push(SourceFile::read(
                            &file,
                            Path::new(&display).join(inner).display().to_string(),
                        )?);
                    }
                } else {
                    files.push(SourceFile::read(&path, display)?);
                }
            }
        }
        let mut policies = cedar_files::parse_policies(files)?;
        if let Some(file) = self.named(&self.options.links, header.links.as_ref())? {
            cedar_files::apply_links(&mut policies, &file)?;
        }
        Ok(policies)
    }

    pub(super) fn risk(
        &mut self,
        raw: Option<&Spanned<toml::Table>>,
        schema: Option<&Schema>,
        policies: &Policies,
    ) -> Result<RiskWeights> {
        let mut weights = RiskWeights::default();
        let Some(raw) = raw else { return Ok(weights) };
        for (key, value) in raw.get_ref() {
            let action = parse_uid(key).map_err(|message| {
                self.err(span(raw), format!("`[risk]` key: {message}"))
                    .help_boxed("keys are actions, e.g. 'Action::\"export\"' = 10")
            })?;
            if action.type_name().basename() != "Action" {
                return Err(self
                    .err(span(raw), format!("`[risk]` key `{key}` is not an action"))
                    .into());
            }
            let weight = match value {
                toml::Value::Integer(weight) if *weight >= 0 => u64::try_from(*weight).unwrap_or(0),
                toml::Value::String(class) => risk::class_weight(class).ok_or_else(|| {
                    let classes: Vec<&str> = risk::CLASSES.iter().map(|(name, _)| *name).collect();
                    self.err(span(raw), format!("`{class}` is not a risk class")).help_boxed(format!("use a weight (a non-negative integer) or one of: {}", classes.join(", ")))
                })?,
                other => return Err(self.err(span(raw), format!("the risk of `{key}` must be a non-negative integer or a class name, not `{other}`")).into()),
            };
            self.known_action(&action, span(raw), "`[risk]`", schema, policies)?;
            weights.overrides.insert(action.to_string(), weight);
        }
        Ok(weights)
    }
}
