//! `stancepipe train`: the classifier heads of the model stages, trained on
//! frozen sentence embeddings (all-MiniLM-L6-v2) with libtorch autograd.
//!
//! - `sentiment`: sentence sentiment (positive / negative / neutral) on
//!   Financial PhraseBank `Sentences_50Agree.txt`; used by `classify/embedding-head`.
//! - `target`: the sentiment toward one marked entity, on FinEntity plus
//!   NewsMTSC `train.jsonl`; used by `stance/target-sentiment`. Both ways of
//!   showing the target ([`TargetFeatures`]) are trained and the better one on
//!   dev is kept.
//!
//! Splits follow `../shared/data/README.md` (index % 10: 9 test, 8 dev).
//! Heads are selected on dev only; test figures are reported, next to a
//! majority-class and a lexicon (VADER) baseline, in the head's manifest.

use serde_json::json;
use stancepipe_classify::vader::{self, Lexicon};
use stancepipe_core::labels;
use stancepipe_encoder::{features, Head, Manifest, SentenceEncoder, TargetFeatures, TrainParams};
use stancepipe_eval::datasets::{self, LabeledText, Split, TargetExample};
use stancepipe_eval::ClassReport;
use std::path::{Path, PathBuf};
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

/// Embeds texts (length-sorted batches), reporting progress.
fn embed(
    encoder: &SentenceEncoder,
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

/// Trains the sentence sentiment head; writes it to `out`; returns its manifest.
pub fn train_sentiment(
    encoder: &SentenceEncoder,
    data: &DataDir,
    out: &Path,
    params: TrainParams,
    command: &str,
    progress: Progress,
) -> Result<Manifest, String> {
    let started = Instant::now();
    let fifty = data.file("phrasebank/Sentences_50Agree.txt")?;
    let all = data.file("phrasebank/Sentences_AllAgree.txt")?;
    let err = |e: datasets::DataError| e.to_string();
    let train = datasets::phrasebank(&fifty, Split::Train).map_err(err)?;
    let dev = datasets::phrasebank(&fifty, Split::Dev).map_err(err)?;
    let test = datasets::phrasebank(&fifty, Split::Test).map_err(err)?;
    let all_test = datasets::phrasebank_allagree_test(&all, &fifty).map_err(err)?;

    let texts = |v: &[LabeledText]| v.iter().map(|t| t.text.clone()).collect::<Vec<_>>();
    let ys = |v: &[LabeledText]| v.iter().map(|t| label_index(&t.label)).collect::<Vec<_>>();
    let x_train = embed(encoder, &texts(&train), "embed train", progress)?;
    let x_dev = embed(encoder, &texts(&dev), "embed dev", progress)?;
    let x_test = embed(encoder, &texts(&test), "embed test", progress)?;
    let x_all = embed(encoder, &texts(&all_test), "embed allagree test", progress)?;
    let (y_train, y_dev) = (ys(&train), ys(&dev));

    let manifest = Manifest {
        task: "sentence-sentiment".into(),
        labels: LABELS.iter().map(|s| s.to_string()).collect(),
        input_dim: 0,
        hidden: 0,
        encoder: encoder.id().to_string(),
        target_features: None,
        training: serde_json::Value::Null,
    };
    let (mut head, epoch, dev_f1) = Head::train(
        manifest,
        &x_train,
        &y_train,
        (&x_dev, &y_dev),
        params,
        macro_f1,
    );
    let lex = Lexicon::builtin();
    let maj = majority(&y_train);
    let predict = |x: &[Vec<f32>]| {
        head.predict(x)
            .iter()
            .map(|p| argmax(p))
            .collect::<Vec<_>>()
    };
    let lexicon = |v: &[LabeledText]| {
        v.iter()
            .map(|t| lexicon_label(&lex, &t.text))
            .collect::<Vec<_>>()
    };
    let tests = vec![
        score_set(
            "phrasebank-50agree-test",
            &ys(&test),
            &predict(&x_test),
            &lexicon(&test),
            maj,
        ),
        score_set(
            "phrasebank-allagree-in-test",
            &ys(&all_test),
            &predict(&x_all),
            &lexicon(&all_test),
            maj,
        ),
    ];
    head.manifest.training = json!({
        "command": command,
        "data": {"train": "phrasebank/Sentences_50Agree.txt (split train)", "dev": "same file, split dev",
                 "test": ["Sentences_50Agree.txt split test", "Sentences_AllAgree.txt sentences in the 50Agree test split"],
                 "sizes": {"train": train.len(), "dev": dev.len(), "test": test.len(), "allagree_test": all_test.len()}},
        "seed": params.seed, "epochs": params.epochs, "best_epoch": epoch, "learning_rate": params.learning_rate,
        "weight_decay": params.weight_decay, "balanced": params.balanced,
        "dev_macro_f1": dev_f1,
        "test": tests,
        "seconds": started.elapsed().as_secs_f64(),
        "labels_note": "PhraseBank labels positive/negative/neutral as given",
    });
    head.save(out)?;
    Ok(head.manifest)
}

/// A target example as class index and the texts its features come from.
fn target_inputs(v: &[TargetExample], kind: TargetFeatures) -> (Vec<String>, Vec<usize>) {
    let mut texts = Vec::new();
    for e in v {
        texts.extend(features::target_texts(kind, &e.text, e.start, e.end));
    }
    (texts, v.iter().map(|e| label_index(&e.label)).collect())
}

/// Embeds each example's texts and concatenates them into one feature row.
fn target_features(
    encoder: &SentenceEncoder,
    v: &[TargetExample],
    kind: TargetFeatures,
    what: &str,
    progress: Progress,
) -> Result<(Vec<Vec<f32>>, Vec<usize>), String> {
    let (texts, y) = target_inputs(v, kind);
    let per = texts.len() / v.len().max(1);
    let e = embed(encoder, &texts, what, progress)?;
    Ok((e.chunks(per.max(1)).map(|c| c.concat()).collect(), y))
}

/// Trains the target sentiment head (both feature kinds, the better on dev
/// is kept); writes it to `out`; returns its manifest.
pub fn train_target(
    encoder: &SentenceEncoder,
    data: &DataDir,
    out: &Path,
    params: TrainParams,
    command: &str,
    progress: Progress,
) -> Result<Manifest, String> {
    let started = Instant::now();
    let err = |e: datasets::DataError| e.to_string();
    let fe = data.file("finentity/FinEntity.json")?;
    let mt_train = data.file("newsmtsc/train.jsonl")?;
    let mut train = datasets::finentity(&fe, Split::Train).map_err(err)?;
    train.extend(datasets::newsmtsc(&mt_train, Some(Split::Train)).map_err(err)?);
    let mut dev = datasets::finentity(&fe, Split::Dev).map_err(err)?;
    dev.extend(datasets::newsmtsc(&mt_train, Some(Split::Dev)).map_err(err)?);
    let tests: Vec<(&str, Vec<TargetExample>)> = vec![
        (
            "finentity-test",
            datasets::finentity(&fe, Split::Test).map_err(err)?,
        ),
        (
            "newsmtsc-devtest_mt",
            datasets::newsmtsc(&data.file("newsmtsc/devtest_mt.jsonl")?, None).map_err(err)?,
        ),
        (
            "newsmtsc-devtest_rw",
            datasets::newsmtsc(&data.file("newsmtsc/devtest_rw.jsonl")?, None).map_err(err)?,
        ),
    ];

    // MarkedWindow's features start with Marked's: embed once, slice for Marked.
    let full = TargetFeatures::MarkedWindow;
    let (x_train, y_train) = target_features(encoder, &train, full, "embed train", progress)?;
    let (x_dev, y_dev) = target_features(encoder, &dev, full, "embed dev", progress)?;
    let dim = encoder.dim();
    let first = |x: &[Vec<f32>]| x.iter().map(|r| r[..dim].to_vec()).collect::<Vec<_>>();

    let manifest = |kind| Manifest {
        task: "target-sentiment".into(),
        labels: LABELS.iter().map(|s| s.to_string()).collect(),
        input_dim: 0,
        hidden: 0,
        encoder: encoder.id().to_string(),
        target_features: Some(kind),
        training: serde_json::Value::Null,
    };
    let (h_marked, e_marked, f_marked) = Head::train(
        manifest(TargetFeatures::Marked),
        &first(&x_train),
        &y_train,
        (&first(&x_dev), &y_dev),
        params,
        macro_f1,
    );
    let (h_window, e_window, f_window) = Head::train(
        manifest(full),
        &x_train,
        &y_train,
        (&x_dev, &y_dev),
        params,
        macro_f1,
    );
    let (mut head, kind, epoch, dev_f1) = if f_window > f_marked {
        (h_window, full, e_window, f_window)
    } else {
        (h_marked, TargetFeatures::Marked, e_marked, f_marked)
    };

    let lex = Lexicon::builtin();
    let maj = majority(&y_train);
    let mut figures = Vec::new();
    for (name, set) in &tests {
        let (x, y) = target_features(encoder, set, full, &format!("embed {name}"), progress)?;
        let x = if kind == TargetFeatures::Marked {
            first(&x)
        } else {
            x
        };
        let pred: Vec<usize> = head.predict(&x).iter().map(|p| argmax(p)).collect();
        let lexicon: Vec<usize> = set.iter().map(|e| lexicon_label(&lex, &e.text)).collect();
        figures.push(score_set(name, &y, &pred, &lexicon, maj));
    }
    head.manifest.training = json!({
        "command": command,
        "data": {"train": ["finentity/FinEntity.json (split train, by snippet)", "newsmtsc/train.jsonl (split train)"],
                 "dev": ["FinEntity.json split dev", "train.jsonl split dev"],
                 "test": ["FinEntity.json split test", "newsmtsc/devtest_mt.jsonl", "newsmtsc/devtest_rw.jsonl"],
                 "sizes": {"train": train.len(), "dev": dev.len(),
                           "test": tests.iter().map(|(n, s)| (n.to_string(), s.len())).collect::<std::collections::BTreeMap<_, _>>()}},
        "target_features_dev_macro_f1": {"marked": f_marked, "marked-window": f_window},
        "chosen_target_features": kind,
        "seed": params.seed, "epochs": params.epochs, "best_epoch": epoch, "learning_rate": params.learning_rate,
        "weight_decay": params.weight_decay, "balanced": params.balanced,
        "dev_macro_f1": dev_f1,
        "test": figures,
        "seconds": started.elapsed().as_secs_f64(),
        "labels_note": "sentiment toward the entity: positive -> favor, negative -> against, neutral -> none",
    });
    head.save(out)?;
    Ok(head.manifest)
}
