//! Encoder-decoder summarizers (BART / DistilBART, T5 / FLAN-T5, Pegasus)
//! through rust-bert on libtorch.
//!
//! [`Seq2Seq::load`] is the only way a model is loaded: the architecture
//! comes from `config.json` (`model_type`), the weights from
//! `model.safetensors` or `rust_model.ot`, and the tokenizer from the files
//! that architecture uses (`vocab.json` + `merges.txt`, or `spiece.model`).
//! Files come through [`ModelRepo`], so a hub id and a local directory take
//! the same path.

use rust_bert::bart::{BartConfig, BartForConditionalGeneration, BartGenerator};
use rust_bert::pegasus::{
    PegasusConditionalGenerator, PegasusConfig, PegasusForConditionalGeneration,
};
use rust_bert::pipelines::common::{ModelResource, ModelType, TokenizerOption};
use rust_bert::pipelines::generation_utils::{GenerateConfig, GenerateOptions, LanguageGenerator};
use rust_bert::resources::LocalResource;
use rust_bert::t5::{T5Config, T5ForConditionalGeneration, T5Generator};
use rust_bert::Config;
use rust_tokenizers::tokenizer::TruncationStrategy;
use stancepipe_core::{ModelError, ModelRepo};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use tch::{nn, Device, Kind, Tensor};

/// The encoder-decoder families this module runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    Bart,
    T5,
    Pegasus,
}

impl Arch {
    fn from_model_type(t: &str) -> Option<Arch> {
        match t {
            "bart" => Some(Arch::Bart),
            "t5" => Some(Arch::T5),
            "pegasus" => Some(Arch::Pegasus),
            _ => None,
        }
    }

    fn model_type(self) -> ModelType {
        match self {
            Arch::Bart => ModelType::Bart,
            Arch::T5 => ModelType::T5,
            Arch::Pegasus => ModelType::Pegasus,
        }
    }
}

/// Generation settings, applied to every call (none is left to rust-bert's
/// or the checkpoint's defaults, so runs are reproducible).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GenParams {
    pub num_beams: i64,
    pub min_length: i64,
    pub max_length: i64,
    pub length_penalty: f64,
    pub no_repeat_ngram_size: i64,
    pub early_stopping: bool,
}

impl GenParams {
    fn options(&self) -> GenerateOptions<'static> {
        GenerateOptions {
            min_length: Some(self.min_length),
            max_length: Some(self.max_length),
            early_stopping: Some(self.early_stopping),
            num_return_sequences: Some(1),
            num_beams: Some(self.num_beams),
            num_beam_groups: Some(1),
            do_sample: Some(false),
            temperature: Some(1.0),
            top_k: Some(50),
            top_p: Some(1.0),
            repetition_penalty: Some(1.0),
            length_penalty: Some(self.length_penalty),
            no_repeat_ngram_size: Some(self.no_repeat_ngram_size),
            diversity_penalty: Some(0.0),
            ..Default::default()
        }
    }
}

/// Which generation loop runs: ours ([`crate::generate`]) or rust-bert's
/// `generate`. Both give `transformers`' ids on the parity fixtures; ours
/// does not re-select the encoder output and cross-attention states per
/// beam step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GeneratorKind {
    #[default]
    Own,
    RustBert,
}

impl GeneratorKind {
    /// The option value ("own" or "rust-bert").
    pub fn name(self) -> &'static str {
        match self {
            GeneratorKind::Own => "own",
            GeneratorKind::RustBert => "rust-bert",
        }
    }

    pub fn parse(s: &str) -> Option<GeneratorKind> {
        match s {
            "own" => Some(GeneratorKind::Own),
            "rust-bert" => Some(GeneratorKind::RustBert),
            _ => None,
        }
    }
}

/// Our loop's model, tokenizer and special ids.
struct OwnGen {
    model: crate::generate::Model,
    special: crate::generate::Special,
    tokenizer: TokenizerOption,
    _weights: nn::VarStore,
}

enum Generator {
    Bart(BartGenerator),
    T5(T5Generator),
    Pegasus(PegasusConditionalGenerator),
    Own(Box<OwnGen>),
}

/// A loaded summarization model with its tokenizer.
pub struct Seq2Seq {
    arch: Arch,
    id: String,
    /// Largest number of input tokens, special tokens included.
    window: usize,
    pad_id: i64,
    /// Text put before every input (T5's "summarize: "), from config.json.
    default_prefix: String,
    device: Device,
    /// rust-bert's Pegasus generator ignores `forced_eos_token_id`; we force
    /// it ourselves at the last step, as `transformers` does.
    forced_eos: Option<(i64, i64)>,
    /// Generation is sequential per model; libtorch threads parallelize inside.
    generator: Mutex<Generator>,
    kind: GeneratorKind,
}

/// The model files, resolved.
struct Files {
    config: PathBuf,
    weights: PathBuf,
    vocab: PathBuf,
    merges: Option<PathBuf>,
}

fn malformed(file: &Path, reason: impl Into<String>) -> ModelError {
    ModelError::Malformed {
        file: file.display().to_string(),
        reason: reason.into(),
    }
}

/// Reads `config.json` and finds every file the architecture needs.
fn resolve(repo: &ModelRepo) -> Result<(Arch, serde_json::Value, Files), ModelError> {
    let (config, json) = repo.config_json()?;
    let model_type = json
        .get("model_type")
        .and_then(|v| v.as_str())
        .ok_or_else(|| malformed(&config, "no \"model_type\" (expected bart, t5 or pegasus)"))?;
    let arch = Arch::from_model_type(model_type).ok_or_else(|| {
        malformed(
            &config,
            format!("model_type {model_type:?} is not a supported summarizer (bart, t5, pegasus)"),
        )
    })?;
    // rust-bert's config readers panic on missing fields: check them first.
    let check = match arch {
        Arch::Bart => serde_json::from_value::<BartConfig>(json.clone()).err(),
        Arch::Pegasus => serde_json::from_value::<PegasusConfig>(json.clone()).err(),
        Arch::T5 => serde_json::from_value::<T5Config>(json.clone()).err(),
    };
    if let Some(e) = check {
        return Err(malformed(
            &config,
            format!("not a valid {model_type} config: {e}"),
        ));
    }
    let weights = repo
        .file(&["model.safetensors", "rust_model.ot"])
        .map_err(|e| match e {
            ModelError::MissingFile { model, place, .. } => ModelError::MissingFile {
                model,
                place,
                wanted: "model.safetensors or rust_model.ot (convert pytorch_model.bin with \
                     safetensors' convert script)"
                    .into(),
            },
            other => other,
        })?;
    let (vocab, merges) = match arch {
        Arch::Bart => (
            repo.file(&["vocab.json"])?,
            Some(repo.file(&["merges.txt"])?),
        ),
        Arch::T5 | Arch::Pegasus => (repo.file(&["spiece.model"])?, None),
    };
    Ok((
        arch,
        json,
        Files {
            config,
            weights,
            vocab,
            merges,
        },
    ))
}

fn local(path: &Path) -> Box<LocalResource> {
    Box::new(LocalResource {
        local_path: path.to_path_buf(),
    })
}

fn load_error(what: &str, e: impl std::fmt::Display) -> ModelError {
    ModelError::Malformed {
        file: what.to_string(),
        reason: e.to_string(),
    }
}

fn panic_text(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown error".into())
}

impl Seq2Seq {
    /// Loads a model for generation on `device`, with the default generator.
    pub fn load(repo: &ModelRepo, device: Device) -> Result<Seq2Seq, ModelError> {
        Seq2Seq::load_with(repo, device, GeneratorKind::default())
    }

    /// Loads a model for generation on `device` with the given loop.
    pub fn load_with(
        repo: &ModelRepo,
        device: Device,
        kind: GeneratorKind,
    ) -> Result<Seq2Seq, ModelError> {
        let (arch, json, files) = resolve(repo)?;
        let path_str = |p: &Path| p.to_string_lossy().into_owned();
        let tokenizer = TokenizerOption::from_file(
            arch.model_type(),
            &path_str(&files.vocab),
            files.merges.as_deref().map(path_str).as_deref(),
            false,
            None,
            None,
        )
        .map_err(|e| load_error(&files.vocab.display().to_string(), e))?;
        let generate_config = GenerateConfig {
            model_type: arch.model_type(),
            model_resource: ModelResource::Torch(local(&files.weights)),
            config_resource: local(&files.config),
            vocab_resource: local(&files.vocab),
            merges_resource: files.merges.as_deref().map(|p| local(p) as _),
            min_length: 0,
            max_length: Some(20),
            do_sample: false,
            early_stopping: true,
            num_beams: 1,
            temperature: 1.0,
            top_k: 50,
            top_p: 1.0,
            repetition_penalty: 1.0,
            length_penalty: 1.0,
            no_repeat_ngram_size: 0,
            num_return_sequences: 1,
            num_beam_groups: None,
            diversity_penalty: None,
            device,
            kind: None,
        };
        let weights = files.weights.display().to_string();
        if kind == GeneratorKind::Own {
            let own = load_own(arch, &json, &files, device, tokenizer)?;
            return Ok(Seq2Seq::finish(
                arch,
                &json,
                repo,
                device,
                Generator::Own(Box::new(own)),
                kind,
            ));
        }
        let generator = catch_unwind(AssertUnwindSafe(|| match arch {
            Arch::Bart => {
                BartGenerator::new_with_tokenizer(generate_config, tokenizer).map(Generator::Bart)
            }
            Arch::T5 => {
                T5Generator::new_with_tokenizer(generate_config, tokenizer).map(Generator::T5)
            }
            Arch::Pegasus => {
                PegasusConditionalGenerator::new_with_tokenizer(generate_config, tokenizer)
                    .map(Generator::Pegasus)
            }
        }))
        .map_err(|p| load_error(&weights, panic_text(p)))?
        .map_err(|e| load_error(&weights, e))?;
        Ok(Seq2Seq::finish(arch, &json, repo, device, generator, kind))
    }

    fn finish(
        arch: Arch,
        json: &serde_json::Value,
        repo: &ModelRepo,
        device: Device,
        generator: Generator,
        kind: GeneratorKind,
    ) -> Seq2Seq {
        let window = json
            .get("max_position_embeddings")
            .or_else(|| json.get("n_positions"))
            .and_then(|v| v.as_u64())
            .unwrap_or(512) as usize;
        let pad_id = json
            .get("pad_token_id")
            .and_then(|v| v.as_i64())
            .unwrap_or(match arch {
                Arch::Bart => 1,
                Arch::T5 | Arch::Pegasus => 0,
            });
        let default_prefix = json
            .pointer("/task_specific_params/summarization/prefix")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string();
        let forced_eos = match (
            arch,
            json.get("forced_eos_token_id").and_then(|v| v.as_i64()),
        ) {
            (Arch::Pegasus, Some(eos)) => {
                let vocab = json.get("vocab_size").and_then(|v| v.as_i64()).unwrap_or(0);
                Some((eos, vocab))
            }
            _ => None,
        };
        Seq2Seq {
            arch,
            forced_eos,
            id: repo.id(),
            window,
            pad_id,
            default_prefix,
            device,
            generator: Mutex::new(generator),
            kind,
        }
    }

    /// The generation loop in use.
    pub fn generator_kind(&self) -> GeneratorKind {
        self.kind
    }

    pub fn arch(&self) -> Arch {
        self.arch
    }

    /// The model id shown in provenance.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Largest input in tokens, special tokens included.
    pub fn window(&self) -> usize {
        self.window
    }

    /// The prefix from `config.json`'s summarization parameters ("" if none).
    pub fn default_prefix(&self) -> &str {
        &self.default_prefix
    }

    fn with<R>(&self, f: impl FnOnce(&dyn Gen) -> R) -> R {
        let guard = self.generator.lock().unwrap_or_else(|e| e.into_inner());
        match &*guard {
            Generator::Bart(g) => f(g),
            Generator::T5(g) => f(g),
            Generator::Pegasus(g) => f(g),
            Generator::Own(g) => f(&**g),
        }
    }

    /// Token ids of each text with the model's special tokens, truncated to
    /// the window (as the model's own tokenizer does in `transformers`).
    pub fn encode(&self, texts: &[&str]) -> Vec<Vec<i64>> {
        self.with(|g| {
            g.tokenizer()
                .encode_list(texts, self.window, &TruncationStrategy::LongestFirst, 0)
                .into_iter()
                .map(|t| t.token_ids)
                .collect()
        })
    }

    /// Number of tokens of a text, without special tokens.
    pub fn count_tokens(&self, text: &str) -> usize {
        self.with(|g| g.tokenizer().tokenize(text).len())
    }

    /// Generates from token ids (one sequence per input, padded into one
    /// batch). Returns the generated ids, decoder start token included, as
    /// `transformers`' `generate` does.
    pub fn generate_ids(
        &self,
        inputs: &[Vec<i64>],
        params: &GenParams,
    ) -> Result<Vec<Vec<i64>>, String> {
        if inputs.is_empty() {
            return Ok(Vec::new());
        }
        let (ids, mask) = pad_batch(inputs, self.pad_id, self.device);
        {
            let guard = self.generator.lock().unwrap_or_else(|e| e.into_inner());
            if let Generator::Own(g) = &*guard {
                return catch_unwind(AssertUnwindSafe(|| {
                    crate::generate::generate(&g.model, &g.special, &ids, &mask, params)
                }))
                .map_err(panic_text);
            }
        }
        let mut options = params.options();
        // Only EOS at the step before max_length; every token otherwise.
        let force_eos = self.forced_eos.map(|(eos, vocab)| {
            let last = params.max_length - 1;
            move |_: i64, seq: &Tensor| -> Vec<i64> {
                if seq.size().first() == Some(&last) {
                    vec![eos]
                } else {
                    (0..vocab).collect()
                }
            }
        });
        if let Some(f) = &force_eos {
            options.prefix_allowed_tokens_fn = Some(f);
        }
        self.with(|g| g.generate_from_ids(ids, mask, options))
    }

    /// Decodes generated ids to text, without special tokens.
    pub fn decode(&self, ids: &[i64]) -> String {
        self.with(|g| g.tokenizer().decode(ids, true, true))
    }
}

/// Right-padded ids and their attention mask.
fn pad_batch(inputs: &[Vec<i64>], pad_id: i64, device: Device) -> (Tensor, Tensor) {
    let len = inputs.iter().map(Vec::len).max().unwrap_or(0);
    let mut ids = Vec::with_capacity(inputs.len() * len);
    let mut mask = Vec::with_capacity(inputs.len() * len);
    for seq in inputs {
        ids.extend(
            seq.iter()
                .copied()
                .chain(std::iter::repeat_n(pad_id, len - seq.len())),
        );
        mask.extend((0..len).map(|i| i64::from(i < seq.len())));
    }
    let shape = [inputs.len() as i64, len as i64];
    (
        Tensor::from_slice(&ids).view(shape).to(device),
        Tensor::from_slice(&mask).view(shape).to(device),
    )
}

/// What the stage needs from any rust-bert generator.
trait Gen {
    fn tokenizer(&self) -> &TokenizerOption;
    fn generate_from_ids(
        &self,
        ids: Tensor,
        mask: Tensor,
        options: GenerateOptions,
    ) -> Result<Vec<Vec<i64>>, String>;
}

impl Gen for OwnGen {
    fn tokenizer(&self) -> &TokenizerOption {
        &self.tokenizer
    }
    fn generate_from_ids(
        &self,
        _ids: Tensor,
        _mask: Tensor,
        _options: GenerateOptions,
    ) -> Result<Vec<Vec<i64>>, String> {
        Err("the own generator is called through generate::generate".into())
    }
}

/// Loads the bare model for our own loop, with BART's `final_logits_bias`
/// when the weights have one.
fn load_own(
    arch: Arch,
    json: &serde_json::Value,
    files: &Files,
    device: Device,
    tokenizer: TokenizerOption,
) -> Result<OwnGen, ModelError> {
    use crate::decoder::{Decoder, Family};
    use crate::encoder::Encoder;
    use crate::generate::{Model, Special};
    use crate::t5::T5Decoder;
    let weights = files.weights.display().to_string();
    let int = |k: &str| json.get(k).and_then(|v| v.as_i64());
    let eos = int("eos_token_id")
        .or_else(|| {
            json.get("eos_token_id")
                .and_then(|v| v.as_array())
                .and_then(|a| a.first())
                .and_then(|v| v.as_i64())
        })
        .ok_or_else(|| malformed(&files.config, "no eos_token_id"))?;
    let pad = int("pad_token_id").unwrap_or(match arch {
        Arch::Bart => 1,
        Arch::T5 | Arch::Pegasus => 0,
    });
    let special = Special {
        decoder_start: int("decoder_start_token_id").unwrap_or(pad),
        eos,
        forced_bos: int("forced_bos_token_id"),
        forced_eos: int("forced_eos_token_id"),
    };
    let mut vs = nn::VarStore::new(device);
    let model = catch_unwind(AssertUnwindSafe(|| -> Result<Model, ModelError> {
        /// BART and Pegasus keep only the variables rust-bert's module
        /// created in `vs` (its forward is not used).
        enum Built {
            Own(Family),
            T5(T5ForConditionalGeneration),
        }
        let built = match arch {
            Arch::Bart => {
                let config = BartConfig::from_file(&files.config);
                let _ = BartForConditionalGeneration::new(vs.root(), &config);
                // rust-bert's BART head has no bias: ours reads it (zero if absent).
                let _ = vs.root().var(
                    "final_logits_bias",
                    &[1, config.vocab_size],
                    nn::Init::Const(0.0),
                );
                Built::Own(Family::Bart)
            }
            Arch::Pegasus => {
                let _ = PegasusForConditionalGeneration::new(
                    vs.root(),
                    &PegasusConfig::from_file(&files.config),
                );
                Built::Own(Family::Pegasus)
            }
            Arch::T5 => Built::T5(T5ForConditionalGeneration::new(
                vs.root(),
                &T5Config::from_file(&files.config),
            )),
        };
        let missing = crate::weights::load_partial(&mut vs, &files.weights)
            .map_err(|e| load_error(&weights, e))?;
        // Only BART's logits bias may be absent (it stays zero).
        if let Some(m) = missing.iter().find(|m| *m != "final_logits_bias") {
            return Err(load_error(&weights, format!("no tensor {m:?}")));
        }
        // Our encoder and decoder step share the loaded tensors (no copy);
        // rust-bert's BART and Pegasus modules only named and shaped them.
        let own = |family| {
            let vars = vs.variables();
            let e = Encoder::new(family, &vars, json).map_err(|e| load_error(&weights, e))?;
            let d = Decoder::new(family, &vars, json).map_err(|e| load_error(&weights, e))?;
            Ok::<_, ModelError>(Model::Own(e, d))
        };
        Ok(match built {
            Built::Own(family) => own(family)?,
            Built::T5(m) => {
                let d =
                    T5Decoder::new(&vs.variables(), json).map_err(|e| load_error(&weights, e))?;
                Model::T5(m, d)
            }
        })
    }))
    .map_err(|p| load_error(&weights, panic_text(p)))??;
    Ok(OwnGen {
        model,
        special,
        tokenizer,
        _weights: vs,
    })
}

impl<G: LanguageGenerator> Gen for G {
    fn tokenizer(&self) -> &TokenizerOption {
        self.get_tokenizer()
    }
    fn generate_from_ids(
        &self,
        ids: Tensor,
        mask: Tensor,
        options: GenerateOptions,
    ) -> Result<Vec<Vec<i64>>, String> {
        let out = tch::no_grad(|| self.generate_from_ids_and_past(ids, Some(mask), Some(options)))
            .map_err(|e| e.to_string())?;
        Ok(out.into_iter().map(|o| o.indices).collect())
    }
}

/// The encoder's last hidden state and the first decoding step's logits, for
/// checking a port against reference outputs. Loads the bare model from the
/// same resolved files as [`Seq2Seq::load`].
pub struct FirstStep {
    /// `[batch, input_len, d_model]`, flattened row-major.
    pub encoder_hidden: Vec<f32>,
    pub encoder_shape: Vec<i64>,
    /// `[batch, vocab]`, flattened row-major.
    pub logits: Vec<f32>,
    pub logits_shape: Vec<i64>,
}

pub fn first_step(repo: &ModelRepo, inputs: &[Vec<i64>]) -> Result<FirstStep, ModelError> {
    let (arch, json, files) = resolve(repo)?;
    let device = Device::Cpu;
    let mut vs = nn::VarStore::new(device);
    let pad_id = json
        .get("pad_token_id")
        .and_then(|v| v.as_i64())
        .unwrap_or(0);
    let start = json
        .get("decoder_start_token_id")
        .and_then(|v| v.as_i64())
        .unwrap_or(pad_id);
    let (ids, mask) = pad_batch(inputs, pad_id, device);
    let decoder = Tensor::full([inputs.len() as i64, 1], start, (Kind::Int64, device));
    let weights = files.weights.display().to_string();
    let run = |vs: &mut nn::VarStore| -> Result<(Tensor, Tensor), ModelError> {
        let out = match arch {
            Arch::Bart => {
                let m = BartForConditionalGeneration::new(
                    vs.root(),
                    &BartConfig::from_file(&files.config),
                );
                vs.load(&files.weights)
                    .map_err(|e| load_error(&weights, e))?;
                let o = m.forward_t(
                    Some(&ids),
                    Some(&mask),
                    None,
                    Some(&decoder),
                    None,
                    None,
                    false,
                );
                (o.encoder_hidden_state, o.decoder_output)
            }
            Arch::Pegasus => {
                let m = PegasusForConditionalGeneration::new(
                    vs.root(),
                    &PegasusConfig::from_file(&files.config),
                );
                vs.load(&files.weights)
                    .map_err(|e| load_error(&weights, e))?;
                let o = m.forward_t(
                    Some(&ids),
                    Some(&mask),
                    None,
                    Some(&decoder),
                    None,
                    None,
                    false,
                );
                (o.encoder_hidden_state, o.decoder_output)
            }
            Arch::T5 => {
                let m =
                    T5ForConditionalGeneration::new(vs.root(), &T5Config::from_file(&files.config));
                vs.load(&files.weights)
                    .map_err(|e| load_error(&weights, e))?;
                let o = m.forward_t(
                    Some(&ids),
                    Some(&mask),
                    None,
                    Some(&decoder),
                    None,
                    None,
                    None,
                    None,
                    false,
                );
                (o.encoder_hidden_state, o.decoder_output)
            }
        };
        let enc = out
            .0
            .ok_or_else(|| load_error(&weights, "no encoder output"))?;
        Ok((enc, out.1.select(1, 0)))
    };
    let (enc, logits) = tch::no_grad(|| run(&mut vs))?;
    let flat = |t: &Tensor| -> Vec<f32> {
        let t = t.to_kind(Kind::Float).contiguous().view([-1]);
        Vec::<f32>::try_from(&t).unwrap_or_default()
    };
    Ok(FirstStep {
        encoder_hidden: flat(&enc),
        encoder_shape: enc.size(),
        logits: flat(&logits),
        logits_shape: logits.size(),
    })
}
