//! `pipeline.toml`: reading, `--set` overrides, and validation.
//!
//! Validation is complete before anything is built or any document flows:
//! unknown top-level keys, companies, each stage's kind/backend/options
//! (through the registry), paths that must exist, and the chain of
//! annotations each stage requires. Every error names the file, the stage id
//! and the key.

use crate::error::ConfigError;
use serde::{Deserialize, Serialize};
use stancepipe_core::{
    parse_options, Annotation, BuildContext, Company, ModelSource, OptionError, Registry,
    StageConfig,
};
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

/// Most threads a run may ask for: far above any core count this program is
/// run on, and low enough that a typo (`--threads 100000`) is refused at once
/// instead of spending minutes starting threads.
pub const MAX_THREADS: usize = 256;

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
    /// Where the options came from, to word errors found later (at build).
    pub origin: OptionOrigin,
}

/// Where a stage's options came from, for error messages: the options as
/// written (with `--set` applied) and the keys that `--set` gave.
#[derive(Debug, Clone, Default)]
pub struct OptionOrigin {
    options: toml::Table,
    set: Vec<Vec<String>>,
}

impl OptionOrigin {
    /// The error of option `e` of stage `id`, blamed on `--set <id>.<key>`
    /// when the command line gave that key and on `file` otherwise; a
    /// relative path that does not exist is named with the folder it was
    /// resolved against.
    pub fn error(&self, file: &str, id: &str, ctx: &BuildContext, e: OptionError) -> ConfigError {
        let message = path_note(&self.options, &e.key, ctx, e.message);
        self.parse_error(file, id, OptionError::new(e.key, message))
    }

    /// As [`OptionOrigin::error`], for an option that could not be parsed
    /// (a type or an unknown key: never a path that is missing).
    fn parse_error(&self, file: &str, id: &str, e: OptionError) -> ConfigError {
        ConfigError::file(blame(file, id, &self.set, &e.key), e.message)
            .with_stage(id)
            .with_key(e.key)
    }
}

/// `--set <target>.<key>` when one of the keys `--set` gave for `target`
/// is `key` (or contains it, or lies inside it), else `file`.
fn blame(file: &str, target: &str, set: &[Vec<String>], key: &str) -> String {
    let key = key
        .strip_prefix("run.")
        .filter(|_| target == "run")
        .unwrap_or(key);
    let hit = set.iter().map(|k| k.join(".")).find(|k| {
        !key.is_empty()
            && (k == key || key.starts_with(&format!("{k}.")) || k.starts_with(&format!("{key}.")))
    });
    match hit {
        Some(k) => format!("--set {target}.{k}"),
        None => file.to_string(),
    }
}

/// The folder relative paths resolve against, absolute, for messages.
fn shown_base(base_dir: &Path) -> String {
    let base = if base_dir.as_os_str().is_empty() {
        std::env::current_dir().ok()
    } else {
        std::path::absolute(base_dir).ok()
    };
    base.unwrap_or_else(|| base_dir.to_path_buf())
        .display()
        .to_string()
}

/// When option `key` holds a relative path (or a list of them) that does not
/// exist, says so with the folder it was resolved against: a copied
/// pipeline file otherwise fails with a path the user never wrote.
fn path_note(options: &toml::Table, key: &str, ctx: &BuildContext, message: String) -> String {
    let Some(value) = key
        .split('.')
        .try_fold(None::<&toml::Value>, |at, k| {
            match at {
                None => options.get(k),
                Some(v) => v.get(k),
            }
            .map(Some)
        })
        .flatten()
    else {
        return message;
    };
    let strings: Vec<&str> = match value {
        toml::Value::String(s) => vec![s.as_str()],
        toml::Value::Array(a) => a.iter().filter_map(|v| v.as_str()).collect(),
        _ => Vec::new(),
    };
    for s in strings {
        let path = Path::new(s);
        let resolved = ctx.resolve(path).display().to_string();
        // Only when the message is about this path (not, say, a bad value).
        let about = message.contains(&resolved) || message.contains(s);
        if s.is_empty() || path.is_absolute() || ctx.resolve(path).exists() || !about {
            continue;
        }
        let base = shown_base(&ctx.base_dir);
        // Only a model option can be a hub id.
        let model_key = matches!(key.rsplit('.').next(), Some("model" | "encoder"));
        let source = if model_key {
            ModelSource::parse(s, ctx)
        } else {
            ModelSource::Local(ctx.resolve(path))
        };
        return match source {
            // Read as a hub id because no such folder exists: say both.
            ModelSource::Hub(_) => format!(
                "{message}; as a local path, {s} does not exist either \
                 (resolved against {base}, the config file's folder)"
            ),
            ModelSource::Local(_) => {
                let note =
                    format!("{s} not found (resolved against {base}, the config file's folder)");
                if message.contains(&resolved) {
                    note
                } else {
                    format!("{note}; {message}")
                }
            }
        };
    }
    message
}

/// A validated pipeline, ready to be built.
#[derive(Debug)]
pub struct PipelinePlan {
    /// The config file as given (used in messages).
    pub file: String,
    pub run: RunOptions,
    pub context: BuildContext,
    pub stages: Vec<StagePlan>,
    /// `sha256:` and 16 hex digits of what decides the results: the stage
    /// tables after `--set`, and the companies (from the file and
    /// `companies_file`). `[run]` (threads, batch size) is left out.
    pub digest: String,
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
        let sets = apply_overrides(&mut root, overrides)?;
        let mut decisive = root.clone();
        decisive.remove("run");
        decisive.remove("companies_file");
        let parsed: FileConfig =
            parse_options(root).map_err(|e| ConfigError::file(file, e.message).with_key(e.key))?;

        let run_set = sets.given.get("run").map_or(&[][..], Vec::as_slice);
        let run_error = |key: String, message: String| {
            ConfigError::file(blame(file, "run", run_set, &key), message).with_key(key)
        };
        if parsed.run.contains_key("companies_file") {
            return Err(run_error(
                "run.companies_file".into(),
                "companies_file is a top-level key: write it above [run] (in TOML, every key \
                 after a [table] header belongs to that table)"
                    .into(),
            ));
        }
        let run: RunOptions = parse_options(parsed.run)
            .map_err(|e| run_error(format!("run.{}", e.key), e.message))?;
        if run.batch_size == 0 {
            return Err(run_error(
                "run.batch_size".into(),
                "must be at least 1".into(),
            ));
        }
        if run.threads > MAX_THREADS {
            return Err(run_error(
                "run.threads".into(),
                format!(
                    "{} threads asked; at most {MAX_THREADS} (0 = one per core)",
                    run.threads
                ),
            ));
        }

        let mut companies = parsed.company;
        if let Some(cf) = &parsed.companies_file {
            let cpath = if cf.is_absolute() {
                cf.clone()
            } else {
                base_dir.join(cf)
            };
            let ctext = std::fs::read_to_string(&cpath).map_err(|e| {
                let message = if cf.is_relative() && !cpath.exists() {
                    format!(
                        "{} not found (resolved against {}, the config file's folder)",
                        cf.display(),
                        shown_base(&base_dir)
                    )
                } else {
                    format!("cannot read {}: {e}", cpath.display())
                };
                ConfigError::file(file, message).with_key("companies_file")
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
        let stages = plan_stages(file, parsed.stage, registry, &context, &sets)?;
        let digest = digest(&decisive, &context.companies);
        Ok(PipelinePlan {
            file: file.to_string(),
            run,
            context,
            stages,
            digest,
        })
    }
}

/// See [`PipelinePlan::digest`]. TOML tables are ordered maps, so the same
/// configuration written in another order gives the same digest.
fn digest(stages: &toml::Table, companies: &[Company]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(toml::to_string(stages).unwrap_or_default());
    for c in companies {
        h.update(serde_json::to_string(c).unwrap_or_default());
    }
    let hex: String = h.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
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

/// What `--set` changed.
#[derive(Debug, Default)]
struct Sets {
    /// Per target (a stage id or `run`), the keys `--set` gave it.
    given: BTreeMap<String, Vec<Vec<String>>>,
    /// Stages whose backend `--set` changed, with the top-level keys
    /// `--set` gave them.
    swapped: BTreeMap<String, BTreeSet<String>>,
}

fn apply_overrides(root: &mut toml::Table, overrides: &[Override]) -> Result<Sets, ConfigError> {
    let mut given: BTreeMap<String, Vec<Vec<String>>> = BTreeMap::new();
    let mut set_keys: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
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
        given
            .entry(o.target.clone())
            .or_default()
            .push(o.key.clone());
    }
    set_keys.retain(|id, _| swapped.contains(id));
    Ok(Sets {
        given,
        swapped: set_keys,
    })
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
    sets: &Sets,
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
        let set = sets.given.get(&id).cloned().unwrap_or_default();
        let backend = take_string(file, &id, &mut table, "backend").map_err(|e| ConfigError {
            file: blame(file, &id, &set, "backend"),
            ..e
        })?;
        let factory = registry.factory(&kind, backend.as_deref()).map_err(|e| {
            let key = if backend.is_some() && registry.default_backend(&kind).is_some() {
                "backend"
            } else {
                "kind"
            };
            ConfigError::file(blame(file, &id, &set, key), e.to_string())
                .with_stage(&id)
                .with_key(key)
        })?;
        if let Some(from_cli) = sets.swapped.get(&id) {
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
        let origin = OptionOrigin {
            options: table.clone(),
            set,
        };
        let config = factory
            .parse(table)
            .map_err(|e| origin.parse_error(file, &id, e))?;
        config
            .check(ctx)
            .map_err(|e| origin.error(file, &id, ctx, e))?;
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
            origin,
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
    fn errors_of_set_values_are_blamed_on_set() {
        let registry = crate::default_registry().unwrap();
        let text = "[[stage]]\nid = \"t\"\nkind = \"tokenize\"\n\n[[stage]]\nid = \"s\"\nkind = \"summarize\"\nbackend = \"extractive\"\n";
        let load = |text: &str, sets: &[&str]| {
            let o: Vec<Override> = sets.iter().map(|s| s.parse().unwrap()).collect();
            PipelinePlan::from_str(text, "p.toml", PathBuf::from("."), &o, &registry).unwrap_err()
        };
        let e = load(text, &["s.min_wrds=3"]);
        assert_eq!(
            (e.file.as_str(), e.stage.as_deref(), e.key.as_deref()),
            ("--set s.min_wrds", Some("s"), Some("min_wrds"))
        );
        let e = load(text, &["s.max_sentences=0"]);
        assert_eq!(e.file, "--set s.max_sentences");
        let e = load(text, &["s.backend=gpt"]);
        assert_eq!(
            (e.file.as_str(), e.key.as_deref()),
            ("--set s.backend", Some("backend"))
        );
        let e = load(text, &["run.batch_sise=3"]);
        assert_eq!(
            (e.file.as_str(), e.key.as_deref()),
            ("--set run.batch_sise", Some("run.batch_sise"))
        );
        let e = load(text, &["run.batch_size=0"]);
        assert_eq!(e.file, "--set run.batch_size");
        // The file's own mistakes stay the file's.
        let e = load(&format!("{text}bogus = 1\n"), &["s.max_sentences=2"]);
        assert_eq!(
            (e.file.as_str(), e.key.as_deref()),
            ("p.toml", Some("bogus"))
        );
    }

    #[test]
    fn companies_file_in_run_is_explained() {
        let registry = crate::default_registry().unwrap();
        let text =
            "[run]\ncompanies_file = \"c.toml\"\n\n[[stage]]\nid = \"t\"\nkind = \"tokenize\"\n";
        let e =
            PipelinePlan::from_str(text, "p.toml", PathBuf::from("."), &[], &registry).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("run.companies_file"));
        assert!(e.message.contains("top-level key"), "{}", e.message);
    }

    #[test]
    fn a_missing_relative_path_names_the_folder_it_was_resolved_against() {
        let registry = crate::default_registry().unwrap();
        let text = "[[stage]]\nid = \"t\"\nkind = \"tokenize\"\ntokenizer = \"models/tok.json\"\n";
        let base = PathBuf::from("/nonexistent-base/conf");
        let e = PipelinePlan::from_str(text, "p.toml", base, &[], &registry).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("tokenizer"));
        assert_eq!(
            e.message,
            "models/tok.json not found (resolved against /nonexistent-base/conf, the config file's folder)"
        );
        // An absolute path is named as it is.
        let text = text.replace("models/tok.json", "/nonexistent/tok.json");
        let e = PipelinePlan::from_str(&text, "p.toml", PathBuf::from("."), &[], &registry)
            .unwrap_err();
        assert!(!e.message.contains("resolved against"), "{}", e.message);
        assert!(e.message.contains("/nonexistent/tok.json"), "{}", e.message);
    }

    #[test]
    fn set_path_creates_nested_tables() {
        let mut t = toml::Table::new();
        set_path(&mut t, &["a".into(), "b".into()], toml::Value::Integer(1)).unwrap();
        assert_eq!(t["a"]["b"].as_integer(), Some(1));
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
}
