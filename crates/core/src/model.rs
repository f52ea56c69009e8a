//! Model resolution, shared by every model stage: the one place that turns a
//! stage's `model` option into local files.
//!
//! A `model` is either a local directory in Hugging Face layout or a hub id
//! such as `sshleifer/distilbart-cnn-6-6`. A hub id is looked up in the local
//! Hugging Face cache (`$HF_HOME/hub`, default `~/.cache/huggingface/hub`)
//! and, unless `HF_HUB_OFFLINE=1`, fetched into it. Every failure names the
//! id or path, where it looked, and what to do.

use crate::config::BuildContext;
use std::fmt;
use std::path::{Path, PathBuf};

/// Where a model's files come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSource {
    /// A directory on disk (already resolved against the config's folder).
    Local(PathBuf),
    /// A Hugging Face hub repository id.
    Hub(String),
}

impl ModelSource {
    /// Reads a `model` option. An existing path, or anything that looks like
    /// a path (`/`, `./`, `../`, `~`), is local; `owner/name` or a bare name
    /// that is not on disk is a hub id.
    pub fn parse(spec: &str, ctx: &BuildContext) -> ModelSource {
        let local = ctx.resolve(Path::new(spec));
        let looks_like_path = spec.starts_with(['/', '.', '~']) || spec.contains('\\');
        let looks_like_id = !spec.is_empty()
            && spec.split('/').count() <= 2
            && spec
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
            && !spec.contains("..");
        if local.exists() || looks_like_path || !looks_like_id {
            ModelSource::Local(local)
        } else {
            ModelSource::Hub(spec.to_string())
        }
    }
}

impl fmt::Display for ModelSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelSource::Local(p) => write!(f, "{}", p.display()),
            ModelSource::Hub(id) => f.write_str(id),
        }
    }
}

/// Why a model's files could not be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    #[error("model directory {0} does not exist")]
    NoDirectory(PathBuf),
    #[error("model {0} is not a directory")]
    NotADirectory(PathBuf),
    #[error("model {model}: none of {wanted} found in {place}")]
    MissingFile {
        model: String,
        wanted: String,
        place: String,
    },
    /// One short line; the README's "Models" says how to place a model by
    /// hand, and `cache` is kept for callers that want to show it.
    #[error(
        "model {id:?} is not in the Hugging Face cache and cannot be downloaded ({}); see README.md, \"Models\"",
        short(reason)
    )]
    Unavailable {
        id: String,
        cache: String,
        reason: String,
    },
    #[error("{file}: {reason}")]
    Malformed { file: String, reason: String },
}

/// The first line of `reason`, at most 80 characters (network errors quote
/// whole URLs and resolver chains).
fn short(reason: &str) -> String {
    let line = reason.lines().next().unwrap_or_default().trim();
    match line.char_indices().nth(80) {
        Some((i, _)) => format!("{}...", &line[..i]),
        None => line.to_string(),
    }
}

/// A model's files, local or from the hub cache (fetched on demand).
#[derive(Debug, Clone)]
pub struct ModelRepo {
    source: ModelSource,
}

fn offline() -> bool {
    std::env::var("HF_HUB_OFFLINE").is_ok_and(|v| !v.is_empty() && v != "0")
}

impl ModelRepo {
    /// Opens a model. A local directory must exist; a hub id is not
    /// contacted until a file is asked for.
    pub fn open(source: ModelSource) -> Result<Self, ModelError> {
        if let ModelSource::Local(dir) = &source {
            if !dir.exists() {
                return Err(ModelError::NoDirectory(dir.clone()));
            }
            if !dir.is_dir() {
                return Err(ModelError::NotADirectory(dir.clone()));
            }
        }
        Ok(ModelRepo { source })
    }

    pub fn source(&self) -> &ModelSource {
        &self.source
    }

    /// The id shown in provenance: the hub id, or the directory.
    pub fn id(&self) -> String {
        self.source.to_string()
    }

    fn cache_repo(id: &str) -> hf_hub::CacheRepo {
        hf_hub::Cache::from_env().model(id.to_string())
    }

    /// Whether a file is available without any download.
    pub fn has_local(&self, name: &str) -> bool {
        match &self.source {
            ModelSource::Local(dir) => dir.join(name).is_file(),
            ModelSource::Hub(id) => Self::cache_repo(id).get(name).is_some(),
        }
    }

    /// The first of `names` that exists (a group of alternatives, such as
    /// `model.safetensors` or `rust_model.ot`), downloading a hub model's
    /// file into the cache when it is not there yet.
    pub fn file(&self, names: &[&str]) -> Result<PathBuf, ModelError> {
        let wanted = names.join(" or ");
        match &self.source {
            ModelSource::Local(dir) => names
                .iter()
                .map(|n| dir.join(n))
                .find(|p| p.is_file())
                .ok_or_else(|| ModelError::MissingFile {
                    model: dir.display().to_string(),
                    wanted,
                    place: dir.display().to_string(),
                }),
            ModelSource::Hub(id) => {
                let cached = Self::cache_repo(id);
                if let Some(p) = names.iter().find_map(|n| cached.get(n)) {
                    return Ok(p);
                }
                let cache_dir = hf_hub::Cache::from_env()
                    .path()
                    .join(format!("models--{}", id.replace('/', "--")));
                let unavailable = |reason: String| ModelError::Unavailable {
                    id: id.clone(),
                    cache: cache_dir.display().to_string(),
                    reason,
                };
                if offline() {
                    return Err(unavailable("HF_HUB_OFFLINE is set".into()));
                }
                let api = hf_hub::api::sync::ApiBuilder::from_env()
                    .with_progress(false)
                    .build()
                    .map_err(|e| unavailable(e.to_string()))?;
                let repo = api.model(id.clone());
                let mut last = String::new();
                for n in names {
                    match repo.get(n) {
                        Ok(p) => return Ok(p),
                        Err(e) => last = format!("{n}: {e}"),
                    }
                }
                Err(unavailable(last))
            }
        }
    }

    /// `config.json`, parsed.
    pub fn config_json(&self) -> Result<(PathBuf, serde_json::Value), ModelError> {
        let path = self.file(&["config.json"])?;
        let text = std::fs::read_to_string(&path).map_err(|e| ModelError::Malformed {
            file: path.display().to_string(),
            reason: e.to_string(),
        })?;
        let value = serde_json::from_str(&text).map_err(|e| ModelError::Malformed {
            file: path.display().to_string(),
            reason: format!("invalid JSON: {e}"),
        })?;
        Ok((path, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(dir: &Path) -> BuildContext {
        BuildContext {
            base_dir: dir.to_path_buf(),
            companies: vec![],
        }
    }

    #[test]
    fn specs_are_told_apart() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("mymodel")).unwrap();
        let c = ctx(dir.path());
        assert_eq!(
            ModelSource::parse("sshleifer/distilbart-cnn-6-6", &c),
            ModelSource::Hub("sshleifer/distilbart-cnn-6-6".into())
        );
        assert_eq!(
            ModelSource::parse("mymodel", &c),
            ModelSource::Local(dir.path().join("mymodel"))
        );
        assert!(matches!(
            ModelSource::parse("./x/y", &c),
            ModelSource::Local(_)
        ));
        assert!(matches!(
            ModelSource::parse("/abs/x", &c),
            ModelSource::Local(_)
        ));
        assert!(matches!(
            ModelSource::parse("a/b/c", &c),
            ModelSource::Local(_)
        ));
    }

    #[test]
    fn local_files_and_errors_name_paths() {
        let dir = tempfile::tempdir().unwrap();
        let missing = ModelRepo::open(ModelSource::Local(dir.path().join("nope"))).unwrap_err();
        assert!(missing.to_string().contains("nope"));
        let repo = ModelRepo::open(ModelSource::Local(dir.path().into())).unwrap();
        let e = repo.config_json().unwrap_err();
        assert!(e.to_string().contains("config.json"), "{e}");
        std::fs::write(dir.path().join("config.json"), "{not json").unwrap();
        let e = repo.config_json().unwrap_err();
        assert!(e.to_string().contains("invalid JSON"), "{e}");
        std::fs::write(dir.path().join("rust_model.ot"), "").unwrap();
        let p = repo.file(&["model.safetensors", "rust_model.ot"]).unwrap();
        assert!(p.ends_with("rust_model.ot"));
    }

    #[test]
    fn uncached_hub_model_offline_says_what_to_do() {
        let home = tempfile::tempdir().unwrap();
        // Scoped env changes: this test is the only one touching these vars.
        std::env::set_var("HF_HOME", home.path());
        std::env::set_var("HF_HUB_OFFLINE", "1");
        let repo =
            ModelRepo::open(ModelSource::Hub("sshleifer/distilbart-cnn-6-6".into())).unwrap();
        let e = repo.file(&["config.json"]).unwrap_err().to_string();
        std::env::remove_var("HF_HUB_OFFLINE");
        std::env::remove_var("HF_HOME");
        assert!(e.contains("sshleifer/distilbart-cnn-6-6"), "{e}");
        assert!(e.contains("not in the Hugging Face cache"), "{e}");
        assert!(e.contains("README.md, \"Models\""), "{e}");
        assert!(!e.contains('\n') && e.len() < 200, "one short line: {e}");
    }
}
