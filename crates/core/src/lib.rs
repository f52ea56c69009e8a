//! The shared vocabulary of stancepipe.
//!
//! Every stage crate depends on this crate and on nothing else of the
//! workspace. It defines:
//!
//! - [`doc`]: the one document type that flows through the pipeline. The
//!   original text is never modified; every annotation points into it by
//!   byte offsets.
//! - [`stage`]: the [`Stage`] trait (a running component that processes a
//!   batch of documents) and the [`Annotation`]s a stage requires and provides.
//! - [`registry`]: factories that turn a stage's TOML table into a validated
//!   [`StageConfig`] and then into a running [`Stage`]. Config and runtime are
//!   separate types, as in Vector.
//! - [`config`]: what every stage may read while it is built (companies,
//!   paths relative to the config file) and the option-parsing helper that
//!   turns serde errors into errors that name the key.
//! - [`names`]: when two company names are one company.
//! - [`model`]: model resolution (local directory or hub id, cache, download),
//!   shared by every model stage.

pub mod config;
pub mod doc;
pub mod model;
pub mod names;
pub mod registry;
pub mod stage;

pub use config::{merge_companies, parse_options, BuildContext, Company, OptionError};
pub use doc::*;
pub use model::{ModelError, ModelRepo, ModelSource};
pub use registry::{
    BackendConfig, BackendFactory, OptionDoc, Registry, RegistryError, StageConfig,
};
pub use stage::{par_each_doc, Annotation, Stage, StageError};
