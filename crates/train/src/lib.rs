//! `stancepipe train`: the classifier heads of the model stages, trained with
//! libtorch autograd on all-MiniLM-L6-v2 features: on the frozen encoder, or
//! together with its top layers (whole, or LoRA adapters beside them).
//!
//! - `sentiment`: sentence sentiment (positive / negative / neutral) on
//!   Financial PhraseBank `Sentences_50Agree.txt`; used by `classify/embedding-head`.
//! - `target`: the sentiment toward one marked entity, on FinEntity plus
//!   NewsMTSC `train.jsonl`; used by `stance/target-sentiment`. Each of the
//!   requested ways of showing the target ([`TargetFeatures`]) is trained and
//!   the best on dev is kept.
//!
//! - `entities`: the organization recognizer of the tokenize stage's
//!   `discover` option, on FiNER-ORD ([`entities`]).
//!
//! Splits follow `../shared/data/README.md` (index % 10: 9 test, 8 dev).
//! Heads are selected on dev only; test figures are reported, next to a
//! majority-class and a lexicon (VADER) baseline, in the head's manifest.

pub mod contrast;
pub mod document;
pub mod entities;
pub mod gold;
pub mod persent;
pub mod soup;
pub mod stance;
pub mod transfer;

use serde_json::json;
use stancepipe_classify::vader::{self, Lexicon};
use stancepipe_core::labels;
use stancepipe_core::ModelRepo;
use stancepipe_encoder::tuned::{fine_tune, Examples, TOP_FILE};
use stancepipe_encoder::{
    features, Adapt, Embed, Head, Manifest, Pooling, SentenceEncoder, Spec, TargetFeatures,
    TrainParams, TuneParams, TunedEncoder,
};
use stancepipe_eval::datasets::{self, LabeledText, Split, TargetExample};
use stancepipe_eval::ClassReport;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// The label order of every head.
pub const LABELS: [&str; 3] = labels::ALL;

/// Progress of long steps: (what, done, total).
pub type Progress<'a> = &'a dyn Fn(&str, usize, usize);

fn label_index(l: &str) -> usize {
    LABELS.iter().position(|x| *x == l).unwrap_or(2)
}

fn macro_f1(gold: &[usize], pred: &[usize]) -> f64 {
    report(gold, pred).macro_f1
}

fn report(gold: &[usize], pred: &[usize]) -> ClassReport {
    let pairs: Vec<(String, String)> = gold
        .iter()
        .zip(pred)
        .map(|(g, p)| (LABELS[*g].to_string(), LABELS[*p].to_string()))
        .collect();
    ClassReport::new(&LABELS, &pairs)
}

fn summary(r: &ClassReport) -> serde_json::Value {
    json!({
        "macro_f1": r.macro_f1,
        "accuracy": r.accuracy,
        "per_class_f1": r.classes.iter().map(|c| (c.label.clone(), c.f1)).collect::<std::collections::BTreeMap<_, _>>(),
        "support": r.support,
    })
}

/// The encoder to train on: the base model and where it was loaded from
/// (fine-tuning rebuilds its layers from the same files).
pub struct Encoder<'a> {
    pub base: Arc<SentenceEncoder>,
    pub repo: &'a ModelRepo,
}

/// How a head is trained: on frozen embeddings, or together with the
/// encoder's top layers (`TuneParams::layers` of them).
#[derive(Debug, Clone, Copy)]
pub enum Fit {
    Frozen(TrainParams),
    Tuned(TuneParams),
}

impl Fit {
    fn seed(&self) -> i64 {
        match self {
            Fit::Frozen(p) => p.seed,
            Fit::Tuned(p) => p.seed,
        }
    }

    /// The settings as recorded in a manifest.
    fn describe(&self) -> serde_json::Value {
        match self {
            Fit::Frozen(p) => json!({"method": "frozen encoder, linear head",
                "epochs": p.epochs, "learning_rate": p.learning_rate, "weight_decay": p.weight_decay,
                "hidden": p.hidden, "balanced": p.balanced, "seed": p.seed}),
            Fit::Tuned(p) => {
                let what = match p.adapt {
                    Adapt::Full => format!("top {} encoder layer(s) fine-tuned", p.layers),
                    Adapt::Lora(r) => format!(
                        "rank-{r} LoRA adapters on the top {} encoder layer(s) trained",
                        p.layers
                    ),
                };
                json!({"method": format!("{what} with a linear head"),
                "tuned_layers": p.layers, "lora_rank": p.adapt.rank(), "epochs": p.epochs, "batch": p.batch,
                "lr_encoder": p.lr_encoder, "lr_head": p.lr_head, "weight_decay": p.weight_decay,
                "balanced": p.balanced, "seed": p.seed,
                "note": "epoch 0 trains the head alone; the best epoch on dev is kept; trained variables stored as float16"})
            }
        }
    }
}

/// What a fit produced: the head, the encoder its features come from, the
/// best epoch, its dev score and the dev score of each epoch (tuned only).
type Fitted = (Head, Arc<dyn Embed>, usize, f64, Vec<f64>);

/// Fine-tunes, saves the top layers and head into `out`, and loads them
/// back so that every figure is measured on the stored (float16) files.
/// Returns the head, the tuned encoder, the best epoch, its dev score and
/// the dev score of every epoch.
#[allow(clippy::too_many_arguments)]
fn fit_tuned(
    enc: &Encoder,
    manifest: Manifest,
    train: (&[String], &[usize]),
    dev: (&[String], &[usize]),
    params: TuneParams,
    out: &Path,
    progress: Progress,
) -> Result<Fitted, String> {
    let (per, pooling) = manifest.shape();
    let params = TuneParams { pooling, ..params };
    let tr = Examples {
        texts: train.0,
        labels: train.1,
        per,
    };
    let dv = Examples {
        texts: dev.0,
        labels: dev.1,
        per,
    };
    let classes = manifest.labels.len();
    let tuned = fine_tune(
        enc.base.clone(),
        enc.repo,
        classes,
        (&tr, &dv),
        params,
        macro_f1,
        progress,
    )?;
    tuned.save(out)?;
    let mut m = manifest;
    m.input_dim = enc.base.dim() * per * params.pooling.width();
    m.hidden = 0;
    m.tuned_layers = params.layers;
    m.lora_rank = params.adapt.rank();
    std::fs::write(
        out.join("manifest.json"),
        serde_json::to_string_pretty(&m).map_err(|e| e.to_string())?,
    )
    .map_err(|e| format!("{}: {e}", out.display()))?;
    let head = Head::load(out)?;
    let encoder = TunedEncoder::load(
        enc.base.clone(),
        enc.repo,
        params.spec(),
        Some(&out.join(TOP_FILE)),
    )
    .map_err(|e| e.to_string())?;
    Ok((
        head,
        Arc::new(encoder),
        tuned.epoch,
        tuned.dev_score,
        tuned.history,
    ))
}

/// Embeds texts (length-sorted batches), reporting progress.
fn embed(
    encoder: &dyn Embed,
    texts: &[String],
    what: &str,
    progress: Progress,
) -> Result<Vec<Vec<f32>>, String> {
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    encoder.embed_many(&refs, 64, &|done| progress(what, done, texts.len()))
}

fn argmax(p: &[f32]) -> usize {
    p.iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map_or(0, |(i, _)| i)
}

/// The lexicon baseline: VADER's compound score with the classify stage's
/// default thresholds (±0.05).
fn lexicon_label(lex: &Lexicon, text: &str) -> usize {
    let c = vader::polarity_scores(lex, text).compound;
    if c >= 0.05 {
        0
    } else if c <= -0.05 {
        1
    } else {
        2
    }
}

fn majority(y: &[usize]) -> usize {
    let mut counts = [0usize; 3];
    y.iter().for_each(|&c| counts[c] += 1);
    argmax(&counts.map(|c| c as f32))
}

/// Figures of one test set for the head and both baselines.
fn score_set(
    name: &str,
    gold: &[usize],
    head_pred: &[usize],
    lexicon_pred: &[usize],
    majority_class: usize,
) -> serde_json::Value {
    let maj: Vec<usize> = vec![majority_class; gold.len()];
    json!({
        "set": name,
        "model": summary(&report(gold, head_pred)),
        "lexicon_baseline": summary(&report(gold, lexicon_pred)),
        "majority_baseline": summary(&report(gold, &maj)),
    })
}

/// The result of removing `path`, where a path that was not there is fine.
fn removed(result: std::io::Result<()>, path: &Path) -> Result<(), String> {
    match result {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(format!("{}: {e}", path.display()))
        }
        _ => Ok(()),
    }
}

/// Where the data sets are, below `../shared/data`.
pub struct DataDir(pub PathBuf);

impl DataDir {
    fn file(&self, rel: &str) -> Result<PathBuf, String> {
        let p = self.0.join(rel);
        if p.exists() {
            Ok(p)
        } else {
            Err(format!(
                "{} not found (is --data the labeled data folder, e.g. ../shared/data?)",
                p.display()
            ))
        }
    }
}

/// Trains a head on `train` texts (shown as the manifest's target features
/// say) by `fit`.
fn fit_head(
    enc: &Encoder,
    manifest: Manifest,
    train: (&[String], &[usize]),
    dev: (&[String], &[usize]),
    fit: Fit,
    out: &Path,
    progress: Progress,
) -> Result<Fitted, String> {
    match fit {
        Fit::Tuned(p) => fit_tuned(enc, manifest, train, dev, p, out, progress),
        Fit::Frozen(p) => {
            // A frozen-encoder head uses no tuned layers; drop stale ones.
            let stale = out.join(TOP_FILE);
            removed(std::fs::remove_file(&stale), &stale)?;
            let (per, pooling) = manifest.shape();
            // Span pooling needs token states: the base model's own top
            // layer, run through the tuned encoder's split forward pass.
            let embedder: Arc<dyn Embed> = match pooling {
                Pooling::Mean => enc.base.clone(),
                Pooling::MeanAndTarget | Pooling::Target => Arc::new(
                    TunedEncoder::load(
                        enc.base.clone(),
                        enc.repo,
                        Spec {
                            pooling,
                            ..Spec::top(1)
                        },
                        None,
                    )
                    .map_err(|e| e.to_string())?,
                ),
            };
            let rows = |texts: &[String], what: &str| -> Result<Vec<Vec<f32>>, String> {
                let e = embed(embedder.as_ref(), texts, what, progress)?;
                Ok(e.chunks(per.max(1)).map(|c| c.concat()).collect())
            };
            let x_train = rows(train.0, "embed train")?;
            let x_dev = rows(dev.0, "embed dev")?;
            let (head, epoch, dev_f1) =
                Head::train(manifest, &x_train, train.1, (&x_dev, dev.1), p, macro_f1);
            Ok((head, embedder, epoch, dev_f1, Vec::new()))
        }
    }
}

/// Class predictions of `head` for examples of `per` texts each.
/// The likeliest class of each row of probabilities.
fn argmaxes(probabilities: &[Vec<f32>]) -> Vec<usize> {
    probabilities.iter().map(|p| argmax(p)).collect()
}

/// The head's class probabilities per example (`per` texts each).
fn probabilities(
    head: &Head,
    embedder: &dyn Embed,
    texts: &[String],
    per: usize,
    what: &str,
    progress: Progress,
) -> Result<Vec<Vec<f32>>, String> {
    let e = embed(embedder, texts, what, progress)?;
    let x: Vec<Vec<f32>> = e.chunks(per.max(1)).map(|c| c.concat()).collect();
    Ok(head.predict(&x))
}

/// The labeled sentences `train sentiment` reads: PhraseBank from the
/// data folder, the user's gold data, or both.
#[derive(Clone, Copy)]
pub struct SentenceData<'a> {
    /// The bundled PhraseBank (`phrasebank/Sentences_50Agree.txt`).
    pub data: Option<&'a DataDir>,
    /// The user's gold JSONL ([`gold::UserData`]).
    pub gold: Option<&'a gold::UserData>,
}

/// Trains the sentence sentiment head; writes it to `out`; returns its manifest.
pub fn train_sentiment(
    enc: &Encoder,
    sources: SentenceData,
    out: &Path,
    fit: Fit,
    command: &str,
    progress: Progress,
) -> Result<Manifest, String> {
    let started = Instant::now();
    let err = |e: datasets::DataError| e.to_string();
    let (mut train, mut dev) = (Vec::new(), Vec::new());
    let mut test_sets: Vec<(String, Vec<LabeledText>)> = Vec::new();
    let mut described = serde_json::Map::new();
    if let Some(data) = sources.data {
        let fifty = data.file("phrasebank/Sentences_50Agree.txt")?;
        let all = data.file("phrasebank/Sentences_AllAgree.txt")?;
        let (tr, dv) = (
            datasets::phrasebank(&fifty, Split::Train).map_err(err)?,
            datasets::phrasebank(&fifty, Split::Dev).map_err(err)?,
        );
        let test = datasets::phrasebank(&fifty, Split::Test).map_err(err)?;
        let all_test = datasets::phrasebank_allagree_test(&all, &fifty).map_err(err)?;
        described.insert("phrasebank".into(), json!({"train": "phrasebank/Sentences_50Agree.txt (split train)", "dev": "same file, split dev",
                 "test": ["Sentences_50Agree.txt split test", "Sentences_AllAgree.txt sentences in the 50Agree test split"],
                 "sizes": {"train": tr.len(), "dev": dv.len(), "test": test.len(), "allagree_test": all_test.len()}}));
        train.extend(tr);
        dev.extend(dv);
        test_sets.push(("phrasebank-50agree-test".into(), test));
        test_sets.push(("phrasebank-allagree-in-test".into(), all_test));
    }
    if let Some(g) = sources.gold {
        described.insert("gold".into(), g.describe());
        train.extend(g.train.sentences.iter().cloned());
        dev.extend(g.dev.sentences.iter().cloned());
        if !g.test.sentences.is_empty() {
            test_sets.push(("gold-test".into(), g.test.sentences.clone()));
        }
    }
    if train.is_empty() || dev.is_empty() {
        return Err(format!(
            "no labeled sentences to {} on (train {}, dev {})",
            if train.is_empty() { "train" } else { "select" },
            train.len(),
            dev.len()
        ));
    }

    let texts = |v: &[LabeledText]| v.iter().map(|t| t.text.clone()).collect::<Vec<_>>();
    let ys = |v: &[LabeledText]| v.iter().map(|t| label_index(&t.label)).collect::<Vec<_>>();
    let (y_train, y_dev) = (ys(&train), ys(&dev));
    let manifest = Manifest {
        task: "sentence-sentiment".into(),
        labels: LABELS.iter().map(|s| s.to_string()).collect(),
        input_dim: 0,
        hidden: 0,
        encoder: enc.base.id().to_string(),
        target_features: None,
        tuned_layers: 0,
        lora_rank: 0,
        one_pass: false,
        context_tokens: 0,
        attend_tokens: 0,
        encoder_top: None,
        training: serde_json::Value::Null,
    };
    let (mut head, embedder, epoch, dev_f1, history) = fit_head(
        enc,
        manifest,
        (&texts(&train), &y_train),
        (&texts(&dev), &y_dev),
        fit,
        out,
        progress,
    )?;
    let lex = Lexicon::builtin();
    let maj = majority(&y_train);
    let lexicon = |v: &[LabeledText]| {
        v.iter()
            .map(|t| lexicon_label(&lex, &t.text))
            .collect::<Vec<_>>()
    };
    let mut tests = Vec::new();
    for (name, set) in &test_sets {
        let pred = argmaxes(&probabilities(
            &head,
            embedder.as_ref(),
            &texts(set),
            1,
            &format!("embed {name}"),
            progress,
        )?);
        tests.push(score_set(name, &ys(set), &pred, &lexicon(set), maj));
    }
    described.insert(
        "sizes".into(),
        json!({"train": train.len(), "dev": dev.len()}),
    );
    head.manifest.training = json!({
        "command": command,
        "data": described,
        "fit": fit.describe(),
        "seed": fit.seed(), "best_epoch": epoch,
        "dev_macro_f1": dev_f1, "dev_macro_f1_per_epoch": history,
        "test": tests,
        "seconds": started.elapsed().as_secs_f64(),
        "labels_note": "sentence labels positive/negative/neutral as given",
    });
    head.save(out)?;
    Ok(head.manifest)
}

/// A target example's texts (`kind` decides how many) and class indices.
fn target_inputs(v: &[TargetExample], kind: TargetFeatures) -> (Vec<String>, Vec<usize>) {
    let mut texts = Vec::new();
    for e in v {
        texts.extend(features::target_texts(kind, &e.text, e.start, e.end));
    }
    (texts, v.iter().map(|e| label_index(&e.label)).collect())
}

/// A labeled source of target examples. `train target --sources` trains on
/// some of them, so that the others measure how the head fares on text it
/// has never seen the like of (docs/quality.md, "Across sources").
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetSource {
    /// Reuters financial snippets: train, dev and test by the split rule.
    FinEntity,
    /// News sentences: `train.jsonl` split into train and dev; its test
    /// sets are the separate `devtest_mt.jsonl` and `devtest_rw.jsonl`.
    NewsMtsc,
}

impl TargetSource {
    /// Both sources, the default.
    pub const ALL: [TargetSource; 2] = [TargetSource::FinEntity, TargetSource::NewsMtsc];

    /// The file holding this source's train and dev parts.
    fn file(self) -> &'static str {
        match self {
            TargetSource::FinEntity => "finentity/FinEntity.json",
            TargetSource::NewsMtsc => "newsmtsc/train.jsonl",
        }
    }

    /// This source's examples of a part of [`Self::file`] (split rule).
    fn part(self, data: &DataDir, split: Split) -> Result<Vec<TargetExample>, String> {
        let path = data.file(self.file())?;
        match self {
            TargetSource::FinEntity => datasets::finentity(&path, split),
            TargetSource::NewsMtsc => datasets::newsmtsc(&path, Some(split)),
        }
        .map_err(|e| e.to_string())
    }

    /// This source's test sets, by name: FinEntity's test part, NewsMTSC's
    /// two official test files.
    fn tests(self, data: &DataDir) -> Result<Vec<(&'static str, Vec<TargetExample>)>, String> {
        Ok(match self {
            TargetSource::FinEntity => vec![("finentity-test", self.part(data, Split::Test)?)],
            TargetSource::NewsMtsc => {
                let set = |f: &str| {
                    datasets::newsmtsc(&data.file(&format!("newsmtsc/{f}.jsonl"))?, None)
                        .map_err(|e| e.to_string())
                };
                vec![
                    ("newsmtsc-devtest_mt", set("devtest_mt")?),
                    ("newsmtsc-devtest_rw", set("devtest_rw")?),
                ]
            }
        })
    }
}

/// The target head's dev part: FinEntity's and NewsMTSC `train.jsonl`'s.
pub fn target_dev(data: &DataDir) -> Result<Vec<TargetExample>, String> {
    target_part(data, &TargetSource::ALL, Split::Dev)
}

/// The `train` or `dev` part of `sources`, in that order.
fn target_part(
    data: &DataDir,
    sources: &[TargetSource],
    split: Split,
) -> Result<Vec<TargetExample>, String> {
    let mut all = Vec::new();
    for s in sources {
        all.extend(s.part(data, split)?);
    }
    Ok(all)
}

/// A target head's class probabilities on `dev`, or (`contrastive_only`)
/// on its examples whose text holds targets of different labels
/// ([`contrast::contrastive`]: how well it tells targets apart), with the
/// gold class indices. [`figures`] scores them; `examples/dev_target.rs`
/// also averages several heads'.
pub fn dev_probabilities(
    head: &Head,
    embedder: &dyn Embed,
    kind: TargetFeatures,
    dev: &[TargetExample],
    contrastive_only: bool,
    progress: Progress,
) -> Result<(Vec<Vec<f32>>, Vec<usize>), String> {
    let subset: Vec<TargetExample> = if contrastive_only {
        contrast::contrastive(dev)
            .into_iter()
            .map(|i| dev[i].clone())
            .collect()
    } else {
        dev.to_vec()
    };
    let (x, y) = target_inputs(&subset, kind);
    let per = kind.texts_per_example();
    let p = probabilities(head, embedder, &x, per, "embed dev", progress)?;
    Ok((p, y))
}

/// Figures (macro-F1, accuracy, per-class F1) of class probabilities
/// against gold class indices, the prediction being the likeliest class.
pub fn figures(probabilities: &[Vec<f32>], gold: &[usize]) -> serde_json::Value {
    json!({"n": gold.len(), "model": summary(&report(gold, &argmaxes(probabilities)))})
}

/// What `train target` trains on besides the data itself.
#[derive(Debug, Clone, Copy)]
pub struct TargetSetup<'a> {
    /// Ways of showing the target; one head each, the best on dev is kept.
    pub candidates: &'a [TargetFeatures],
    /// Contrast pairs added to the training part ([`contrast::pairs`]);
    /// 0 trains on the data alone.
    pub contrast_pairs: usize,
    /// The sources whose train and dev parts are used (not empty). Test
    /// figures are reported on every source's test sets, each marked with
    /// whether its source was trained on.
    pub sources: &'a [TargetSource],
}

/// Trains the target sentiment head; writes it to `out`; returns its
/// manifest. A head is trained for each of `candidates` (ways of showing
/// the target), each in its own folder below `out/candidates/`, and the
/// best on dev is kept: its files are moved up into `out`.
pub fn train_target(
    enc: &Encoder,
    data: &DataDir,
    out: &Path,
    fit: Fit,
    setup: &TargetSetup,
    command: &str,
    progress: Progress,
) -> Result<Manifest, String> {
    let candidates = setup.candidates;
    let started = Instant::now();
    if setup.sources.is_empty() {
        return Err("no sources to train on".into());
    }
    let mut train = target_part(data, setup.sources, Split::Train)?;
    let real_train = train.len();
    train.extend(contrast::pairs(
        &train,
        setup.contrast_pairs,
        fit.seed() as u64,
    ));
    let dev = target_part(data, setup.sources, Split::Dev)?;
    let mut tests = Vec::new();
    for source in TargetSource::ALL {
        let seen = setup.sources.contains(&source);
        tests.extend(source.tests(data)?.into_iter().map(|(n, s)| (n, s, seen)));
    }
    let manifest = |kind| Manifest {
        task: "target-sentiment".into(),
        labels: LABELS.iter().map(|s| s.to_string()).collect(),
        input_dim: 0,
        hidden: 0,
        encoder: enc.base.id().to_string(),
        target_features: Some(kind),
        tuned_layers: 0,
        lora_rank: 0,
        one_pass: false,
        context_tokens: 0,
        attend_tokens: 0,
        encoder_top: None,
        training: serde_json::Value::Null,
    };
    let mut per_kind = serde_json::Map::new();
    let mut best: Option<(Fitted, TargetFeatures)> = None;
    let scratch = out.join("candidates");
    let folder = |kind: TargetFeatures| scratch.join(json!(kind).as_str().unwrap_or("?"));
    for &kind in candidates {
        let (x_train, y_train) = target_inputs(&train, kind);
        let (x_dev, y_dev) = target_inputs(&dev, kind);
        let fitted = fit_head(
            enc,
            manifest(kind),
            (&x_train, &y_train),
            (&x_dev, &y_dev),
            fit,
            &folder(kind),
            progress,
        )?;
        per_kind.insert(
            json!(kind).as_str().unwrap_or("?").to_string(),
            json!(fitted.3),
        );
        if best.as_ref().is_none_or(|b| fitted.3 > b.0 .3) {
            best = Some((fitted, kind));
        }
    }
    let ((mut head, embedder, epoch, dev_f1, history), kind) =
        best.ok_or_else(|| "no target features to train".to_string())?;
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let top = out.join(TOP_FILE);
    match fit {
        Fit::Tuned(_) => std::fs::copy(folder(kind).join(TOP_FILE), &top)
            .map(|_| ())
            .map_err(|e| format!("{}: {e}", top.display()))?,
        Fit::Frozen(_) => removed(std::fs::remove_file(&top), &top)?,
    }
    removed(std::fs::remove_dir_all(&scratch), &scratch)?;

    let (p, y) = dev_probabilities(&head, embedder.as_ref(), kind, &dev, true, progress)?;
    let dev_contrast = figures(&p, &y);
    let lex = Lexicon::builtin();
    let maj = majority(&target_inputs(&train[..real_train], kind).1);
    let mut test_figures = Vec::new();
    for (name, set, seen) in &tests {
        let (x, y) = target_inputs(set, kind);
        let pred = argmaxes(&probabilities(
            &head,
            embedder.as_ref(),
            &x,
            kind.texts_per_example(),
            &format!("embed {name}"),
            progress,
        )?);
        let lexicon: Vec<usize> = set.iter().map(|e| lexicon_label(&lex, &e.text)).collect();
        let mut figures = score_set(name, &y, &pred, &lexicon, maj);
        figures["source_trained_on"] = json!(seen);
        test_figures.push(figures);
    }
    head.manifest.training = json!({
        "command": command,
        "data": {"sources": setup.sources,
                 "train": setup.sources.iter().map(|s| format!("{} (split train)", s.file())).collect::<Vec<_>>(),
                 "dev": setup.sources.iter().map(|s| format!("{} (split dev)", s.file())).collect::<Vec<_>>(),
                 "test": ["FinEntity.json split test", "newsmtsc/devtest_mt.jsonl", "newsmtsc/devtest_rw.jsonl"],
                 "contrast_pairs": setup.contrast_pairs,
                 "contrast_note": "each contrast pair joins two training texts whose targets have different labels into one text and keeps both targets (crates/train/src/contrast.rs); sizes.train counts the real examples, sizes.train_contrast the added ones",
                 "sizes": {"train": real_train, "train_contrast": train.len() - real_train, "dev": dev.len(),
                           "test": tests.iter().map(|(n, s, _)| (n.to_string(), s.len())).collect::<std::collections::BTreeMap<_, _>>()}},
        "fit": fit.describe(),
        "target_features_dev_macro_f1": per_kind,
        "chosen_target_features": kind,
        "seed": fit.seed(), "best_epoch": epoch,
        "dev_macro_f1": dev_f1, "dev_macro_f1_per_epoch": history,
        "dev_contrastive": dev_contrast,
        "test": test_figures,
        "seconds": started.elapsed().as_secs_f64(),
        "labels_note": "sentiment toward the entity: positive -> favor, negative -> against, neutral -> none",
    });
    head.save(out)?;
    Ok(head.manifest)
}
