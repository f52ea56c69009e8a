//! What model stages built on an encoder and a head share: checking and
//! loading the two from a stage's `encoder` and `head` options, with one
//! loaded encoder per model directory for the whole process.

use crate::tuned::{Adapt, Pooling, Spec, TOP_FILE};
use crate::{Embed, Head, SentenceEncoder, StatesEncoder, TunedEncoder};
use stancepipe_core::{BuildContext, ModelRepo, ModelSource, OptionError};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

/// Validation-time checks: a local encoder directory and the head's files
/// exist. Errors name the option and the path.
pub fn check(encoder: &str, head: &Path, ctx: &BuildContext) -> Result<(), OptionError> {
    if let ModelSource::Local(dir) = ModelSource::parse(encoder, ctx) {
        if !dir.join("config.json").is_file() {
            return Err(OptionError::new(
                "encoder",
                format!(
                    "{} has no config.json (a sentence-transformers model directory is expected; \
                     `bash scripts/bootstrap.sh` places all-MiniLM-L6-v2 in models/)",
                    dir.display()
                ),
            ));
        }
    }
    let dir = ctx.resolve(head);
    let manifest = std::fs::read_to_string(dir.join("manifest.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<crate::Manifest>(&t).ok());
    let mut files = vec!["manifest.json".to_string(), "head.safetensors".to_string()];
    if let Some(m) = manifest.filter(|m| m.tuned_layers > 0) {
        files.push(m.encoder_top.unwrap_or_else(|| TOP_FILE.to_string()));
    }
    for f in &files {
        if !dir.join(f).is_file() {
            return Err(OptionError::new(
                "head",
                format!(
                    "{} not found (train one with `stancepipe train`)",
                    dir.join(f).display()
                ),
            ));
        }
    }
    Ok(())
}

/// Whether the head directory holds a one-pass head (its manifest says so).
pub fn is_one_pass(head: &Path, ctx: &BuildContext) -> bool {
    std::fs::read_to_string(ctx.resolve(head).join("manifest.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<crate::Manifest>(&t).ok())
        .is_some_and(|m| m.one_pass)
}

/// The base encoder of `encoder`, loaded once per process.
fn load_base(
    encoder: &str,
    ctx: &BuildContext,
) -> Result<(Arc<SentenceEncoder>, ModelSource), OptionError> {
    static LOADED: OnceLock<Mutex<HashMap<String, Arc<SentenceEncoder>>>> = OnceLock::new();
    let source = ModelSource::parse(encoder, ctx);
    let key = source.to_string();
    let enc_err = |m: String| OptionError::new("encoder", m);
    let mut cache = LOADED
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(e) = cache.get(&key) {
        return Ok((e.clone(), source));
    }
    let repo = ModelRepo::open(source.clone()).map_err(|e| enc_err(e.to_string()))?;
    let e = Arc::new(
        SentenceEncoder::load(&repo, tch::Device::Cpu).map_err(|e| enc_err(e.to_string()))?,
    );
    cache.insert(key, e.clone());
    Ok((e, source))
}

/// Loads (or reuses) the encoder and loads the head, checking that the head
/// was trained for `task` on features of the encoder's size. A head trained
/// with fine-tuned top layers comes with its own [`TunedEncoder`] over the
/// shared base encoder.
pub fn load(
    encoder: &str,
    head: &Path,
    task: &str,
    ctx: &BuildContext,
) -> Result<(Arc<dyn Embed>, Head), OptionError> {
    if is_one_pass(head, ctx) {
        let (states, head) = load_one_pass(encoder, head, task, ctx)?;
        return Ok((states, head));
    }
    let (enc, source) = load_base(encoder, ctx)?;
    let enc_err = |m: String| OptionError::new("encoder", m);
    let dir = ctx.resolve(head);
    let head = Head::load(&dir).map_err(|m| OptionError::new("head", m))?;
    if head.manifest.task != task {
        return Err(OptionError::new(
            "head",
            format!(
                "{} is a {:?} head; this stage needs a {task:?} head",
                dir.display(),
                head.manifest.task
            ),
        ));
    }
    let (per, pooling) = head.manifest.shape();
    if enc.dim() * per * pooling.width() != head.manifest.input_dim {
        return Err(OptionError::new(
            "head",
            format!(
                "{} expects {} input features, which encoder {} ({} dimensions) cannot give",
                dir.display(),
                head.manifest.input_dim,
                enc.id(),
                enc.dim()
            ),
        ));
    }
    if head.manifest.tuned_layers == 0 && pooling == Pooling::Mean {
        return Ok((enc, head));
    }
    // Tuned layers, or token states for span pooling (the base model's own
    // top layer when nothing was tuned).
    let repo = ModelRepo::open(source).map_err(|e| enc_err(e.to_string()))?;
    let (layers, top) = match head.manifest.tuned_layers {
        0 => (1, None),
        n => (n, Some(dir.join(TOP_FILE))),
    };
    let spec = Spec {
        layers,
        adapt: Adapt::from_rank(head.manifest.lora_rank),
        pooling,
    };
    let tuned = TunedEncoder::load(enc, &repo, spec, top.as_deref())
        .map_err(|e| OptionError::new("head", e.to_string()))?;
    Ok((Arc::new(tuned), head))
}

/// Loads (or reuses) the [`StatesEncoder`] a one-pass head reads and the
/// head itself. Heads trained together name the same adapters file
/// (`encoder_top` in their manifests), so they get the same encoder, and its
/// cache of token states lets the second stage reuse the first one's pass.
pub fn load_one_pass(
    encoder: &str,
    head: &Path,
    task: &str,
    ctx: &BuildContext,
) -> Result<(Arc<StatesEncoder>, Head), OptionError> {
    type Key = (String, std::path::PathBuf);
    static LOADED: OnceLock<Mutex<HashMap<Key, Arc<StatesEncoder>>>> = OnceLock::new();
    let dir = ctx.resolve(head);
    let loaded = Head::load(&dir).map_err(|m| OptionError::new("head", m))?;
    let m = &loaded.manifest;
    let want = if task == "sentence-sentiment" {
        1
    } else {
        crate::features::one_pass_target_parts(m.context_tokens, m.attend_tokens)
    };
    if m.task != task || !m.one_pass {
        return Err(OptionError::new(
            "head",
            format!("{} is not a one-pass {task:?} head", dir.display()),
        ));
    }
    let top = dir.join(m.encoder_top.as_deref().unwrap_or(TOP_FILE));
    let top = top.canonicalize().map_err(|e| {
        OptionError::new(
            "head",
            format!("{}: {e} (the head's encoder adapters)", top.display()),
        )
    })?;
    let source = ModelSource::parse(encoder, ctx);
    let key = (source.to_string(), top.clone());
    let enc_err = |m: String| OptionError::new("encoder", m);
    let mut cache = LOADED
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let states = match cache.get(&key) {
        Some(s) => s.clone(),
        None => {
            let (base, _) = load_base(encoder, ctx)?;
            let repo = ModelRepo::open(source).map_err(|e| enc_err(e.to_string()))?;
            let spec = Spec {
                layers: m.tuned_layers.max(1),
                adapt: Adapt::from_rank(m.lora_rank),
                pooling: Pooling::Mean,
            };
            let tuned = (m.tuned_layers > 0).then_some(top.as_path());
            let s = Arc::new(
                crate::states::load(base, &repo, spec, tuned)
                    .map_err(|e| OptionError::new("head", e.to_string()))?,
            );
            cache.insert(key, s.clone());
            s
        }
    };
    if states.dim() * want != m.input_dim {
        return Err(OptionError::new(
            "head",
            format!(
                "{} expects {} input features, which encoder {} ({} dimensions) cannot give",
                dir.display(),
                m.input_dim,
                states.id(),
                states.dim()
            ),
        ));
    }
    Ok((states, loaded))
}

/// Validation-time check of a recognizer directory (`recognizer` option):
/// its manifest, head and adapters exist.
pub fn check_tagger(dir: &Path, ctx: &BuildContext) -> Result<(), OptionError> {
    let dir = ctx.resolve(dir);
    for f in ["manifest.json", "head.safetensors", TOP_FILE] {
        if !dir.join(f).is_file() {
            return Err(OptionError::new(
                "recognizer",
                format!(
                    "{} not found (train one with `stancepipe train entities`)",
                    dir.join(f).display()
                ),
            ));
        }
    }
    Ok(())
}

/// Loads (or reuses) the organization recognizer in `dir` over the base
/// encoder `encoder`: one per directory for the whole process.
pub fn load_tagger(
    encoder: &str,
    dir: &Path,
    ctx: &BuildContext,
) -> Result<Arc<crate::tagger::Tagger>, OptionError> {
    type Key = (String, std::path::PathBuf);
    static LOADED: OnceLock<Mutex<HashMap<Key, Arc<crate::tagger::Tagger>>>> = OnceLock::new();
    check_tagger(dir, ctx)?;
    let dir = ctx.resolve(dir);
    let dir = dir
        .canonicalize()
        .map_err(|e| OptionError::new("recognizer", format!("{}: {e}", dir.display())))?;
    let source = ModelSource::parse(encoder, ctx);
    let key = (source.to_string(), dir.clone());
    let mut cache = LOADED
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(t) = cache.get(&key) {
        return Ok(t.clone());
    }
    let (base, _) = load_base(encoder, ctx)?;
    let repo = ModelRepo::open(source).map_err(|e| OptionError::new("encoder", e.to_string()))?;
    let t = Arc::new(
        crate::tagger::Tagger::load(base, &repo, &dir)
            .map_err(|m| OptionError::new("recognizer", m))?,
    );
    cache.insert(key, t.clone());
    Ok(t)
}
