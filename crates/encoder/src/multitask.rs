//! Training one encoder for several heads read from one pass per text: the
//! LoRA adapters (or tuned top layers) of a [`StatesEncoder`], a target
//! head (linear, or with a ReLU layer: [`Params::target_hidden`]) over
//! `[sentence mean, target span mean]`, plus the mean of the
//! target's local context when [`Params::context`] is set
//! ([`TextStates::target_features`]) and the target's attention over its
//! neighbourhood when [`Params::attend`] is ([`crate::attend`]),
//! and a sentence head over the sentence mean ([`TextStates::mean`]),
//! trained together on texts that carry target labels, a sentence label, or
//! both; a target may aim at a distribution instead of its class
//! ([`Target::soft`], for distilling a teacher). Inference reads both heads
//! from the same states, so training sees exactly what the stages see (one
//! window per text: [`StatesEncoder::encode_one_window`]).
//!
//! [`TextStates::target_features`]: crate::TextStates::target_features
//! [`TextStates::mean`]: crate::TextStates::mean

use crate::attend::Attend;
use crate::head::{build, class_weights};
use crate::states::{self, StatesEncoder};
use crate::tuned::{batch, pool, restore, snapshot};
use crate::{length_groups, Adapt, Embed, Pooling, SentenceEncoder, Spec};
use stancepipe_core::ModelRepo;
use std::sync::Arc;
use tch::nn::{self, Module, OptimizerConfig};
use tch::{Device, Kind, Tensor};

/// One training text: targets inside it and, optionally, its sentence class.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    pub text: String,
    pub targets: Vec<Target>,
    pub sentence: Option<usize>,
}

/// A target of an [`Example`]: byte span into its text, class index of the
/// target head, weight in the loss (beside the class weight: how much its
/// source counts) and its source's index (dev figures per source).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Target {
    pub start: usize,
    pub end: usize,
    pub class: usize,
    pub weight: f32,
    pub source: usize,
    /// The distribution over the three target classes that the loss aims
    /// at instead of the one-hot `class` (distillation: a teacher's
    /// probabilities mixed with the gold label). `class` still picks the
    /// class weight and the dev figures.
    pub soft: Option<[f32; SOFT_CLASSES]>,
    /// Shown after the text rather than found in it (a stance topic): read
    /// by the appended head when [`Params::appended_head`] is set.
    pub appended: bool,
}

/// Classes of a [`Target::soft`] distribution (the target head's three:
/// positive, negative, neutral).
pub const SOFT_CLASSES: usize = 3;

/// Settings of a multi-task fit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    pub layers: usize,
    pub adapt: Adapt,
    pub epochs: usize,
    /// Texts per step.
    pub batch: usize,
    pub lr_encoder: f64,
    pub lr_head: f64,
    pub weight_decay: f64,
    pub seed: i64,
    pub target_classes: usize,
    pub sentence_classes: usize,
    /// Tokens of local context on either side of a target whose mean joins
    /// the target features (0: none); the manifest's `context_tokens`.
    pub context: usize,
    /// Tokens on either side of a target that its attention reads
    /// ([`crate::attend`]; 0: no attention); the manifest's `attend_tokens`.
    pub attend: usize,
    /// Width of the target head's hidden layer (ReLU; 0: a linear head);
    /// the manifest's `hidden`.
    pub target_hidden: usize,
    /// A second target head for appended targets ([`Target::appended`]),
    /// so that topic stance does not share the head that reads mentions in
    /// their text (the only ones the stages see); saved in
    /// [`APPENDED_DIR`] beside the target head.
    pub appended_head: bool,
}

/// Directory, inside the target head's, of the head for appended targets
/// ([`Params::appended_head`]); the stages never read it.
pub const APPENDED_DIR: &str = "appended";

/// Gold and predicted classes of one evaluation: target gold, target
/// predictions, each target's source, sentence gold, sentence predictions.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Predictions {
    pub target_gold: Vec<usize>,
    pub target_pred: Vec<usize>,
    pub target_source: Vec<usize>,
    pub sentence_gold: Vec<usize>,
    pub sentence_pred: Vec<usize>,
}

/// The trained encoder and heads (variables `out.*`, and `hidden.*` with a
/// hidden layer, as [`crate::Head`] loads them), the chosen epoch and the
/// dev score of each epoch (epoch 0: heads alone).
pub struct Trained {
    pub encoder: StatesEncoder,
    pub target_head: nn::VarStore,
    /// With [`Params::appended_head`].
    pub appended_head: Option<nn::VarStore>,
    pub sentence_head: nn::VarStore,
    pub epoch: usize,
    pub history: Vec<f64>,
}

impl Trained {
    /// Writes the adapters ([`crate::tuned::TOP_FILE`]) and the target head
    /// into `target_dir` (an appended head into its [`APPENDED_DIR`]), the
    /// sentence head into `sentence_dir`.
    pub fn save(
        &self,
        target_dir: &std::path::Path,
        sentence_dir: &std::path::Path,
    ) -> Result<(), String> {
        let appended_dir = target_dir.join(APPENDED_DIR);
        let mut heads = vec![
            (&self.target_head, target_dir),
            (&self.sentence_head, sentence_dir),
        ];
        if let Some(a) = &self.appended_head {
            heads.push((a, &appended_dir));
        }
        for (_, d) in &heads {
            std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
        }
        self.encoder
            .encoder()
            .top()
            .save(&target_dir.join(crate::tuned::TOP_FILE))?;
        for (vs, d) in heads {
            let h = d.join("head.safetensors");
            vs.save(&h).map_err(|e| format!("{}: {e}", h.display()))?;
        }
        Ok(())
    }
}

/// A text's cached frozen-layer states, its targets as token rows (1-based
/// past `[CLS]`) with classes, and its sentence class.
struct Item {
    states: Tensor,
    /// (first row, end row, target).
    targets: Vec<(usize, usize, Target)>,
    sentence: Option<usize>,
}

/// The frozen layers' states of each text's first window (`[tokens + 2,
/// dim]`, what training caches once) and its tokens, computed in groups of
/// similar length.
pub(crate) fn frozen_states<'a>(
    enc: &StatesEncoder,
    texts: impl Iterator<Item = &'a str>,
) -> Result<(Vec<Tensor>, Vec<states::Tokens>), String> {
    let mut ids_of = Vec::new();
    let mut tokens = Vec::new();
    for t in texts {
        let (ids, toks) = enc.encode_one_window(t)?;
        ids_of.push(ids);
        tokens.push(toks);
    }
    let lens: Vec<usize> = ids_of.iter().map(Vec::len).collect();
    let mut states: Vec<Option<Tensor>> = (0..lens.len()).map(|_| None).collect();
    for group in length_groups(&lens, 64) {
        let longest = group.iter().map(|&i| lens[i]).max().unwrap_or(0);
        let mut ids = vec![0i64; group.len() * longest];
        let mut mask = vec![0i64; group.len() * longest];
        for (r, &i) in group.iter().enumerate() {
            let row = &ids_of[i];
            ids[r * longest..r * longest + row.len()].copy_from_slice(row);
            mask[r * longest..r * longest + row.len()].fill(1);
        }
        let shape = [group.len() as i64, longest as i64];
        let h = tch::no_grad(|| {
            enc.encoder().bottom_forward(
                &Tensor::from_slice(&ids).view(shape),
                &Tensor::from_slice(&mask).view(shape),
            )
        })?;
        for (r, &i) in group.iter().enumerate() {
            states[i] = Some(h.get(r as i64).narrow(0, 0, lens[i] as i64).copy());
        }
    }
    let states = states
        .into_iter()
        .map(|s| s.unwrap_or_else(|| Tensor::zeros([1, 1], (Kind::Float, Device::Cpu))))
        .collect();
    Ok((states, tokens))
}

/// Runs the frozen layers once per example (one window each) and maps each
/// target's bytes to token rows; targets cut off by the window are dropped
/// (counted in the returned number).
fn cache(enc: &StatesEncoder, examples: &[Example]) -> Result<(Vec<Item>, usize), String> {
    let (states, tokens) = frozen_states(enc, examples.iter().map(|e| e.text.as_str()))?;
    let mut dropped = 0;
    let items = examples
        .iter()
        .zip(states)
        .zip(&tokens)
        .map(|((e, states), toks)| {
            let targets = e
                .targets
                .iter()
                .filter_map(|t| {
                    let rows = states::span_rows(&toks.offsets, t.start, t.end);
                    if rows.is_none() {
                        dropped += 1;
                    }
                    rows.map(|r| (r.start, r.end, *t))
                })
                .collect();
            Item {
                states,
                targets,
                sentence: e.sentence,
            }
        })
        .collect();
    Ok((items, dropped))
}

/// Batches of similar length, `size` texts each.
fn batches(items: &[Item], size: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by_key(|&i| items[i].states.size()[0]);
    order.chunks(size.max(1)).map(<[usize]>::to_vec).collect()
}

/// The two heads' inputs for a batch: target features `[targets, parts
/// dim]` ([`crate::features::one_pass_target_parts`]) with their classes,
/// and sentence features `[labeled texts, dim]` with theirs.
struct Features {
    targets: Tensor,
    target_y: Vec<i64>,
    /// The loss's aim per target, `[targets, classes]` flattened: one-hot
    /// at the class, or its [`Target::soft`].
    target_q: Vec<f32>,
    target_w: Vec<f32>,
    target_source: Vec<usize>,
    /// Per target: [`Target::appended`].
    target_appended: Vec<bool>,
    sentences: Tensor,
    sentence_y: Vec<i64>,
}

fn features(
    enc: &StatesEncoder,
    (top, attend): (&crate::tuned::Top, Option<&Attend>),
    items: &[Item],
    b: &[usize],
    params: &Params,
    train: bool,
) -> Features {
    let (context, classes) = (params.context, params.target_classes);
    let refs: Vec<&Tensor> = b.iter().map(|&i| &items[i].states).collect();
    let (h, mask) = batch(&refs);
    let hid = top.forward_t(&h, &mask, train);
    let normalize = enc.encoder().normalizes();
    let sent = pool(&hid, &mask, normalize);
    let (n, len, dim) = hid.size3().unwrap_or((0, 0, 0));
    // Content tokens of each text (its states hold `[CLS]` and `[SEP]` too).
    let tokens: Vec<usize> = b
        .iter()
        .map(|&i| (items[i].states.size()[0] as usize).saturating_sub(2))
        .collect();
    // Rows over the flattened batch, one per target: 1/len at its tokens
    // (and with a context, a second set of rows at its local context).
    let mut weights = Vec::new();
    let mut around = Vec::new();
    let mut band = Vec::new();
    let mut owner = Vec::new();
    let mut target_y = Vec::new();
    let mut target_q = Vec::new();
    let mut target_w = Vec::new();
    let mut target_source = Vec::new();
    let mut target_appended = Vec::new();
    let row_of = |r: usize, rows: std::ops::Range<usize>| {
        let mut row = vec![0f32; (n * len) as usize];
        let w = 1.0 / rows.len().max(1) as f32;
        row[r * len as usize + rows.start..r * len as usize + rows.end].fill(w);
        row
    };
    for (r, &i) in b.iter().enumerate() {
        for &(s, e, t) in &items[i].targets {
            target_w.push(t.weight);
            target_source.push(t.source);
            target_appended.push(t.appended);
            weights.extend(row_of(r, s..e));
            if context > 0 {
                around.extend(row_of(r, states::context_rows(s..e, tokens[r], context)));
            }
            if attend.is_some() {
                let rows = states::context_rows(s..e, tokens[r], params.attend);
                let mut allowed = vec![false; (n * len) as usize];
                allowed[r * len as usize + rows.start..r * len as usize + rows.end].fill(true);
                band.extend(allowed);
            }
            owner.push(r as i64);
            target_y.push(t.class as i64);
            match t.soft {
                Some(q) => target_q.extend(q),
                None => target_q.extend((0..classes).map(|c| f32::from(u8::from(c == t.class)))),
            }
        }
    }
    let parts = crate::features::one_pass_target_parts(context, params.attend) as i64;
    let targets = if owner.is_empty() {
        Tensor::zeros([0, parts * dim], (Kind::Float, Device::Cpu))
    } else {
        let flat = hid.view([n * len, dim]);
        let pooled = |w: &[f32]| {
            let mut m = Tensor::from_slice(w)
                .view([owner.len() as i64, n * len])
                .mm(&flat);
            if normalize {
                m = &m
                    / m.norm_scalaropt_dim(2, [1i64].as_slice(), true)
                        .clamp_min(1e-12);
            }
            m
        };
        let owners = Tensor::from_slice(&owner);
        let span = pooled(&weights);
        let mut cols = vec![sent.index_select(0, &owners), span.shallow_clone()];
        if context > 0 {
            cols.push(pooled(&around));
        }
        if let Some(a) = attend {
            let allowed = Tensor::from_slice(&band).view([owner.len() as i64, n * len]);
            cols.push(a.forward(&span, &flat, &allowed, normalize));
        }
        Tensor::cat(&cols, 1)
    };
    let labeled: Vec<i64> = b
        .iter()
        .enumerate()
        .filter(|(_, &i)| items[i].sentence.is_some())
        .map(|(r, _)| r as i64)
        .collect();
    let sentence_y = b
        .iter()
        .filter_map(|&i| items[i].sentence.map(|c| c as i64))
        .collect();
    let sentences = sent.index_select(0, &Tensor::from_slice(&labeled));
    Features {
        targets,
        target_y,
        target_q,
        target_w,
        target_source,
        target_appended,
        sentences,
        sentence_y,
    }
}

/// The target heads' logits for a batch: each row from the target head, or
/// from the appended head for an appended target when there is one.
fn target_logits(head: &impl Module, appended: Option<&impl Module>, f: &Features) -> Tensor {
    let logits = head.forward(&f.targets);
    match appended {
        Some(a) if f.target_appended.contains(&true) => {
            let rows = f.target_appended.len() as i64;
            let mask = Tensor::from_slice(&f.target_appended).view([rows, 1]);
            a.forward(&f.targets).where_self(&mask, &logits)
        }
        _ => logits,
    }
}

/// The target head's loss: -sum(q log p) against each aim `q`
/// ([`Features::target_q`]), weighted by the class weight `w` of the gold
/// class and by the target's own weight (`each`), normalized by the batch's
/// total weight. With one-hot aims this is torch's class-weighted
/// cross-entropy with per-example weights.
fn target_loss(logits: &Tensor, (y, q): (&[i64], &[f32]), w: &Tensor, each: &[f32]) -> Tensor {
    if y.is_empty() {
        return Tensor::zeros([], (Kind::Float, Device::Cpu));
    }
    let q = Tensor::from_slice(q).view([y.len() as i64, -1]);
    let per = -(q * logits.log_softmax(-1, Kind::Float)).sum_dim_intlist(
        [-1i64].as_slice(),
        false,
        Kind::Float,
    );
    let weights = w.index_select(0, &Tensor::from_slice(y)) * Tensor::from_slice(each);
    (per * &weights).sum(Kind::Float) / weights.sum(Kind::Float).clamp_min(1e-12)
}

/// The sentence head's loss: cross-entropy weighted by class (torch's
/// weighted mean); 0 for a batch without sentence labels.
fn sentence_loss(logits: &Tensor, y: &[i64], w: &Tensor) -> Tensor {
    if y.is_empty() {
        return Tensor::zeros([], (Kind::Float, Device::Cpu));
    }
    logits.cross_entropy_loss(
        &Tensor::from_slice(y),
        Some(w),
        tch::Reduction::Mean,
        -100,
        0.0,
    )
}

fn argmax_rows(logits: &Tensor) -> Vec<usize> {
    Vec::<i64>::try_from(&logits.argmax(-1, false))
        .unwrap_or_default()
        .into_iter()
        .map(|x| x as usize)
        .collect()
}

/// Trains adapters and both heads on `train`, choosing the epoch by `score`
/// on `dev` (higher is better). `progress(what, done, total)`.
pub fn fine_tune(
    base: Arc<SentenceEncoder>,
    repo: &ModelRepo,
    (train, dev): (&[Example], &[Example]),
    params: Params,
    score: impl Fn(&Predictions) -> f64,
    progress: &dyn Fn(&str, usize, usize),
) -> Result<Trained, String> {
    let soft = train
        .iter()
        .chain(dev)
        .flat_map(|e| &e.targets)
        .any(|t| t.soft.is_some());
    if soft && params.target_classes != SOFT_CLASSES {
        return Err(format!(
            "soft targets cover {SOFT_CLASSES} classes but the target head has {}",
            params.target_classes
        ));
    }
    tch::manual_seed(params.seed);
    let spec = Spec {
        layers: params.layers,
        adapt: params.adapt,
        pooling: Pooling::Mean,
    };
    let enc = states::load(base, repo, spec, None).map_err(|e| e.to_string())?;
    progress("encode train (frozen layers)", 0, train.len());
    let (train_items, dropped) = cache(&enc, train)?;
    let (dev_items, dev_dropped) = cache(&enc, dev)?;
    if dropped + dev_dropped > 0 {
        progress(
            &format!("targets past the first window dropped: train {dropped}, dev {dev_dropped}"),
            0,
            0,
        );
    }
    let dim = enc.dim();
    let target_vs = nn::VarStore::new(Device::Cpu);
    let appended_vs = nn::VarStore::new(Device::Cpu);
    let sentence_vs = nn::VarStore::new(Device::Cpu);
    let parts = crate::features::one_pass_target_parts(params.context, params.attend);
    // Built as `Head::load` builds them, so the saved variables load there.
    let target_head = build(
        &target_vs,
        parts * dim,
        params.target_hidden,
        params.target_classes,
    );
    let appended_head = params.appended_head.then(|| {
        build(
            &appended_vs,
            parts * dim,
            params.target_hidden,
            params.target_classes,
        )
    });
    let attend = (params.attend > 0).then(|| Attend::new(target_vs.root() / "attend", dim as i64));
    let sentence_head = build(&sentence_vs, dim, 0, params.sentence_classes);
    let target_w = class_weights(
        &train_items
            .iter()
            .flat_map(|i| i.targets.iter().map(|t| t.2.class))
            .collect::<Vec<_>>(),
        params.target_classes,
    );
    let sentence_w = class_weights(
        &train_items
            .iter()
            .filter_map(|i| i.sentence)
            .collect::<Vec<_>>(),
        params.sentence_classes,
    );
    let train_batches = batches(&train_items, params.batch);
    let dev_batches = batches(&dev_items, 64);
    let top_guard = enc.encoder().top();
    let top = &*top_guard;
    let opt = |vs: &nn::VarStore, lr: f64| {
        nn::AdamW::default()
            .wd(params.weight_decay)
            .build(vs, lr)
            .map_err(|e| e.to_string())
    };
    let mut opt_top = opt(&top.vs, params.lr_encoder)?;
    let mut opt_t = opt(&target_vs, params.lr_head)?;
    let mut opt_a = match appended_head {
        Some(_) => Some(opt(&appended_vs, params.lr_head)?),
        None => None,
    };
    let mut opt_s = opt(&sentence_vs, params.lr_head)?;

    let evaluate = || -> Predictions {
        tch::no_grad(|| {
            let mut p = Predictions::default();
            for b in &dev_batches {
                let f = features(&enc, (top, attend.as_ref()), &dev_items, b, &params, false);
                p.target_gold.extend(f.target_y.iter().map(|&y| y as usize));
                p.target_pred.extend(argmax_rows(&target_logits(
                    &target_head,
                    appended_head.as_ref(),
                    &f,
                )));
                p.target_source.extend(f.target_source);
                p.sentence_gold
                    .extend(f.sentence_y.iter().map(|&y| y as usize));
                p.sentence_pred
                    .extend(argmax_rows(&sentence_head.forward(&f.sentences)));
            }
            p
        })
    };
    let mut history = Vec::new();
    // (epoch, score, variables of the top layers and of the three heads)
    type Best = (usize, f64, [Vec<(String, Tensor)>; 4]);
    let mut best: Option<Best> = None;
    let steps = train_batches.len();
    for epoch in 0..=params.epochs {
        let perm =
            Vec::<i64>::try_from(&Tensor::randperm(steps as i64, (Kind::Int64, Device::Cpu)))
                .map_err(|e| e.to_string())?;
        for (done, &bi) in perm.iter().enumerate() {
            let b = &train_batches[bi as usize];
            let f = if epoch == 0 {
                tch::no_grad(|| {
                    features(
                        &enc,
                        (top, attend.as_ref()),
                        &train_items,
                        b,
                        &params,
                        false,
                    )
                })
            } else {
                features(&enc, (top, attend.as_ref()), &train_items, b, &params, true)
            };
            let loss = target_loss(
                &target_logits(&target_head, appended_head.as_ref(), &f),
                (&f.target_y, &f.target_q),
                &target_w,
                &f.target_w,
            ) + sentence_loss(
                &sentence_head.forward(&f.sentences),
                &f.sentence_y,
                &sentence_w,
            );
            opt_top.zero_grad();
            opt_t.zero_grad();
            if let Some(o) = &mut opt_a {
                o.zero_grad();
            }
            opt_s.zero_grad();
            loss.backward();
            if epoch > 0 {
                opt_top.step();
            }
            opt_t.step();
            if let Some(o) = &mut opt_a {
                o.step();
            }
            opt_s.step();
            progress(&format!("fine-tune epoch {epoch}"), done + 1, steps);
        }
        let s = score(&evaluate());
        history.push(s);
        if best.as_ref().is_none_or(|b| s > b.1) {
            best = Some((
                epoch,
                s,
                [
                    snapshot(&top.vs),
                    snapshot(&target_vs),
                    snapshot(&appended_vs),
                    snapshot(&sentence_vs),
                ],
            ));
        }
    }
    let (epoch, _, [t, th, ah, sh]) = best.ok_or_else(|| "no epoch was trained".to_string())?;
    restore(&top.vs, &t);
    restore(&target_vs, &th);
    restore(&appended_vs, &ah);
    restore(&sentence_vs, &sh);
    drop(top_guard);
    Ok(Trained {
        encoder: enc,
        target_head: target_vs,
        appended_head: params.appended_head.then_some(appended_vs),
        sentence_head: sentence_vs,
        epoch,
        history,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(t: &Tensor) -> f64 {
        t.double_value(&[])
    }

    #[test]
    fn one_hot_aims_give_the_weighted_cross_entropy() {
        let logits = Tensor::from_slice(&[2.0f32, -1.0, 0.5, 0.1, 0.3, -2.0]).view([2, 3]);
        let w = Tensor::from_slice(&[1.0f32, 3.0, 0.5]);
        let y = [1i64, 0];
        let q = [0.0f32, 1.0, 0.0, 1.0, 0.0, 0.0];
        let each = [2.0f32, 1.0];
        let ours = value(&target_loss(&logits, (&y, &q), &w, &each));
        // By hand: weights 3*2 and 1*1; -log p of the gold class per row.
        let lp = logits.log_softmax(-1, Kind::Float);
        let (a, b) = (-lp.double_value(&[0, 1]), -lp.double_value(&[1, 0]));
        let expected = (6.0 * a + 1.0 * b) / 7.0;
        assert!((ours - expected).abs() < 1e-5, "{ours} vs {expected}");
        // Without per-example weights it is torch's weighted mean.
        let torch = value(&sentence_loss(&logits, &y, &w));
        let flat = value(&target_loss(&logits, (&y, &q), &w, &[1.0, 1.0]));
        assert!((torch - flat).abs() < 1e-5, "{torch} vs {flat}");
    }

    #[test]
    fn a_soft_aim_pulls_toward_its_distribution() {
        // One target, gold class 0; a soft aim that puts half its mass on
        // class 2 is minimized by logits that give class 2 that mass, where
        // the one-hot aim is not.
        let w = Tensor::from_slice(&[1.0f32, 1.0, 1.0]);
        let soft = [0.5f32, 0.0, 0.5];
        let hard = [1.0f32, 0.0, 0.0];
        let confident = Tensor::from_slice(&[5.0f32, -5.0, -5.0]).view([1, 3]);
        let split = Tensor::from_slice(&[0.0f32, -5.0, 0.0]).view([1, 3]);
        let loss = |l: &Tensor, q: &[f32]| value(&target_loss(l, (&[0], q), &w, &[1.0]));
        assert!(loss(&split, &soft) < loss(&confident, &soft));
        assert!(loss(&confident, &hard) < loss(&split, &hard));
    }

    #[test]
    fn appended_targets_are_read_by_the_appended_head_only() {
        let _rng = crate::TORCH_RNG.lock().unwrap_or_else(|e| e.into_inner());
        let vs = nn::VarStore::new(Device::Cpu);
        let head = nn::linear(vs.root() / "t", 2, 3, Default::default());
        let appended = nn::linear(vs.root() / "a", 2, 3, Default::default());
        let f = Features {
            targets: Tensor::from_slice(&[1.0f32, 2.0, -1.0, 0.5, 0.3, 0.7]).view([3, 2]),
            target_y: vec![0, 1, 2],
            target_q: Vec::new(),
            target_w: Vec::new(),
            target_source: Vec::new(),
            target_appended: vec![false, true, false],
            sentences: Tensor::zeros([0, 2], (Kind::Float, Device::Cpu)),
            sentence_y: Vec::new(),
        };
        let ours = target_logits(&head, Some(&appended), &f);
        let (t, a) = (head.forward(&f.targets), appended.forward(&f.targets));
        for (row, from) in [(0, &t), (1, &a), (2, &t)] {
            assert!(ours.get(row).allclose(&from.get(row), 0.0, 0.0, false));
        }
        assert!(!ours.get(1).allclose(&t.get(1), 1e-4, 1e-4, false));
        // Without an appended head every row is the target head's.
        let alone = target_logits(&head, None::<&nn::Linear>, &f);
        assert!(alone.allclose(&t, 0.0, 0.0, false));
    }

    #[test]
    fn empty_batches_cost_nothing() {
        let w = Tensor::from_slice(&[1.0f32, 1.0, 1.0]);
        let none = Tensor::zeros([0, 3], (Kind::Float, Device::Cpu));
        assert_eq!(value(&target_loss(&none, (&[], &[]), &w, &[])), 0.0);
        assert_eq!(value(&sentence_loss(&none, &[], &w)), 0.0);
    }
}
