//! What stages read while they are configured and built.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A company to track, with the names it goes by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Company {
    pub name: String,
    /// Names matched in the text. The name itself is always matched too.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Match exactly as written. By default aliases match ASCII
    /// case-insensitively, except all-capital aliases of up to 4 letters
    /// (acronyms such as "JD"), which would otherwise match common words.
    #[serde(default)]
    pub case_sensitive: bool,
}

impl Company {
    /// The name and aliases, deduplicated, in the configured order.
    pub fn names(&self) -> Vec<&str> {
        let mut out: Vec<&str> = vec![self.name.as_str()];
        for a in &self.aliases {
            if !out.contains(&a.as_str()) {
                out.push(a);
            }
        }
        out
    }
}

/// Shared, read-only context for configuring and building stages.
#[derive(Debug, Clone, Default)]
pub struct BuildContext {
    /// Directory of the config file; relative paths in options resolve here.
    pub base_dir: PathBuf,
    pub companies: Vec<Company>,
}

impl BuildContext {
    pub fn resolve(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.base_dir.join(path)
        }
    }
}

/// An option that could not be accepted. `key` is the option's dotted path
/// inside the stage table (empty when the table as a whole is wrong).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct OptionError {
    pub key: String,
    pub message: String,
}

impl OptionError {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        OptionError {
            key: key.into(),
            message: message.into(),
        }
    }
}

/// Deserializes a stage's options (its TOML table without `id` and `kind`)
/// into a config struct, reporting which key was wrong. Config structs use
/// `#[serde(deny_unknown_fields)]` so that typos are errors.
pub fn parse_options<T: DeserializeOwned>(table: toml::Table) -> Result<T, OptionError> {
    let value = toml::Value::Table(table);
    serde_path_to_error::deserialize(value).map_err(|e| {
        // The path already ends in the offending key, unknown fields included.
        let mut key = e.path().to_string();
        if key == "." {
            key.clear();
        }
        // toml appends "\nin `key`" (the key is already named): keep line one.
        let message = e.inner().to_string();
        let message = message
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .to_string();
        OptionError { key, message }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Opts {
        #[serde(default)]
        threshold: f32,
        #[serde(default)]
        inner: Inner,
    }
    #[derive(Debug, Deserialize, Default)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        #[serde(default)]
        n: u32,
    }

    fn table(s: &str) -> toml::Table {
        s.parse().unwrap()
    }

    #[test]
    fn unknown_key_is_named() {
        let e = parse_options::<Opts>(table("treshold = 0.3")).unwrap_err();
        assert_eq!(e.key, "treshold");
        assert!(e.message.contains("unknown field"), "{}", e.message);
    }

    #[test]
    fn mistyped_key_is_named() {
        let e = parse_options::<Opts>(table("threshold = \"high\"")).unwrap_err();
        assert_eq!(e.key, "threshold");
        let e = parse_options::<Opts>(table("[inner]\nn = -3")).unwrap_err();
        assert_eq!(e.key, "inner.n");
        let e = parse_options::<Opts>(table("[inner]\nm = 1")).unwrap_err();
        assert_eq!(e.key, "inner.m");
    }

    #[test]
    fn company_names_dedupe() {
        let c = Company {
            name: "WeChat".into(),
            aliases: vec!["WeChat".into(), "WeChat Pay".into()],
            case_sensitive: false,
        };
        assert_eq!(c.names(), vec!["WeChat", "WeChat Pay"]);
    }
}
