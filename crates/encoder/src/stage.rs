//! What model stages built on an encoder and a head share: checking and
//! loading the two from a stage's `encoder` and `head` options, with one
//! loaded encoder per model directory for the whole process.

use crate::tuned::{Adapt, Pooling, Spec, TOP_FILE};
use crate::{Embed, Head, SentenceEncoder, TunedEncoder};
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
    let tuned = std::fs::read_to_string(dir.join("manifest.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<crate::Manifest>(&t).ok())
        .is_some_and(|m| m.tuned_layers > 0);
    let files: &[&str] = if tuned {
        &["manifest.json", "head.safetensors", TOP_FILE]
    } else {
        &["manifest.json", "head.safetensors"]
    };
    for f in files {
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
    static LOADED: OnceLock<Mutex<HashMap<String, Arc<SentenceEncoder>>>> = OnceLock::new();
    let source = ModelSource::parse(encoder, ctx);
    let key = source.to_string();
    let enc_err = |m: String| OptionError::new("encoder", m);
    let cache = LOADED.get_or_init(Default::default);
    let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
    let enc = match cache.get(&key) {
        Some(e) => e.clone(),
        None => {
            let repo = ModelRepo::open(source.clone()).map_err(|e| enc_err(e.to_string()))?;
            let e = Arc::new(
                SentenceEncoder::load(&repo, tch::Device::Cpu)
                    .map_err(|e| enc_err(e.to_string()))?,
            );
            cache.insert(key, e.clone());
            e
        }
    };
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
