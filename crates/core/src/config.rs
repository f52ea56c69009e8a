//! What stages read while they are configured and built.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A company to track, with the names it goes by.
///
/// Case (the rule lives in the tokenize stage's `MentionFinder`): by default
/// an alias with a capital letter ("Apple", "JD") matches as written or in
/// all capitals ("APPLE", in a headline), never in lower case ("apple
/// pie"); an alias written all in lower case ("alipay") matches in any case.
/// `case_sensitive` and `case_insensitive` override that for every alias of
/// the company.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Company {
    pub name: String,
    /// Names matched in the text. The name itself is always matched too.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Match every alias exactly as written (not even in all capitals).
    #[serde(default)]
    pub case_sensitive: bool,
    /// Match every alias in any ASCII case: for a lower-case brand or a
    /// ticker that the text writes in any case.
    #[serde(default)]
    pub case_insensitive: bool,
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

    /// A company with a name and aliases and the default case rule.
    pub fn new(name: impl Into<String>, aliases: &[&str]) -> Self {
        Company {
            name: name.into(),
            aliases: aliases.iter().map(|a| a.to_string()).collect(),
            ..Company::default()
        }
    }

    /// What is wrong with this company, if anything: an empty name or
    /// alias, or both case options at once.
    pub fn check(&self) -> Result<(), String> {
        if self.name.trim().is_empty() {
            return Err("company name is empty".into());
        }
        if self.aliases.iter().any(|a| a.trim().is_empty()) {
            return Err(format!("company {:?} has an empty alias", self.name));
        }
        if self.case_sensitive && self.case_insensitive {
            return Err(format!(
                "company {:?} sets both case_sensitive and case_insensitive",
                self.name
            ));
        }
        Ok(())
    }
}

/// `base` followed by `extra`, merged by name (trimmed, ASCII
/// case-insensitively; empty names skipped): a company of `extra` whose name
/// is already there adds its aliases to that company (which keeps its own
/// case options), any other is appended. The order, and so the order of the
/// entities the tokenize stage writes, is `base` first.
pub fn merge_companies<'a>(
    base: &[Company],
    extra: impl IntoIterator<Item = &'a Company>,
) -> Vec<Company> {
    let mut out: Vec<Company> = base.to_vec();
    for c in extra {
        let name = c.name.trim();
        if name.is_empty() {
            continue;
        }
        let i = match out.iter().position(|x| x.name.eq_ignore_ascii_case(name)) {
            Some(i) => i,
            None => {
                out.push(Company {
                    name: name.to_string(),
                    aliases: Vec::new(),
                    ..c.clone()
                });
                out.len() - 1
            }
        };
        for a in c.aliases.iter().map(|a| a.trim()).filter(|a| !a.is_empty()) {
            if !out[i].aliases.iter().any(|x| x == a) {
                out[i].aliases.push(a.to_string());
            }
        }
    }
    out
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
        let c = Company::new("WeChat", &["WeChat", "WeChat Pay"]);
        assert_eq!(c.names(), vec!["WeChat", "WeChat Pay"]);
    }

    #[test]
    fn merge_by_name_keeps_base_first() {
        let base = [Company::new("Acme", &["Acme Corp"])];
        let extra = [
            Company::new(" acme ", &["ACME Inc", "Acme Corp"]),
            Company::new("Bolt", &["Bolt Inc"]),
            Company::new("  ", &["x"]),
            Company {
                case_insensitive: true,
                ..Company::new("BOLT", &["bolt"])
            },
        ];
        let merged = merge_companies(&base, &extra);
        assert_eq!(
            merged,
            [
                Company::new("Acme", &["Acme Corp", "ACME Inc"]),
                Company::new("Bolt", &["Bolt Inc", "bolt"]),
            ]
        );
    }

    #[test]
    fn company_check_rejects_both_case_options() {
        assert!(Company::new("Acme", &[]).check().is_ok());
        let both = Company {
            case_sensitive: true,
            case_insensitive: true,
            ..Company::new("Acme", &[])
        };
        assert!(both.check().unwrap_err().contains("both"));
        assert!(Company::new(" ", &[]).check().is_err());
        assert!(Company::new("Acme", &[""]).check().is_err());
    }
}
