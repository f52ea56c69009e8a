//! `pipeline.toml`: reading, `--set` overrides, and validation.
//!
//! Validation is complete before anything is built or any document flows:
//! unknown top-level keys, companies, each stage's kind/backend/options
//! (through the registry), paths that must exist, and the chain of
//! annotations each stage requires. Every error names the file, the stage id
//! and the key.

use crate::error::ConfigError;
use serde::{Deserialize, Serialize};
use stancepipe_core::{parse_options, Annotation, BuildContext, Company, Registry, StageConfig};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Options of the `[run]` table: how documents are fed through the stages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunOptions {
    /// Documents per batch handed to each stage (model stages batch them).
    pub batch_size: usize,
    /// Larger documents become error records instead of being processed.
    pub max_doc_bytes: u64,
    /// Threads for the whole run, rayon and libtorch alike (`--threads`);
    /// 0 means one per core. See [`crate::pipeline::Pipeline`].
    pub threads: usize,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            batch_size: 32,
            max_doc_bytes: 16 * 1024 * 1024,
            threads: 0,
        }
    }
}

/// The top level of `pipeline.toml`, before the stage tables are parsed.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    run: toml::Table,
    #[serde(default)]
    companies_file: Option<PathBuf>,
    #[serde(default)]
    company: Vec<Company>,
    #[serde(default)]
    stage: Vec<toml::Table>,
}

/// The file holding companies, when `companies_file` is used.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CompaniesFile {
    #[serde(default)]
    company: Vec<Company>,
}

/// One validated stage: its identity and its parsed config.
#[derive(Debug)]
pub struct StagePlan {
    pub id: String,
    pub kind: String,
    pub backend: String,
    pub config: Box<dyn StageConfig>,
}

/// A validated pipeline, ready to be built.
#[derive(Debug)]
pub struct PipelinePlan {
    /// The config file as given (used in messages).
    pub file: String,
    pub run: RunOptions,
    pub context: BuildContext,
    pub stages: Vec<StagePlan>,
}

/// A `--set <stage id>.<key>=<value>` override (or `run.<key>=<value>`).
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    pub target: String,
    pub key: Vec<String>,
    pub value: toml::Value,
}

impl std::str::FromStr for Override {
    type Err = String;
    /// Parses `target.key[.sub]=value`. The value is read as TOML (numbers,
    /// booleans, arrays, quoted strings) and taken as a plain string otherwise.
    fn from_str(s: &str) -> Result<Self, String> {
        let (path, raw) = s
            .split_once('=')
            .ok_or_else(|| format!("--set {s:?}: expected <stage id>.<option>=<value>"))?;
        let mut parts = path.trim().split('.').map(str::trim);
        let target = parts.next().unwrap_or_default().to_string();
        let key: Vec<String> = parts.map(String::from).collect();
        if target.is_empty() || key.is_empty() || key.iter().any(String::is_empty) {
            return Err(format!(
                "--set {s:?}: expected <stage id>.<option>=<value>, e.g. summarize.backend=lead"
            ));
        }
        let raw = raw.trim();
        let value = format!("v = {raw}")
            .parse::<toml::Table>()
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(raw.to_string()));
        Ok(Override { target, key, value })
    }
}

fn set_path(table: &mut toml::Table, key: &[String], value: toml::Value) -> Result<(), String> {
    match key {
        [] => Err("empty key".into()),
        [last] => {
            table.insert(last.clone(), value);
            Ok(())
        }
        [first, rest @ ..] => {
            let entry = table
                .entry(first.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            match entry {
                toml::Value::Table(t) => set_path(t, rest, value),
                _ => Err(format!("{first} is not a table")),
            }
        }
    }
}

impl PipelinePlan {
    /// Reads, overrides and validates a pipeline file.
    pub fn load(
        path: &Path,
        overrides: &[Override],
        registry: &Registry,
    ) -> Result<Self, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::file(&file, format!("cannot read the config file: {e}")))?;
        let base_dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        Self::from_str(&text, &file, base_dir, overrides, registry)
    }

    /// Validates a pipeline given as text. `file` names it in errors and
    /// `base_dir` anchors its relative paths.
    pub fn from_str(
        text: &str,
        file: &str,
        base_dir: PathBuf,
        overrides: &[Override],
        registry: &Registry,
    ) -> Result<Self, ConfigError> {
        let mut root: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| ConfigError::file(file, toml_syntax_error(text, &e)))?;
        let swapped = apply_overrides(&mut root, overrides)?;
        let parsed: FileConfig =
            parse_options(root).map_err(|e| ConfigError::file(file, e.message).with_key(e.key))?;

        let run: RunOptions = parse_options(parsed.run)
            .map_err(|e| ConfigError::file(file, e.message).with_key(format!("run.{}", e.key)))?;
        if run.batch_size == 0 {
            return Err(ConfigError::file(file, "must be at least 1").with_key("run.batch_size"));
        }

        let mut companies = parsed.company;
        if let Some(cf) = &parsed.companies_file {
            let cpath = if cf.is_absolute() {
                cf.clone()
            } else {
                base_dir.join(cf)
            };
            let ctext = std::fs::read_to_string(&cpath).map_err(|e| {
                ConfigError::file(file, format!("cannot read {}: {e}", cpath.display()))
                    .with_key("companies_file")
            })?;
            let cfile: CompaniesFile = ctext
                .parse::<toml::Table>()
                .map_err(|e| e.to_string())
                .and_then(|t| {
                    parse_options(t).map_err(|e| format!("key {:?}: {}", e.key, e.message))
                })
                .map_err(|m| ConfigError::file(cpath.display().to_string(), m))?;
            companies.extend(cfile.company);
        }
        validate_companies(file, &companies)?;

        let context = BuildContext {
            base_dir,
            companies,
        };
        let stages = plan_stages(file, parsed.stage, registry, &context, &swapped)?;
        Ok(PipelinePlan {
            file: file.to_string(),
            run,
            context,
            stages,
        })
    }
}

/// One line: where (line, column) and what, instead of toml's multi-line snippet.
fn toml_syntax_error(text: &str, e: &toml::de::Error) -> String {
    let what = e.message().lines().collect::<Vec<_>>().join("; ");
    match e.span() {
        Some(span) => {
            let before = text.get(..span.start).unwrap_or(text);
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("invalid TOML at line {line}, column {column}: {what}")
        }
        None => format!("invalid TOML: {what}"),
    }
}

/// Stages whose backend `--set` changed, with the keys `--set` gave them.
type Swapped = BTreeMap<String, BTreeSet<String>>;

fn apply_overrides(root: &mut toml::Table, overrides: &[Override]) -> Result<Swapped, ConfigError> {
    let mut set_keys: Swapped = BTreeMap::new();
    let mut swapped = BTreeSet::new();
    for o in overrides {
        let here = || format!("--set {}.{}", o.target, o.key.join("."));
        let table = if o.target == "run" {
            match root
                .entry("run")
                .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            {
                toml::Value::Table(t) => t,
                _ => return Err(ConfigError::file(here(), "`run` is not a table")),
            }
        } else {
            let stages = root.get_mut("stage").and_then(|s| s.as_array_mut());
            let found = stages.and_then(|arr| {
                arr.iter_mut()
                    .filter_map(|v| v.as_table_mut())
                    .find(|t| t.get("id").and_then(|v| v.as_str()) == Some(o.target.as_str()))
            });
            match found {
                Some(t) => t,
                None => {
                    return Err(ConfigError::file(
                        here(),
                        format!("no stage has id {:?}", o.target),
                    ))
                }
            }
        };
        if o.key.len() == 1 && (o.key[0] == "id" || o.key[0] == "kind") && o.target != "run" {
            return Err(ConfigError::file(
                here(),
                "a stage's id and kind cannot be overridden",
            ));
        }
        if o.target != "run" {
            if o.key == ["backend"] && table.get("backend") != Some(&o.value) {
                swapped.insert(o.target.clone());
            }
            set_keys
                .entry(o.target.clone())
                .or_default()
                .insert(o.key[0].clone());
        }
        set_path(table, &o.key, o.value.clone()).map_err(|m| ConfigError::file(here(), m))?;
    }
    set_keys.retain(|id, _| swapped.contains(id));
    Ok(set_keys)
}

fn validate_companies(file: &str, companies: &[Company]) -> Result<(), ConfigError> {
    let mut seen = BTreeSet::new();
    for (i, c) in companies.iter().enumerate() {
        let key = format!("company[{i}]");
        if c.name.trim().is_empty() {
            return Err(
                ConfigError::file(file, "company name is empty").with_key(format!("{key}.name"))
            );
        }
        if !seen.insert(c.name.as_str()) {
            return Err(
                ConfigError::file(file, format!("company {:?} is listed twice", c.name))
                    .with_key(format!("{key}.name")),
            );
        }
        if c.aliases.iter().any(|a| a.trim().is_empty()) {
            return Err(ConfigError::file(
                file,
                format!("company {:?} has an empty alias", c.name),
            )
            .with_key(format!("{key}.aliases")));
        }
        if let Err(m) = c.check() {
            return Err(ConfigError::file(file, m).with_key(format!("{key}.case_insensitive")));
        }
    }
    Ok(())
}

fn take_string(
    file: &str,
    stage: &str,
    table: &mut toml::Table,
    key: &str,
) -> Result<Option<String>, ConfigError> {
    match table.remove(key) {
        None => Ok(None),
        Some(toml::Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(ConfigError::file(
            file,
            format!("expected a string, found {}", other.type_str()),
        )
        .with_stage(stage)
        .with_key(key)),
    }
}

fn plan_stages(
    file: &str,
    tables: Vec<toml::Table>,
    registry: &Registry,
    ctx: &BuildContext,
    swapped: &Swapped,
) -> Result<Vec<StagePlan>, ConfigError> {
    if tables.is_empty() {
        return Err(
            ConfigError::file(file, "the pipeline has no [[stage]] tables").with_key("stage"),
        );
    }
    let mut plans: Vec<StagePlan> = Vec::with_capacity(tables.len());
    let mut provided: BTreeSet<Annotation> = BTreeSet::new();
    for (i, mut table) in tables.into_iter().enumerate() {
        let anon = format!("#{}", i + 1);
        let id = take_string(file, &anon, &mut table, "id")?.ok_or_else(|| {
            ConfigError::file(file, "every stage needs an id")
                .with_stage(&anon)
                .with_key("id")
        })?;
        if id.is_empty() || id.contains(['.', '=']) || id == "run" {
            return Err(ConfigError::file(
                file,
                "an id must be non-empty, must not be \"run\" and must not contain '.' or '='",
            )
            .with_stage(&anon)
            .with_key("id"));
        }
        if plans.iter().any(|p| p.id == id) {
            return Err(ConfigError::file(file, "two stages share this id")
                .with_stage(&id)
                .with_key("id"));
        }
        let kind = take_string(file, &id, &mut table, "kind")?.ok_or_else(|| {
            ConfigError::file(file, "every stage needs a kind")
                .with_stage(&id)
                .with_key("kind")
        })?;
        let backend = take_string(file, &id, &mut table, "backend")?;
        let factory = registry.factory(&kind, backend.as_deref()).map_err(|e| {
            let key = if backend.is_some() && registry.default_backend(&kind).is_some() {
                "backend"
            } else {
                "kind"
            };
            ConfigError::file(file, e.to_string())
                .with_stage(&id)
                .with_key(key)
        })?;
        if let Some(from_cli) = swapped.get(&id) {
            // The file's options were written for the file's backend: keep
            // those the new backend has, and everything given with --set.
            let known: BTreeSet<&str> = factory.options().iter().map(|o| o.name).collect();
            table.retain(|k, _| {
                let k: &str = k;
                let keep = known.contains(k) || from_cli.contains(k);
                if !keep {
                    tracing::info!(
                        "stage {id:?}: backend {} has no option {k:?}; dropped",
                        factory.backend()
                    );
                }
                keep
            });
        }
        let config = factory.parse(table).map_err(|e| {
            ConfigError::file(file, e.message)
                .with_stage(&id)
                .with_key(e.key)
        })?;
        config.check(ctx).map_err(|e| {
            ConfigError::file(file, e.message)
                .with_stage(&id)
                .with_key(e.key)
        })?;
        for need in config.requires() {
            if !provided.contains(&need) {
                return Err(ConfigError::file(
                    file,
                    format!(
                        "{kind}/{} requires {need}, which no earlier stage provides",
                        factory.backend()
                    ),
                )
                .with_stage(&id)
                .with_key("kind"));
            }
        }
        provided.extend(config.provides());
        plans.push(StagePlan {
            id,
            kind,
            backend: factory.backend().to_string(),
            config,
        });
    }
    Ok(plans)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn override_values_parse_as_toml_or_string() {
        let o: Override = "summarize.backend=lead".parse().unwrap();
        assert_eq!(o.target, "summarize");
        assert_eq!(o.key, vec!["backend"]);
        assert_eq!(o.value, toml::Value::String("lead".into()));
        let o: Override = "stance.threshold=0.25".parse().unwrap();
        assert_eq!(o.value, toml::Value::Float(0.25));
        let o: Override = "run.batch_size = 4".parse().unwrap();
        assert_eq!(o.value, toml::Value::Integer(4));
        assert!("nodot=1".parse::<Override>().is_err());
        assert!("a.b".parse::<Override>().is_err());
    }

    #[test]
    fn swapping_a_backend_drops_only_the_file_options_it_lacks() {
        let registry = crate::default_registry().unwrap();
        let text = "[[stage]]\nid = \"t\"\nkind = \"tokenize\"\n\n[[stage]]\nid = \"s\"\nkind = \"summarize\"\nbackend = \"extractive\"\nmin_words = 4\nmax_sentences = 2\n";
        let load = |sets: &[&str]| {
            let o: Vec<Override> = sets.iter().map(|s| s.parse().unwrap()).collect();
            PipelinePlan::from_str(text, "p.toml", PathBuf::from("."), &o, &registry)
        };
        let plan = load(&["s.backend=lead"]).unwrap();
        assert_eq!(plan.stages[1].backend, "lead");
        // Typos on the command line are still errors after a swap...
        let e = load(&["s.backend=lead", "s.min_wrds=3"]).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("min_wrds"));
        // ...and so are the file's unknown options when nothing is swapped.
        let e = load(&["s.backend=extractive", "s.bogus=1"]).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("bogus"));
    }

    #[test]
    fn a_company_cannot_be_both_case_sensitive_and_insensitive() {
        let registry = crate::default_registry().unwrap();
        let stages = "[[stage]]\nid = \"t\"\nkind = \"tokenize\"\n";
        let load = |company: &str| {
            let text = format!("[[company]]\nname = \"Apple\"\n{company}\n{stages}");
            PipelinePlan::from_str(&text, "p.toml", PathBuf::from("."), &[], &registry)
        };
        let plan = load("case_insensitive = true").unwrap();
        assert!(plan.context.companies[0].case_insensitive);
        let err = load("case_sensitive = true\ncase_insensitive = true")
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("company[0].case_insensitive") && err.contains("both"),
            "{err}"
        );
    }

    #[test]
    fn set_path_creates_nested_tables() {
        let mut t = toml::Table::new();
        set_path(&mut t, &["a".into(), "b".into()], toml::Value::Integer(1)).unwrap();
        assert_eq!(t["a"]["b"].as_integer(), Some(1));
    }
}
