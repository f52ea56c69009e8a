//! A small classifier head over frozen sentence embeddings: trained here
//! with libtorch autograd (deterministic with a seed) and saved as
//! `head.safetensors` + `manifest.json` in one directory.

use serde::{Deserialize, Serialize};
use std::path::Path;
use tch::nn::{self, Module, OptimizerConfig};
use tch::{Device, Kind, Tensor};

/// What a head directory describes; written by training, read by stages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// What the head predicts: `sentence-sentiment` or `target-sentiment`.
    pub task: String,
    /// Output classes, in logit order.
    pub labels: Vec<String>,
    pub input_dim: usize,
    /// Hidden layer width; 0 for a linear (logistic regression) head.
    pub hidden: usize,
    /// The encoder the features come from.
    pub encoder: String,
    /// For target heads: how the target is shown to the encoder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_features: Option<crate::features::TargetFeatures>,
    /// How many of the encoder's top layers were fine-tuned with the head
    /// (their weights are in `encoder-top.safetensors` beside it); 0 when
    /// the head was trained on the frozen encoder.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub tuned_layers: usize,
    /// With tuned layers: the rank of the LoRA adapters that were trained
    /// beside their frozen weights; 0 when the layers were trained whole.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub lora_rank: usize,
    /// Read from one shared encoder pass per sentence ([`crate::StatesEncoder`]):
    /// a target head over `[sentence mean, target span mean]` of the
    /// unmarked sentence, a sentence head over the sentence mean.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub one_pass: bool,
    /// One-pass target heads: the features also hold the mean of the
    /// states within this many tokens on either side of the target
    /// ([`crate::TextStates::target_features`]); 0 when they do not.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub context_tokens: usize,
    /// One-pass target heads: the features also hold the mention's
    /// attention over the states within this many tokens on either side of
    /// it ([`crate::attend`]); 0 when they do not.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub attend_tokens: usize,
    /// With tuned layers: the adapters file when it is not this head's own
    /// `encoder-top.safetensors` (heads trained together share one),
    /// relative to the head directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoder_top: Option<String>,
    /// Everything about how it was made and how it measured (free-form).
    #[serde(default)]
    pub training: serde_json::Value,
}

impl Manifest {
    /// Texts embedded per example and how each is pooled, from the target
    /// features (one text, mean pooling for sentence heads).
    pub fn shape(&self) -> (usize, crate::Pooling) {
        self.target_features.map_or((1, crate::Pooling::Mean), |f| {
            (f.texts_per_example(), f.pooling())
        })
    }

    /// How a target head shows its target; heads saved before the field
    /// existed used `Marked`.
    pub fn target_kind(&self) -> crate::features::TargetFeatures {
        self.target_features
            .unwrap_or(crate::features::TargetFeatures::Marked)
    }
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Training settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainParams {
    pub hidden: usize,
    pub epochs: usize,
    pub learning_rate: f64,
    pub weight_decay: f64,
    pub seed: i64,
    /// Weight classes by inverse frequency (helps macro-F1 on skewed data).
    pub balanced: bool,
}

impl Default for TrainParams {
    fn default() -> Self {
        TrainParams {
            hidden: 0,
            epochs: 300,
            learning_rate: 1e-2,
            weight_decay: 1e-4,
            seed: 13,
            balanced: true,
        }
    }
}

/// A trained head, ready to predict.
pub struct Head {
    pub manifest: Manifest,
    /// libtorch tensors are not `Sync`; a head is tiny, so a lock is cheap.
    model: std::sync::Mutex<(nn::VarStore, Net)>,
}

/// Linear layers held by name (not as `dyn Module`) so a head is `Sync`.
#[derive(Debug)]
pub(crate) struct Net {
    hidden: Option<nn::Linear>,
    out: nn::Linear,
    /// A one-pass target head's attention ([`Manifest::attend_tokens`]).
    attend: Option<crate::attend::Attend>,
}

impl Module for Net {
    fn forward(&self, x: &Tensor) -> Tensor {
        match &self.hidden {
            Some(h) => self.out.forward(&h.forward(x).relu()),
            None => self.out.forward(x),
        }
    }
}

/// A head's layers: `out` over the input, or over a ReLU layer `hidden`
/// when `hidden > 0` (the variable names the saved files carry).
pub(crate) fn build(vs: &nn::VarStore, input: usize, hidden: usize, classes: usize) -> Net {
    let p = vs.root();
    let linear = |name: &str, i: usize, o: usize| {
        nn::linear(&p / name, i as i64, o as i64, Default::default())
    };
    if hidden == 0 {
        Net {
            hidden: None,
            out: linear("out", input, classes),
            attend: None,
        }
    } else {
        Net {
            hidden: Some(linear("hidden", input, hidden)),
            out: linear("out", hidden, classes),
            attend: None,
        }
    }
}

/// Inverse-frequency class weights for the loss (`n / (classes * count)`;
/// 0 for a class absent from `y`), so that macro-F1 is not sacrificed to
/// the majority class.
pub(crate) fn class_weights(y: &[usize], classes: usize) -> Tensor {
    let mut counts = vec![0f32; classes];
    y.iter().for_each(|&c| counts[c] += 1.0);
    let n = y.len() as f32;
    let w: Vec<f32> = counts
        .iter()
        .map(|&c| {
            if c == 0.0 {
                0.0
            } else {
                n / (classes as f32 * c)
            }
        })
        .collect();
    Tensor::from_slice(&w)
}

fn matrix(rows: &[Vec<f32>]) -> Tensor {
    let dim = rows.first().map_or(0, Vec::len);
    let flat: Vec<f32> = rows.iter().flatten().copied().collect();
    Tensor::from_slice(&flat).view([rows.len() as i64, dim as i64])
}

impl Head {
    /// Trains on features `x` with class indices `y`. After each epoch the
    /// head is scored on `dev` with `score` (higher is better, e.g. macro-F1)
    /// and the best epoch's weights are kept. Returns the head and the
    /// best (epoch, dev score).
    pub fn train(
        mut manifest: Manifest,
        x: &[Vec<f32>],
        y: &[usize],
        dev: (&[Vec<f32>], &[usize]),
        params: TrainParams,
        score: impl Fn(&[usize], &[usize]) -> f64,
    ) -> (Head, usize, f64) {
        tch::manual_seed(params.seed);
        let classes = manifest.labels.len();
        manifest.hidden = params.hidden;
        manifest.input_dim = x.first().map_or(0, Vec::len);
        let mut vs = nn::VarStore::new(Device::Cpu);
        let net = build(&vs, manifest.input_dim, params.hidden, classes);
        let xs = matrix(x);
        let ys = Tensor::from_slice(&y.iter().map(|&c| c as i64).collect::<Vec<_>>());
        let weights = params.balanced.then(|| class_weights(y, classes));
        let dev_x = matrix(dev.0);
        let mut opt = nn::AdamW::default()
            .wd(params.weight_decay)
            .build(&vs, params.learning_rate)
            .expect("an optimizer over a fresh VarStore");
        let mut best = (0usize, f64::NEG_INFINITY);
        let mut best_state: Option<Vec<(String, Tensor)>> = None;
        for epoch in 1..=params.epochs {
            let logits = net.forward(&xs);
            let loss =
                logits.cross_entropy_loss(&ys, weights.as_ref(), tch::Reduction::Mean, -100, 0.0);
            opt.backward_step(&loss);
            if epoch % 5 == 0 || epoch == params.epochs {
                let pred = tch::no_grad(|| net.forward(&dev_x).argmax(-1, false));
                let pred: Vec<usize> = Vec::<i64>::try_from(&pred)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|v| v as usize)
                    .collect();
                let s = score(dev.1, &pred);
                if s > best.1 {
                    best = (epoch, s);
                    best_state = Some(
                        vs.variables()
                            .into_iter()
                            .map(|(k, v)| (k, v.detach().copy()))
                            .collect(),
                    );
                }
            }
        }
        if let Some(state) = best_state {
            let mut vars = vs.variables();
            tch::no_grad(|| {
                for (name, value) in state {
                    if let Some(var) = vars.get_mut(&name) {
                        var.copy_(&value);
                    }
                }
            });
        }
        vs.freeze();
        (
            Head {
                manifest,
                model: std::sync::Mutex::new((vs, net)),
            },
            best.0,
            best.1,
        )
    }

    /// Class probabilities for each feature row.
    pub fn predict(&self, x: &[Vec<f32>]) -> Vec<Vec<f32>> {
        if x.is_empty() {
            return Vec::new();
        }
        let model = self.model.lock().unwrap_or_else(|e| e.into_inner());
        let probs = tch::no_grad(|| model.1.forward(&matrix(x)).softmax(-1, Kind::Float));
        let k = self.manifest.labels.len();
        let flat = Vec::<f32>::try_from(&probs.contiguous().view([-1])).unwrap_or_default();
        flat.chunks(k).map(|c| c.to_vec()).collect()
    }

    /// A one-pass target head's features for the mention at bytes
    /// `[start, end)` of a text read into `states` (whose sentence
    /// embedding, `mean`, the caller computes once per text): the parts of
    /// [`crate::TextStates::target_features`] and, for a head with
    /// [`Manifest::attend_tokens`], the mention's attention
    /// ([`crate::TextStates::attended`]). Training builds the same rows.
    pub fn one_pass_features(
        &self,
        states: &crate::TextStates,
        mean: &[f32],
        start: usize,
        end: usize,
    ) -> Vec<f32> {
        let m = &self.manifest;
        let mut f = states.target_features_with(mean, start, end, m.context_tokens);
        if m.attend_tokens > 0 {
            let model = self.model.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(a) = &model.1.attend {
                f.extend(states.attended(a, mean, start, end, m.attend_tokens));
            }
        }
        f
    }

    /// Writes `head.safetensors` and `manifest.json` into `dir`.
    pub fn save(&self, dir: &Path) -> Result<(), String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let model = self.model.lock().unwrap_or_else(|e| e.into_inner());
        model
            .0
            .save(dir.join("head.safetensors"))
            .map_err(|e| format!("{}: {e}", dir.join("head.safetensors").display()))?;
        let json = serde_json::to_string_pretty(&self.manifest).map_err(|e| e.to_string())?;
        std::fs::write(dir.join("manifest.json"), json + "\n")
            .map_err(|e| format!("{}: {e}", dir.join("manifest.json").display()))
    }

    /// Reads a head directory written by [`Head::save`].
    pub fn load(dir: &Path) -> Result<Head, String> {
        let mpath = dir.join("manifest.json");
        let text =
            std::fs::read_to_string(&mpath).map_err(|e| format!("{}: {e}", mpath.display()))?;
        let manifest: Manifest =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", mpath.display()))?;
        let mut vs = nn::VarStore::new(Device::Cpu);
        let mut net = build(
            &vs,
            manifest.input_dim,
            manifest.hidden,
            manifest.labels.len(),
        );
        if manifest.attend_tokens > 0 {
            let parts = crate::features::one_pass_target_parts(
                manifest.context_tokens,
                manifest.attend_tokens,
            );
            let dim = (manifest.input_dim / parts) as i64;
            net.attend = Some(crate::attend::Attend::new(vs.root() / "attend", dim));
        }
        let wpath = dir.join("head.safetensors");
        vs.load(&wpath)
            .map_err(|e| format!("{}: {e}", wpath.display()))?;
        vs.freeze();
        Ok(Head {
            manifest,
            model: std::sync::Mutex::new((vs, net)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        Manifest {
            task: "test".into(),
            labels: vec!["a".into(), "b".into(), "c".into()],
            input_dim: 0,
            hidden: 0,
            encoder: "none".into(),
            target_features: None,
            tuned_layers: 0,
            lora_rank: 0,
            one_pass: false,
            context_tokens: 0,
            attend_tokens: 0,
            encoder_top: None,
            training: serde_json::Value::Null,
        }
    }

    /// Three separable clusters.
    fn data() -> (Vec<Vec<f32>>, Vec<usize>) {
        let mut x = Vec::new();
        let mut y = Vec::new();
        for i in 0..90 {
            let c = i % 3;
            let jitter = (i as f32 * 0.37).sin() * 0.2;
            let mut v = vec![0.0f32; 4];
            v[c] = 1.0 + jitter;
            v[3] = jitter;
            x.push(v);
            y.push(c);
        }
        (x, y)
    }

    fn accuracy(g: &[usize], p: &[usize]) -> f64 {
        g.iter().zip(p).filter(|(a, b)| a == b).count() as f64 / g.len() as f64
    }

    #[test]
    fn learns_separable_classes_deterministically_and_roundtrips() {
        let _rng = crate::TORCH_RNG.lock().unwrap_or_else(|e| e.into_inner());
        let (x, y) = data();
        for hidden in [0, 8] {
            let params = TrainParams {
                hidden,
                epochs: 200,
                ..Default::default()
            };
            let (head, epoch, dev) = Head::train(manifest(), &x, &y, (&x, &y), params, accuracy);
            assert!(dev > 0.99, "hidden {hidden}: dev accuracy {dev}");
            assert!(epoch >= 5);
            let p = head.predict(&x);
            assert!((p[0].iter().sum::<f32>() - 1.0).abs() < 1e-5);
            let (again, _, _) = Head::train(manifest(), &x, &y, (&x, &y), params, accuracy);
            assert_eq!(again.predict(&x), p, "same seed, same head");
            let dir = tempfile::tempdir().unwrap();
            head.save(dir.path()).unwrap();
            let loaded = Head::load(dir.path()).unwrap();
            assert_eq!(loaded.predict(&x), p);
            assert_eq!(loaded.manifest.hidden, hidden);
        }
    }
}
