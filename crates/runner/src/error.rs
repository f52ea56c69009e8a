//! Errors of the runner. Each names where the problem is: the config file,
//! the stage id and the key, or the input path.

use std::fmt;
use std::path::PathBuf;

/// A problem with the pipeline configuration, found before any document flows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The config file, or `--set` for a command-line override.
    pub file: String,
    /// The stage `id` (or `#N` when the stage has no usable id).
    pub stage: Option<String>,
    /// The option, as a dotted path inside the stage or file.
    pub key: Option<String>,
    pub message: String,
}

impl ConfigError {
    pub fn file(file: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            file: file.into(),
            stage: None,
            key: None,
            message: message.into(),
        }
    }
    pub fn with_stage(mut self, stage: impl Into<String>) -> Self {
        self.stage = Some(stage.into());
        self
    }
    pub fn with_key(mut self, key: impl Into<String>) -> Self {
        let key = key.into();
        self.key = (!key.is_empty()).then_some(key);
        self
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(stage) = &self.stage {
            write!(f, ": stage \"{stage}\"")?;
        }
        if let Some(key) = &self.key {
            write!(f, ": key \"{key}\"")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

/// A problem reading inputs or writing outputs that stops the whole run
/// (a missing input path, an unwritable output). Problems with a single
/// document are not errors: they become error records.
#[derive(Debug, thiserror::Error)]
pub enum IoError {
    #[error("input {path}: {source}")]
    Input {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "inputs {first} and {second} both give the id {id:?} (a file's id is its path below \
         the input folder, without extension); rename one or run them separately"
    )]
    DuplicateId {
        id: String,
        first: PathBuf,
        second: PathBuf,
    },
    #[error("output {path}: {source}")]
    Output {
        path: String,
        source: std::io::Error,
    },
}
