//! The stage registry: `kind` + `backend` strings to factories.
//!
//! A pipeline stage is configured in two steps, as in Vector: its TOML table
//! is parsed into a plain config struct (a [`StageConfig`], with defaults and
//! `deny_unknown_fields`), which is validated, and only then built into a
//! running [`Stage`]. Each stage crate registers its backends explicitly with
//! [`Registry::register`]; a third-party crate can register more without
//! touching the runner.

use crate::config::{parse_options, BuildContext, OptionError};
use crate::stage::{Annotation, Stage};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::BTreeMap;
use std::marker::PhantomData;

/// A parsed, not yet built, stage configuration.
pub trait StageConfig: Send + Sync + std::fmt::Debug {
    /// Annotations that an earlier stage must have provided.
    fn requires(&self) -> Vec<Annotation>;
    /// Annotations this stage adds.
    fn provides(&self) -> Vec<Annotation>;
    /// The model id or path this stage will load, if any (for `validate`).
    fn model(&self) -> Option<String> {
        None
    }
    /// Cheap checks that need the file system (paths exist); loads nothing
    /// heavy. Runs during validation, before any document flows.
    fn check(&self, _ctx: &BuildContext) -> Result<(), OptionError> {
        Ok(())
    }
    /// Builds the running stage (loads lexicons, tokenizers, models).
    fn build(&self, ctx: &BuildContext) -> Result<Box<dyn Stage>, OptionError>;
}

/// A config struct that can be registered as a backend of a stage kind.
pub trait BackendConfig: StageConfig + DeserializeOwned + Serialize + Default + 'static {
    /// The stage kind (`tokenize`, `classify`, `stance`, `summarize`, ...).
    const KIND: &'static str;
    /// The backend name, selected with the stage's `backend` option.
    const BACKEND: &'static str;
    /// One line for `stancepipe stages`.
    const DESCRIPTION: &'static str;
    /// Every option, in display order, with one line of help.
    const OPTIONS: &'static [(&'static str, &'static str)];
}

/// One option of a backend, for listing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OptionDoc {
    pub name: &'static str,
    /// The default as TOML, or `None` when the option has no default.
    pub default: Option<String>,
    pub help: &'static str,
}

/// Type-erased factory of one backend.
pub trait BackendFactory: Send + Sync {
    fn kind(&self) -> &'static str;
    fn backend(&self) -> &'static str;
    fn description(&self) -> &'static str;
    fn options(&self) -> Vec<OptionDoc>;
    fn parse(&self, options: toml::Table) -> Result<Box<dyn StageConfig>, OptionError>;
}

struct Factory<C>(PhantomData<fn() -> C>);

impl<C: BackendConfig> BackendFactory for Factory<C> {
    fn kind(&self) -> &'static str {
        C::KIND
    }
    fn backend(&self) -> &'static str {
        C::BACKEND
    }
    fn description(&self) -> &'static str {
        C::DESCRIPTION
    }
    fn options(&self) -> Vec<OptionDoc> {
        let defaults = toml::Value::try_from(C::default())
            .ok()
            .and_then(|v| v.as_table().cloned())
            .unwrap_or_default();
        C::OPTIONS
            .iter()
            .map(|(name, help)| OptionDoc {
                name,
                default: defaults.get(*name).map(|v| v.to_string()),
                help,
            })
            .collect()
    }
    fn parse(&self, options: toml::Table) -> Result<Box<dyn StageConfig>, OptionError> {
        Ok(Box::new(parse_options::<C>(options)?))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    #[error("unknown stage kind {kind:?} (registered kinds: {known})")]
    UnknownKind { kind: String, known: String },
    #[error("unknown backend {backend:?} for kind {kind:?} (registered backends: {known})")]
    UnknownBackend {
        kind: String,
        backend: String,
        known: String,
    },
    #[error("backend {backend:?} of kind {kind:?} is registered twice")]
    Duplicate { kind: String, backend: String },
}

struct KindEntry {
    /// The first backend registered for a kind is its default.
    default_backend: &'static str,
    backends: BTreeMap<&'static str, Box<dyn BackendFactory>>,
}

/// Maps `kind` and `backend` names to factories.
#[derive(Default)]
pub struct Registry {
    kinds: BTreeMap<&'static str, KindEntry>,
}

impl Registry {
    pub fn new() -> Self {
        Registry::default()
    }

    /// Registers `C` as a backend of `C::KIND`. The first backend registered
    /// for a kind is used when a stage names no `backend`.
    pub fn register<C: BackendConfig>(&mut self) -> Result<(), RegistryError> {
        self.register_factory(Box::new(Factory::<C>(PhantomData)))
    }

    pub fn register_factory(&mut self, f: Box<dyn BackendFactory>) -> Result<(), RegistryError> {
        let entry = self.kinds.entry(f.kind()).or_insert_with(|| KindEntry {
            default_backend: f.backend(),
            backends: BTreeMap::new(),
        });
        if entry.backends.contains_key(f.backend()) {
            return Err(RegistryError::Duplicate {
                kind: f.kind().into(),
                backend: f.backend().into(),
            });
        }
        entry.backends.insert(f.backend(), f);
        Ok(())
    }

    /// The default backend of a kind.
    pub fn default_backend(&self, kind: &str) -> Option<&'static str> {
        self.kinds.get(kind).map(|k| k.default_backend)
    }

    /// Finds the factory for `kind` and `backend` (the kind's default when `None`).
    pub fn factory(
        &self,
        kind: &str,
        backend: Option<&str>,
    ) -> Result<&dyn BackendFactory, RegistryError> {
        let entry = self
            .kinds
            .get(kind)
            .ok_or_else(|| RegistryError::UnknownKind {
                kind: kind.into(),
                known: self.kinds.keys().copied().collect::<Vec<_>>().join(", "),
            })?;
        let backend = backend.unwrap_or(entry.default_backend);
        entry
            .backends
            .get(backend)
            .map(|b| b.as_ref())
            .ok_or_else(|| RegistryError::UnknownBackend {
                kind: kind.into(),
                backend: backend.into(),
                known: entry
                    .backends
                    .keys()
                    .copied()
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// Every registered backend, by kind then backend name.
    pub fn factories(&self) -> impl Iterator<Item = &dyn BackendFactory> {
        self.kinds
            .values()
            .flat_map(|k| k.backends.values().map(|b| b.as_ref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::Doc;
    use crate::stage::StageError;
    use serde::Deserialize;

    #[derive(Debug, Default, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Upper {
        #[serde(default)]
        times: u32,
    }
    struct UpperStage;
    impl Stage for UpperStage {
        fn backend(&self) -> &str {
            "upper"
        }
        fn process(&self, docs: &mut [Doc]) -> Result<(), StageError> {
            for d in docs {
                d.text = d.text.to_uppercase();
            }
            Ok(())
        }
    }
    impl StageConfig for Upper {
        fn requires(&self) -> Vec<Annotation> {
            vec![]
        }
        fn provides(&self) -> Vec<Annotation> {
            vec![]
        }
        fn build(&self, _: &BuildContext) -> Result<Box<dyn Stage>, OptionError> {
            Ok(Box::new(UpperStage))
        }
    }
    impl BackendConfig for Upper {
        const KIND: &'static str = "demo";
        const BACKEND: &'static str = "upper";
        const DESCRIPTION: &'static str = "uppercases";
        const OPTIONS: &'static [(&'static str, &'static str)] = &[("times", "how often")];
    }

    #[test]
    fn register_lookup_and_build() {
        let mut r = Registry::new();
        r.register::<Upper>().unwrap();
        assert!(matches!(
            r.register::<Upper>(),
            Err(RegistryError::Duplicate { .. })
        ));
        let f = r.factory("demo", None).unwrap();
        assert_eq!(f.backend(), "upper");
        assert_eq!(f.options()[0].default.as_deref(), Some("0"));
        let cfg = f.parse("times = 2".parse().unwrap()).unwrap();
        let stage = cfg.build(&BuildContext::default()).unwrap();
        let mut docs = vec![Doc::new("a", "x")];
        stage.process(&mut docs).unwrap();
        assert_eq!(docs[0].text, "X");
        assert!(matches!(
            r.factory("nope", None),
            Err(RegistryError::UnknownKind { .. })
        ));
        assert!(matches!(
            r.factory("demo", Some("lower")),
            Err(RegistryError::UnknownBackend { .. })
        ));
        assert_eq!(
            f.parse("tims = 2".parse().unwrap()).unwrap_err().key,
            "tims"
        );
    }
}
