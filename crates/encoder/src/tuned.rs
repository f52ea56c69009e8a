//! A sentence encoder whose top transformer layers were fine-tuned, and the
//! fine-tuning itself.
//!
//! rust-bert's `SentenceEmbeddingsModel` hides its layers, so this module
//! rebuilds the same forward pass split in two: a frozen **bottom**
//! (rust-bert's `BertEmbeddings` and `BertLayer`s: the embeddings and lower
//! layers, always the base model's weights) and a **top** (the last
//! `layers` layers, rebuilt in tch by [`crate::layer`] so that what trains
//! can be chosen: the layers whole, or LoRA adapters beside their frozen
//! weights, see [`Adapt`]). The trained variables are overlaid from
//! `encoder-top.safetensors`. Tokenization, mean pooling and normalization
//! are the base encoder's, so with untouched top layers the output equals
//! [`SentenceEncoder`] (checked by a test).
//!
//! [`Pooling`] decides what a text's final token states become: the
//! sentence embedding (mean over tokens, as the base model), or that and the
//! mean over a marked target's tokens (span pooling, for target sentiment).
//!
//! Fine-tuning runs the bottom once per text (cached), then trains the top
//! and a linear head together: the cost per epoch is that of the top layers
//! only, which is what makes it fit a 2-core CPU. Only the trained variables
//! are saved (float16): one whole layer is 3.6 MB, rank-8 adapters on all
//! six layers under 1 MB.

pub use crate::layer::Adapt;
use crate::layer::Layer;
use crate::{malformed, Embed, SentenceEncoder};
use rust_bert::bert::{BertConfig, BertEmbedding, BertEmbeddings, BertLayer};
use stancepipe_core::{ModelError, ModelRepo};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use tch::nn::{self, Module, OptimizerConfig};
use tch::{Device, Kind, Tensor};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// File name of the fine-tuned top layers in a head directory.
pub const TOP_FILE: &str = "encoder-top.safetensors";

/// rust-bert's additive attention mask: 0 for tokens, -10000 for padding,
/// shaped to broadcast over heads and query positions.
fn extended_mask(mask: &Tensor) -> Tensor {
    (mask.ones_like() - mask)
        .unsqueeze(1)
        .unsqueeze(1)
        .to_kind(Kind::Float)
        * -10000.0
}

/// Mean over the unpadded tokens, then L2 normalization when asked (as
/// sentence-transformers' Pooling and Normalize modules do).
pub(crate) fn pool(hidden: &Tensor, mask: &Tensor, normalize: bool) -> Tensor {
    let m = mask.unsqueeze(-1).to_kind(Kind::Float);
    let sum = (hidden * &m).sum_dim_intlist([1i64].as_slice(), false, Kind::Float);
    let count = m.sum_dim_intlist([1i64].as_slice(), false, Kind::Float);
    let mean = sum / count.clamp_min(10e-9);
    if normalize {
        let norm = mean
            .norm_scalaropt_dim(2, [1i64].as_slice(), true)
            .clamp_min(1e-12);
        mean / norm
    } else {
        mean
    }
}

/// What a text's final token states become.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pooling {
    /// The sentence embedding: the mean over the tokens, as the base model.
    #[default]
    Mean,
    /// The sentence embedding followed by the mean over the target's tokens
    /// (those between the first [`MARK_OPEN`](crate::features::MARK_OPEN)
    /// and the next [`MARK_CLOSE`](crate::features::MARK_CLOSE)), each
    /// normalized as the base model normalizes: twice the base dimension.
    /// A text without markers (or cut before them) uses all its tokens.
    MeanAndTarget,
    /// The mean over the target's tokens alone (normalized; a text without
    /// markers uses all its tokens): nothing in the features is shared by
    /// two targets of one sentence except through attention, as in TD-BERT.
    Target,
}

impl Pooling {
    /// Vectors per text.
    pub fn width(self) -> usize {
        match self {
            Pooling::Mean | Pooling::Target => 1,
            Pooling::MeanAndTarget => 2,
        }
    }
}

/// Token positions `[start, end)` of a target in a text.
type Range = (usize, usize);

/// Token positions `[start, end)` strictly between the first `open` marker
/// and the next `close` marker in `ids`, if both are there with a token
/// between them.
pub fn target_range(ids: &[i64], open: &[i64], close: &[i64]) -> Option<Range> {
    let find = |from: usize, pat: &[i64]| {
        (from..ids.len().saturating_sub(pat.len() - 1)).find(|&i| ids[i..].starts_with(pat))
    };
    if open.is_empty() || close.is_empty() {
        return None;
    }
    let start = find(0, open)? + open.len();
    let end = find(start, close)?;
    (start < end).then_some((start, end))
}

/// A `[texts, longest]` mask of each text's target tokens; a text without a
/// target range gets its whole attention mask row.
fn target_mask(ranges: &[Option<Range>], mask: &Tensor) -> Tensor {
    let size = mask.size();
    let (n, len) = (size[0] as usize, size[1] as usize);
    let full = Vec::<i64>::try_from(&mask.view([-1])).unwrap_or_default();
    let mut out = vec![0i64; n * len];
    for (i, r) in ranges.iter().enumerate().take(n) {
        let row = &mut out[i * len..(i + 1) * len];
        match r {
            Some((s, e)) => row[*s..(*e).min(len)].fill(1),
            None => row.copy_from_slice(&full[i * len..(i + 1) * len]),
        }
    }
    Tensor::from_slice(&out).view([n as i64, len as i64])
}

/// The features of a batch of final token states: the (normalized) mean,
/// followed by the target mean when `targets` is given.
fn features_of(
    hidden: &Tensor,
    mask: &Tensor,
    targets: Option<&Tensor>,
    normalize: bool,
) -> Tensor {
    let sentence = pool(hidden, mask, normalize);
    match targets {
        None => sentence,
        Some(t) => Tensor::cat(&[sentence, pool(hidden, t, normalize)], 1),
    }
}

fn load_into(vs: &mut nn::VarStore, weights: &Path) -> Result<(), ModelError> {
    vs.load_partial(weights)
        .map(|_| ())
        .map_err(|e| malformed(weights, e))
}

/// The base model's embeddings and every layer, frozen: one copy per
/// process and weights file while any tuned encoder uses it. Each encoder
/// runs the layers below its split; LoRA layers borrow their frozen
/// weights from here too, so adapters cost only their own variables.
struct Bottom {
    vs: nn::VarStore,
    embeddings: BertEmbeddings,
    layers: Vec<BertLayer>,
}

impl Bottom {
    /// Hidden states after the embeddings and layers `0..split`.
    fn forward(&self, ids: &Tensor, mask: &Tensor, split: usize) -> Result<Tensor, String> {
        tch::no_grad(|| {
            let ext = extended_mask(mask);
            let mut h = self
                .embeddings
                .forward_t(Some(ids), None, None, None, false)
                .map_err(|e| e.to_string())?;
            for l in &self.layers[..split.min(self.layers.len())] {
                h = l.forward_t(&h, Some(&ext), None, None, false).hidden_state;
            }
            Ok(h)
        })
    }

    /// The frozen variables by checkpoint name, sharing storage.
    fn weights(&self) -> HashMap<String, Tensor> {
        self.vs
            .variables()
            .into_iter()
            .map(|(k, v)| (k, v.shallow_clone()))
            .collect()
    }
}

/// The frozen base model of `weights` (see [`Bottom`]).
fn shared_bottom(weights: &Path, config: &BertConfig) -> Result<Arc<Mutex<Bottom>>, ModelError> {
    type Cache = HashMap<PathBuf, Weak<Mutex<Bottom>>>;
    static LOADED: OnceLock<Mutex<Cache>> = OnceLock::new();
    let mut cache = LOADED
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(b) = cache.get(weights).and_then(Weak::upgrade) {
        return Ok(b);
    }
    let mut vs = nn::VarStore::new(Device::Cpu);
    let root = vs.root();
    let embeddings = BertEmbeddings::new(&root / "embeddings", config);
    let layers = (0..config.num_hidden_layers)
        .map(|i| BertLayer::new(&root / "encoder" / "layer" / i, config))
        .collect();
    load_into(&mut vs, weights)?;
    vs.freeze();
    let b = Arc::new(Mutex::new(Bottom {
        vs,
        embeddings,
        layers,
    }));
    cache.insert(weights.to_path_buf(), Arc::downgrade(&b));
    Ok(b)
}

/// Layers `split..n`: all their weights trainable, or only adapters
/// beside them ([`Adapt`]).
pub(crate) struct Top {
    pub(crate) vs: nn::VarStore,
    layers: Vec<Layer>,
}

impl Top {
    pub(crate) fn forward_t(&self, hidden: &Tensor, mask: &Tensor, train: bool) -> Tensor {
        let ext = extended_mask(mask);
        let mut h = hidden.shallow_clone();
        for l in &self.layers {
            h = l.forward_t(&h, &ext, train);
        }
        h
    }

    /// The variables fine-tuning changes (whole layers, or the adapters).
    fn trainable(&self) -> Vec<(String, Tensor)> {
        let mut v: Vec<(String, Tensor)> = self
            .vs
            .variables()
            .into_iter()
            .filter(|(_, t)| t.requires_grad())
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// Writes the trained variables as float16 (half the size; the loss is
    /// far below what the head can see).
    pub(crate) fn save(&self, path: &Path) -> Result<(), String> {
        let named: Vec<(String, Tensor)> = self
            .trainable()
            .into_iter()
            .map(|(k, v)| (k, v.detach().to_kind(Kind::Half)))
            .collect();
        Tensor::write_safetensors(&named, path).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Overlays variables saved by [`Top::save`]; every trainable variable
    /// must be there.
    fn load(&mut self, path: &Path) -> Result<(), String> {
        let tensors =
            Tensor::read_safetensors(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut vars: HashMap<String, Tensor> = self.trainable().into_iter().collect();
        let expected = vars.len();
        let mut found = 0;
        tch::no_grad(|| {
            for (name, t) in &tensors {
                if let Some(v) = vars.get_mut(name) {
                    v.copy_(&t.to_kind(Kind::Float));
                    found += 1;
                }
            }
        });
        if found != expected {
            return Err(format!(
                "{}: holds {found} of the {expected} tensors of the tuned layers",
                path.display()
            ));
        }
        // Loaded adapters are final: fold them into the weights.
        self.layers.iter_mut().for_each(Layer::merge_adapters);
        Ok(())
    }
}

/// The base encoder with its top `layers` layers replaced by tuned ones.
pub struct TunedEncoder {
    id: String,
    base: Arc<SentenceEncoder>,
    normalize: bool,
    pooling: Pooling,
    /// Token ids of the target markers, for [`Pooling::MeanAndTarget`] and
    /// [`Pooling::Target`].
    markers: (Vec<i64>, Vec<i64>),
    /// Shared by every tuned encoder over the same base model and split.
    bottom: Arc<Mutex<Bottom>>,
    /// Layers below this run in `bottom`, the rest in `top`.
    split: usize,
    top: Mutex<Top>,
}

/// The shape of a tuned encoder: how many top layers are separate, what
/// trains in them, and how token states are pooled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    pub layers: usize,
    pub adapt: Adapt,
    pub pooling: Pooling,
}

impl Spec {
    /// The top `layers` layers trained whole, mean pooling.
    pub fn top(layers: usize) -> Spec {
        Spec {
            layers,
            adapt: Adapt::Full,
            pooling: Pooling::Mean,
        }
    }
}

impl TunedEncoder {
    /// The base model `repo` (already loaded as `base`) split so that its
    /// last `spec.layers` layers are separate variables (trainable as
    /// `spec.adapt` says); with `top = Some(file)` the trainable variables
    /// are overlaid from `file`.
    pub fn load(
        base: Arc<SentenceEncoder>,
        repo: &ModelRepo,
        spec: Spec,
        top: Option<&Path>,
    ) -> Result<Self, ModelError> {
        let Spec {
            layers,
            adapt,
            pooling,
        } = spec;
        let (config_path, json) = repo.config_json()?;
        let act = json
            .get("hidden_act")
            .and_then(|a| a.as_str())
            .unwrap_or("");
        let act = act.to_string();
        let config: BertConfig =
            serde_json::from_value(json).map_err(|e| malformed(&config_path, e))?;
        let n = config.num_hidden_layers as usize;
        if layers == 0 || layers > n {
            return Err(malformed(
                &config_path,
                format!("cannot tune {layers} of its {n} layers"),
            ));
        }
        if act != "gelu" {
            return Err(malformed(
                &config_path,
                format!("hidden_act {act:?}: tuned layers support \"gelu\" only"),
            ));
        }
        if adapt == Adapt::Lora(0) {
            return Err(malformed(&config_path, "a LoRA rank must be at least 1"));
        }
        let pooling_cfg = repo.file(&["1_Pooling/config.json"])?;
        let mean = std::fs::read_to_string(&pooling_cfg)
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|v| v.get("pooling_mode_mean_tokens").and_then(|b| b.as_bool()))
            .unwrap_or(false);
        if !mean {
            return Err(malformed(
                &pooling_cfg,
                "tuned layers need a mean-pooling model",
            ));
        }
        let weights = repo.file(&["model.safetensors"])?;
        let split = n - layers;
        let bottom = shared_bottom(&weights, &config)?;
        let frozen = lock(&bottom).weights();
        let mut tvs = nn::VarStore::new(Device::Cpu);
        let root = tvs.root();
        let upper = (split..n)
            .map(|i| {
                let name = format!("encoder.layer.{i}");
                Layer::new(
                    &root / "encoder" / "layer" / i,
                    &name,
                    &config,
                    adapt,
                    &frozen,
                )
            })
            .collect::<Result<Vec<_>, String>>()
            .map_err(|e| malformed(&weights, e))?;
        if adapt == Adapt::Full {
            // Whole layers train on their own copy of the base weights.
            load_into(&mut tvs, &weights)?;
        }
        let mut top_part = Top {
            vs: tvs,
            layers: upper,
        };
        let id = match top {
            Some(file) => {
                top_part.load(file).map_err(|e| malformed(file, e))?;
                let how = match adapt {
                    Adapt::Full => format!("top {layers} layer(s) tuned"),
                    Adapt::Lora(r) => format!("rank-{r} adapters on the top {layers} layer(s)"),
                };
                format!("{} ({how}: {})", base.id(), file.display())
            }
            None => base.id().to_string(),
        };
        let markers = {
            use crate::features::{MARK_CLOSE, MARK_OPEN};
            let (ids, mask) = base.tokenize(&[MARK_OPEN, MARK_CLOSE]);
            // Drop [CLS] and [SEP]: the markers' own word pieces.
            let inner = |i: i64| -> Vec<i64> {
                let n = mask.get(i).sum(Kind::Int64).int64_value(&[]);
                Vec::<i64>::try_from(&ids.get(i).narrow(0, 1, (n - 2).max(0))).unwrap_or_default()
            };
            (inner(0), inner(1))
        };
        let id = match pooling {
            Pooling::Mean => id,
            Pooling::MeanAndTarget => format!("{id} [mean + target-span pooling]"),
            Pooling::Target => format!("{id} [target-span pooling]"),
        };
        Ok(TunedEncoder {
            id,
            pooling,
            markers,
            normalize: base.normalized(),
            base,
            bottom,
            split,
            top: Mutex::new(top_part),
        })
    }

    /// Final token states `[texts, longest, dim]` of token ids and their
    /// attention mask (both `[texts, longest]`), without gradients.
    pub(crate) fn final_states(&self, ids: &Tensor, mask: &Tensor) -> Result<Tensor, String> {
        tch::no_grad(|| {
            let h = lock(&self.bottom).forward(ids, mask, self.split)?;
            Ok(lock(&self.top).forward_t(&h, mask, false))
        })
    }

    /// Hidden states after the frozen layers (what training caches).
    pub(crate) fn bottom_forward(&self, ids: &Tensor, mask: &Tensor) -> Result<Tensor, String> {
        lock(&self.bottom).forward(ids, mask, self.split)
    }

    /// The tuned layers (training runs and updates them).
    pub(crate) fn top(&self) -> MutexGuard<'_, Top> {
        lock(&self.top)
    }

    /// The base model's hidden size (one token state).
    pub fn base_dim(&self) -> usize {
        self.base.dim()
    }

    /// Whether pooled vectors are L2-normalized, as the base model's are.
    pub fn normalizes(&self) -> bool {
        self.normalize
    }

    /// Whether the two share one frozen base model (one copy in memory).
    pub fn shares_bottom_with(&self, other: &TunedEncoder) -> bool {
        Arc::ptr_eq(&self.bottom, &other.bottom)
    }

    /// The target token range of each text of `ids` (`[texts, longest]`);
    /// all `None` unless pooling needs them.
    fn target_ranges(&self, ids: &Tensor) -> Result<Vec<Option<Range>>, String> {
        if self.pooling == Pooling::Mean {
            return Ok(vec![
                None;
                ids.size().first().copied().unwrap_or(0) as usize
            ]);
        }
        let rows = Vec::<Vec<i64>>::try_from(ids).map_err(|e| e.to_string())?;
        Ok(rows
            .iter()
            .map(|r| target_range(r, &self.markers.0, &self.markers.1))
            .collect())
    }

    /// Bottom hidden states of each text, unpadded (`[tokens, dim]`), with
    /// its target token range (see [`Pooling`]).
    fn bottom_states(&self, texts: &[&str]) -> Result<Vec<(Tensor, Option<Range>)>, String> {
        let (ids, mask) = self.base.tokenize(texts);
        let ranges = self.target_ranges(&ids)?;
        let h = lock(&self.bottom).forward(&ids, &mask, self.split)?;
        let lens =
            Vec::<i64>::try_from(&mask.sum_dim_intlist([1i64].as_slice(), false, Kind::Int64))
                .map_err(|e| e.to_string())?;
        Ok(lens
            .iter()
            .zip(ranges)
            .enumerate()
            .map(|(i, (&l, r))| (h.get(i as i64).narrow(0, 0, l).copy(), r))
            .collect())
    }

    /// Features of final token states (see [`Pooling`]).
    fn pooled(&self, hidden: &Tensor, mask: &Tensor, ranges: &[Option<Range>]) -> Tensor {
        match self.pooling {
            Pooling::Mean => features_of(hidden, mask, None, self.normalize),
            Pooling::MeanAndTarget => features_of(
                hidden,
                mask,
                Some(&target_mask(ranges, mask)),
                self.normalize,
            ),
            Pooling::Target => pool(hidden, &target_mask(ranges, mask), self.normalize),
        }
    }
}

/// Pads hidden states to one batch with its attention mask.
pub(crate) fn batch(states: &[&Tensor]) -> (Tensor, Tensor) {
    let lens: Vec<i64> = states.iter().map(|t| t.size()[0]).collect();
    let max = lens.iter().copied().max().unwrap_or(0);
    let h = Tensor::pad_sequence(states, true, 0.0);
    let mask: Vec<i64> = lens
        .iter()
        .flat_map(|&l| (0..max).map(move |j| i64::from(j < l)))
        .collect();
    let mask = Tensor::from_slice(&mask).view([lens.len() as i64, max]);
    (h, mask)
}

impl Embed for TunedEncoder {
    fn id(&self) -> &str {
        &self.id
    }

    fn dim(&self) -> usize {
        self.base.dim() * self.pooling.width()
    }

    fn token_lengths(&self, texts: &[&str]) -> Vec<usize> {
        self.base.token_lengths(texts)
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, String> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let (ids, mask) = self.base.tokenize(texts);
        let ranges = self.target_ranges(&ids)?;
        let out = tch::no_grad(|| -> Result<Tensor, String> {
            let h = lock(&self.bottom).forward(&ids, &mask, self.split)?;
            Ok(self.pooled(&lock(&self.top).forward_t(&h, &mask, false), &mask, &ranges))
        })?;
        Vec::<Vec<f32>>::try_from(&out).map_err(|e| e.to_string())
    }
}

/// Fine-tuning settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TuneParams {
    /// How many top layers are trained.
    pub layers: usize,
    pub epochs: usize,
    /// Examples per step.
    pub batch: usize,
    pub lr_encoder: f64,
    pub lr_head: f64,
    pub weight_decay: f64,
    pub seed: i64,
    /// Weight classes by inverse frequency.
    pub balanced: bool,
    /// What the tuned encoder's token states become (and are trained as).
    pub pooling: Pooling,
    /// What trains in the tuned layers.
    pub adapt: Adapt,
}

impl TuneParams {
    /// The tuned encoder these settings train.
    pub fn spec(&self) -> Spec {
        Spec {
            layers: self.layers,
            adapt: self.adapt,
            pooling: self.pooling,
        }
    }
}

impl Default for TuneParams {
    fn default() -> Self {
        TuneParams {
            layers: 1,
            epochs: 4,
            batch: 32,
            lr_encoder: 5e-5,
            lr_head: 2e-3,
            weight_decay: 1e-2,
            seed: 13,
            balanced: true,
            pooling: Pooling::Mean,
            adapt: Adapt::Full,
        }
    }
}

/// Labeled examples for fine-tuning: each example is `per` consecutive
/// texts whose embeddings are concatenated (see `features`).
pub struct Examples<'a> {
    pub texts: &'a [String],
    pub labels: &'a [usize],
    pub per: usize,
}

/// Cached bottom states for a set of examples, with the batches to visit
/// (examples of similar length together, to limit padding).
struct Cached {
    states: Vec<Tensor>,
    /// Each text's target token range (see [`Pooling`]).
    targets: Vec<Option<Range>>,
    labels: Vec<usize>,
    per: usize,
    batches: Vec<Vec<usize>>,
}

impl Cached {
    fn new(
        enc: &TunedEncoder,
        ex: &Examples,
        batch_size: usize,
        progress: &dyn Fn(usize, usize),
    ) -> Result<Self, String> {
        // The same token-count groups as inference (`length_groups`), so
        // the cached pass pads as little as the pipeline does.
        let refs: Vec<&str> = ex.texts.iter().map(String::as_str).collect();
        let lens = enc.token_lengths(&refs);
        let mut states: Vec<Option<Tensor>> = (0..ex.texts.len()).map(|_| None).collect();
        let mut targets = vec![None; ex.texts.len()];
        let mut done = 0;
        for group in crate::length_groups(&lens, 64) {
            let texts: Vec<&str> = group.iter().map(|&i| refs[i]).collect();
            for (&i, (s, t)) in group.iter().zip(enc.bottom_states(&texts)?) {
                states[i] = Some(s);
                targets[i] = t;
            }
            done += group.len();
            progress(done, ex.texts.len());
        }
        let states: Vec<Tensor> = states.into_iter().flatten().collect();
        let per = ex.per.max(1);
        let n = ex.labels.len();
        let mut by_len: Vec<usize> = (0..n).collect();
        by_len.sort_by_key(|&e| (0..per).map(|j| states[e * per + j].size()[0]).sum::<i64>());
        let batches = by_len
            .chunks(batch_size.max(1))
            .map(<[usize]>::to_vec)
            .collect();
        Ok(Cached {
            states,
            targets,
            labels: ex.labels.to_vec(),
            per,
            batches,
        })
    }

    /// Features (`[examples, per * dim]`) of the examples of one batch.
    fn features(&self, enc: &TunedEncoder, top: &Top, examples: &[usize], train: bool) -> Tensor {
        let texts: Vec<usize> = examples
            .iter()
            .flat_map(|&e| (0..self.per).map(move |j| e * self.per + j))
            .collect();
        let refs: Vec<&Tensor> = texts.iter().map(|&t| &self.states[t]).collect();
        let ranges: Vec<_> = texts.iter().map(|&t| self.targets[t]).collect();
        let (h, mask) = batch(&refs);
        let pooled = enc.pooled(&top.forward_t(&h, &mask, train), &mask, &ranges);
        pooled.view([examples.len() as i64, -1])
    }
}

/// What fine-tuning returns: the tuned encoder, the head's variables
/// (`out.weight`, `out.bias`, as [`crate::Head`] names them), the best
/// epoch and its dev score.
pub struct Tuned {
    pub encoder: TunedEncoder,
    pub head: nn::VarStore,
    pub epoch: usize,
    pub dev_score: f64,
    /// Dev score after each epoch (epoch 0: before any update).
    pub history: Vec<f64>,
}

impl Tuned {
    /// Writes the tuned top layers ([`TOP_FILE`]) and `head.safetensors`.
    pub fn save(&self, dir: &Path) -> Result<(), String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        lock(&self.encoder.top).save(&dir.join(TOP_FILE))?;
        let h = dir.join("head.safetensors");
        self.head
            .save(&h)
            .map_err(|e| format!("{}: {e}", h.display()))
    }
}

pub(crate) fn snapshot(vs: &nn::VarStore) -> Vec<(String, Tensor)> {
    vs.variables()
        .into_iter()
        .map(|(k, v)| (k, v.detach().copy()))
        .collect()
}

pub(crate) fn restore(vs: &nn::VarStore, state: &[(String, Tensor)]) {
    let mut vars = vs.variables();
    tch::no_grad(|| {
        for (name, value) in state {
            if let Some(v) = vars.get_mut(name) {
                v.copy_(value);
            }
        }
    });
}

/// Variables of the top layers and of the head at one epoch.
type State = (Vec<(String, Tensor)>, Vec<(String, Tensor)>);

/// Trains the top `params.layers` layers of `base` and a linear head over
/// the concatenated embeddings of each example's texts, choosing the epoch
/// by `score` on `dev` (higher is better). `progress(what, done, total)`.
pub fn fine_tune(
    base: Arc<SentenceEncoder>,
    repo: &ModelRepo,
    classes: usize,
    (train, dev): (&Examples, &Examples),
    params: TuneParams,
    score: impl Fn(&[usize], &[usize]) -> f64,
    progress: &dyn Fn(&str, usize, usize),
) -> Result<Tuned, String> {
    tch::manual_seed(params.seed);
    let encoder = TunedEncoder::load(base, repo, params.spec(), None).map_err(|e| e.to_string())?;
    let train_c = Cached::new(&encoder, train, params.batch, &|d, t| {
        progress("encode train (frozen layers)", d, t)
    })?;
    let dev_c = Cached::new(&encoder, dev, 64, &|d, t| {
        progress("encode dev (frozen layers)", d, t)
    })?;
    let dim = encoder.dim() * train_c.per;
    let head_vs = nn::VarStore::new(Device::Cpu);
    let head = nn::linear(
        head_vs.root() / "out",
        dim as i64,
        classes as i64,
        Default::default(),
    );
    let weights = params
        .balanced
        .then(|| crate::head::class_weights(&train_c.labels, classes));
    let top_guard = lock(&encoder.top);
    let top = &*top_guard;
    let new_opt = |vs: &nn::VarStore, lr: f64| {
        nn::AdamW::default()
            .wd(params.weight_decay)
            .build(vs, lr)
            .map_err(|e| e.to_string())
    };
    let mut opt_top = new_opt(&top.vs, params.lr_encoder)?;
    let mut opt_head = new_opt(&head_vs, params.lr_head)?;

    let evaluate = || -> Vec<usize> {
        tch::no_grad(|| {
            let mut pred = vec![0usize; dev_c.labels.len()];
            for b in &dev_c.batches {
                let logits = head.forward(&dev_c.features(&encoder, top, b, false));
                let arg = Vec::<i64>::try_from(&logits.argmax(-1, false)).unwrap_or_default();
                for (&e, p) in b.iter().zip(arg) {
                    pred[e] = p as usize;
                }
            }
            pred
        })
    };
    // Epoch 0 trains the head alone so that the encoder's first updates
    // follow a sensible gradient rather than a random head's.
    let mut history = Vec::new();
    let mut best: Option<(usize, f64, State)> = None;
    let steps = train_c.batches.len();
    for epoch in 0..=params.epochs {
        let perm =
            Vec::<i64>::try_from(&Tensor::randperm(steps as i64, (Kind::Int64, Device::Cpu)))
                .map_err(|e| e.to_string())?;
        for (done, &bi) in perm.iter().enumerate() {
            let b = &train_c.batches[bi as usize];
            let y: Vec<i64> = b.iter().map(|&e| train_c.labels[e] as i64).collect();
            let y = Tensor::from_slice(&y);
            let x = if epoch == 0 {
                tch::no_grad(|| train_c.features(&encoder, top, b, false))
            } else {
                train_c.features(&encoder, top, b, true)
            };
            let loss = head.forward(&x).cross_entropy_loss(
                &y,
                weights.as_ref(),
                tch::Reduction::Mean,
                -100,
                0.0,
            );
            opt_top.zero_grad();
            opt_head.zero_grad();
            loss.backward();
            if epoch > 0 {
                opt_top.step();
            }
            opt_head.step();
            progress(&format!("fine-tune epoch {epoch}"), done + 1, steps);
        }
        let s = score(&dev_c.labels, &evaluate());
        history.push(s);
        if best.as_ref().is_none_or(|b| s > b.1) {
            best = Some((epoch, s, (snapshot(&top.vs), snapshot(&head_vs))));
        }
    }
    let (epoch, dev_score, (top_state, head_state)) =
        best.ok_or_else(|| "no epoch was trained".to_string())?;
    restore(&top.vs, &top_state);
    restore(&head_vs, &head_state);
    drop(top_guard);
    Ok(Tuned {
        encoder,
        head: head_vs,
        epoch,
        dev_score,
        history,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_and_pool_ignore_padding() {
        let h = Tensor::from_slice(&[1f32, 1., 3., 3., 100., 100.]).view([1, 3, 2]);
        let mask = Tensor::from_slice(&[1i64, 1, 0]).view([1, 3]);
        let mean = Vec::<f32>::try_from(&pool(&h, &mask, false).view([-1])).unwrap();
        assert_eq!(mean, vec![2.0, 2.0]);
        let unit = Vec::<f32>::try_from(&pool(&h, &mask, true).view([-1])).unwrap();
        assert!((unit[0] - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6);
        let ext = Vec::<f32>::try_from(&extended_mask(&mask).view([-1])).unwrap();
        assert_eq!(ext, vec![0.0, 0.0, -10000.0]);
    }

    #[test]
    fn target_range_finds_the_tokens_between_the_first_markers() {
        let (open, close) = ([5i64, 5], [6i64, 6]);
        // [CLS] a << t1 t2 >> b << t3 >> [SEP]
        let ids = [101, 1, 5, 5, 7, 8, 6, 6, 2, 5, 5, 9, 6, 6, 102];
        assert_eq!(target_range(&ids, &open, &close), Some((4, 6)));
        assert_eq!(
            target_range(&ids[..6], &open, &close),
            None,
            "cut before >>"
        );
        assert_eq!(
            target_range(&[5, 5, 6, 6], &open, &close),
            None,
            "empty target"
        );
        assert_eq!(
            target_range(&[1, 5, 6, 6], &open, &close),
            None,
            "half a marker"
        );
        assert_eq!(target_range(&ids, &[], &close), None);

        let mask = Tensor::from_slice(&[1i64, 1, 1, 1, 1, 1, 0]).view([1, 7]);
        let m = target_mask(&[Some((2, 4))], &mask);
        assert_eq!(
            Vec::<i64>::try_from(&m.view([-1])).unwrap(),
            vec![0, 0, 1, 1, 0, 0, 0]
        );
        let m = target_mask(&[None], &mask);
        assert_eq!(
            Vec::<i64>::try_from(&m.view([-1])).unwrap(),
            vec![1, 1, 1, 1, 1, 1, 0]
        );

        // Mean + target pooling: the target half averages only its tokens.
        let h = Tensor::from_slice(&[1f32, 3., 5., 7.]).view([1, 4, 1]);
        let mask = Tensor::from_slice(&[1i64, 1, 1, 0]).view([1, 4]);
        let t = target_mask(&[Some((1, 2))], &mask);
        let f = Vec::<f32>::try_from(&features_of(&h, &mask, Some(&t), false).view([-1])).unwrap();
        assert_eq!(f, vec![3.0, 3.0]);
        let t = target_mask(&[Some((2, 3))], &mask);
        let f = Vec::<f32>::try_from(&features_of(&h, &mask, Some(&t), false).view([-1])).unwrap();
        assert_eq!(f, vec![3.0, 5.0]);
    }

    #[test]
    fn batch_pads_and_masks() {
        let a = Tensor::ones([2, 3], (Kind::Float, Device::Cpu));
        let b = Tensor::ones([4, 3], (Kind::Float, Device::Cpu));
        let (h, m) = batch(&[&a, &b]);
        assert_eq!(h.size(), vec![2, 4, 3]);
        assert_eq!(
            Vec::<i64>::try_from(&m.view([-1])).unwrap(),
            vec![1, 1, 0, 0, 1, 1, 1, 1]
        );
    }
}
