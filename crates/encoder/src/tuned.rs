//! A sentence encoder whose top transformer layers were fine-tuned, and the
//! fine-tuning itself.
//!
//! rust-bert's `SentenceEmbeddingsModel` hides its layers, so this module
//! rebuilds the same forward pass from rust-bert's public BERT parts
//! (`BertEmbeddings`, `BertLayer`) split in two: a frozen **bottom**
//! (embeddings and the lower layers, always the base model's weights) and a
//! trainable **top** (the last `layers` layers, overlaid from
//! `encoder-top.safetensors`). Tokenization, mean pooling and normalization
//! are the base encoder's, so with untouched top layers the output equals
//! [`SentenceEncoder`] (checked by a test).
//!
//! Fine-tuning runs the bottom once per text (cached), then trains the top
//! layers and a linear head together: the cost per epoch is that of the top
//! layers only, which is what makes it fit a 2-core CPU. Only the top layers
//! are saved (float16), a few MB next to the head.

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
fn pool(hidden: &Tensor, mask: &Tensor, normalize: bool) -> Tensor {
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

fn bert_config(repo: &ModelRepo) -> Result<BertConfig, ModelError> {
    let (path, json) = repo.config_json()?;
    serde_json::from_value(json).map_err(|e| malformed(&path, e))
}

fn load_into(vs: &mut nn::VarStore, weights: &Path) -> Result<(), ModelError> {
    vs.load_partial(weights)
        .map(|_| ())
        .map_err(|e| malformed(weights, e))
}

/// Embeddings and layers `0..split`, frozen.
struct Bottom {
    _vs: nn::VarStore,
    embeddings: BertEmbeddings,
    layers: Vec<BertLayer>,
}

impl Bottom {
    fn forward(&self, ids: &Tensor, mask: &Tensor) -> Result<Tensor, String> {
        tch::no_grad(|| {
            let ext = extended_mask(mask);
            let mut h = self
                .embeddings
                .forward_t(Some(ids), None, None, None, false)
                .map_err(|e| e.to_string())?;
            for l in &self.layers {
                h = l.forward_t(&h, Some(&ext), None, None, false).hidden_state;
            }
            Ok(h)
        })
    }
}

/// The frozen bottom of `weights` below layer `split`, loaded once per
/// process while any encoder uses it: the model stages that each bring a
/// tuned top layer (classify, stance) share one copy of the frozen part.
fn shared_bottom(
    weights: &Path,
    config: &BertConfig,
    split: usize,
) -> Result<Arc<Mutex<Bottom>>, ModelError> {
    type Cache = HashMap<(PathBuf, usize), Weak<Mutex<Bottom>>>;
    static LOADED: OnceLock<Mutex<Cache>> = OnceLock::new();
    let mut cache = LOADED
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let key = (weights.to_path_buf(), split);
    if let Some(b) = cache.get(&key).and_then(Weak::upgrade) {
        return Ok(b);
    }
    let mut vs = nn::VarStore::new(Device::Cpu);
    let root = vs.root();
    let embeddings = BertEmbeddings::new(&root / "embeddings", config);
    let layers = (0..split)
        .map(|i| BertLayer::new(&root / "encoder" / "layer" / i, config))
        .collect();
    load_into(&mut vs, weights)?;
    vs.freeze();
    let b = Arc::new(Mutex::new(Bottom {
        _vs: vs,
        embeddings,
        layers,
    }));
    cache.insert(key, Arc::downgrade(&b));
    Ok(b)
}

/// Layers `split..n`, trainable.
struct Top {
    vs: nn::VarStore,
    layers: Vec<BertLayer>,
}

impl Top {
    fn forward_t(&self, hidden: &Tensor, mask: &Tensor, train: bool) -> Tensor {
        let ext = extended_mask(mask);
        let mut h = hidden.shallow_clone();
        for l in &self.layers {
            h = l.forward_t(&h, Some(&ext), None, None, train).hidden_state;
        }
        h
    }

    /// Writes the top layers as float16 (half the size; the loss is far
    /// below what the head can see).
    fn save(&self, path: &Path) -> Result<(), String> {
        let named: Vec<(String, Tensor)> = self
            .vs
            .variables()
            .into_iter()
            .map(|(k, v)| (k, v.detach().to_kind(Kind::Half)))
            .collect();
        Tensor::write_safetensors(&named, path).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Overlays weights saved by [`Top::save`]; every variable must be there.
    fn load(&mut self, path: &Path) -> Result<(), String> {
        let tensors =
            Tensor::read_safetensors(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut vars = self.vs.variables();
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
        Ok(())
    }
}

/// The base encoder with its top `layers` layers replaced by tuned ones.
pub struct TunedEncoder {
    id: String,
    base: Arc<SentenceEncoder>,
    normalize: bool,
    /// Shared by every tuned encoder over the same base model and split.
    bottom: Arc<Mutex<Bottom>>,
    top: Mutex<Top>,
}

impl TunedEncoder {
    /// The base model `repo` (already loaded as `base`) split so that its
    /// last `layers` layers are separate, trainable variables; with
    /// `top = Some(file)` those layers are overlaid from `file`.
    pub fn load(
        base: Arc<SentenceEncoder>,
        repo: &ModelRepo,
        layers: usize,
        top: Option<&Path>,
    ) -> Result<Self, ModelError> {
        let config = bert_config(repo)?;
        let n = config.num_hidden_layers as usize;
        let (config_path, _) = repo.config_json()?;
        if layers == 0 || layers > n {
            return Err(malformed(
                &config_path,
                format!("cannot tune {layers} of its {n} layers"),
            ));
        }
        let pooling = repo.file(&["1_Pooling/config.json"])?;
        let mean = std::fs::read_to_string(&pooling)
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|v| v.get("pooling_mode_mean_tokens").and_then(|b| b.as_bool()))
            .unwrap_or(false);
        if !mean {
            return Err(malformed(
                &pooling,
                "tuned layers need a mean-pooling model",
            ));
        }
        let weights = repo.file(&["model.safetensors"])?;
        let split = n - layers;
        let bottom = shared_bottom(&weights, &config, split)?;
        let mut tvs = nn::VarStore::new(Device::Cpu);
        let root = tvs.root();
        let upper = (split..n)
            .map(|i| BertLayer::new(&root / "encoder" / "layer" / i, &config))
            .collect();
        load_into(&mut tvs, &weights)?;
        let mut top_part = Top {
            vs: tvs,
            layers: upper,
        };
        let id = match top {
            Some(file) => {
                top_part.load(file).map_err(|e| malformed(file, e))?;
                format!(
                    "{} (top {layers} layer(s) tuned: {})",
                    base.id(),
                    file.display()
                )
            }
            None => base.id().to_string(),
        };
        Ok(TunedEncoder {
            id,
            normalize: base.normalized(),
            base,
            bottom,
            top: Mutex::new(top_part),
        })
    }

    /// Whether the two hold the same frozen bottom (one copy in memory).
    pub fn shares_bottom_with(&self, other: &TunedEncoder) -> bool {
        Arc::ptr_eq(&self.bottom, &other.bottom)
    }

    /// Bottom hidden states of each text, unpadded (`[tokens, dim]`).
    fn bottom_states(&self, texts: &[&str]) -> Result<Vec<Tensor>, String> {
        let (ids, mask) = self.base.tokenize(texts);
        let h = lock(&self.bottom).forward(&ids, &mask)?;
        let lens =
            Vec::<i64>::try_from(&mask.sum_dim_intlist([1i64].as_slice(), false, Kind::Int64))
                .map_err(|e| e.to_string())?;
        Ok(lens
            .iter()
            .enumerate()
            .map(|(i, &l)| h.get(i as i64).narrow(0, 0, l).copy())
            .collect())
    }
}

/// Pads hidden states to one batch with its attention mask.
fn batch(states: &[&Tensor]) -> (Tensor, Tensor) {
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
        self.base.dim()
    }

    fn token_lengths(&self, texts: &[&str]) -> Vec<usize> {
        self.base.token_lengths(texts)
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, String> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let (ids, mask) = self.base.tokenize(texts);
        let out = tch::no_grad(|| -> Result<Tensor, String> {
            let h = lock(&self.bottom).forward(&ids, &mask)?;
            Ok(pool(
                &lock(&self.top).forward_t(&h, &mask, false),
                &mask,
                self.normalize,
            ))
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
        let mut done = 0;
        for group in crate::length_groups(&lens, 64) {
            let texts: Vec<&str> = group.iter().map(|&i| refs[i]).collect();
            for (&i, s) in group.iter().zip(enc.bottom_states(&texts)?) {
                states[i] = Some(s);
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
            labels: ex.labels.to_vec(),
            per,
            batches,
        })
    }

    /// Features (`[examples, per * dim]`) of the examples of one batch.
    fn features(&self, top: &Top, examples: &[usize], normalize: bool, train: bool) -> Tensor {
        let refs: Vec<&Tensor> = examples
            .iter()
            .flat_map(|&e| (0..self.per).map(move |j| &self.states[e * self.per + j]))
            .collect();
        let (h, mask) = batch(&refs);
        let pooled = pool(&top.forward_t(&h, &mask, train), &mask, normalize);
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

fn snapshot(vs: &nn::VarStore) -> Vec<(String, Tensor)> {
    vs.variables()
        .into_iter()
        .map(|(k, v)| (k, v.detach().copy()))
        .collect()
}

fn restore(vs: &nn::VarStore, state: &[(String, Tensor)]) {
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
    let encoder = TunedEncoder::load(base, repo, params.layers, None).map_err(|e| e.to_string())?;
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
    let normalize = encoder.normalize;
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
                let logits = head.forward(&dev_c.features(top, b, normalize, false));
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
                tch::no_grad(|| train_c.features(top, b, normalize, false))
            } else {
                train_c.features(top, b, normalize, true)
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
