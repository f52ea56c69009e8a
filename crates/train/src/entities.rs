//! `stancepipe train entities`: the organization recognizer of the tokenize
//! stage's `discover` option ([`stancepipe_encoder::tagger`]), trained on
//! FiNER-ORD's train part (PER, LOC and ORG tags: the other types teach the
//! recognizer what is not a company), the epoch chosen by ORG F1 on its val
//! part (the data README's dev), scored on its test part next to the
//! capitalized-phrase baseline. Entity-level figures with exact spans, as
//! seqeval counts them.

use crate::{DataDir, Encoder, Progress};
use serde_json::json;
use stancepipe_encoder::tagger::{self, Params, TagExample, Tagger, ORG, TAGS};
use stancepipe_encoder::{Adapt, Embed, Manifest};
use stancepipe_eval::datasets::{self, TaggedSentence};
use stancepipe_tokenize::discover::capitalized_phrases;
use std::collections::HashSet;
use std::path::Path;
use std::time::Instant;

/// Entity-level precision, recall and F1 (exact spans).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct SpanScores {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub gold: usize,
    pub predicted: usize,
    pub correct: usize,
}

/// Scores predicted spans against gold spans, sentence by sentence.
pub fn span_scores(gold: &[Vec<(usize, usize)>], pred: &[Vec<(usize, usize)>]) -> SpanScores {
    let (mut g, mut p, mut c) = (0, 0, 0);
    for (gs, ps) in gold.iter().zip(pred) {
        let set: HashSet<&(usize, usize)> = gs.iter().collect();
        g += gs.len();
        p += ps.len();
        c += ps.iter().filter(|s| set.contains(s)).count();
    }
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let (precision, recall) = (ratio(c, p), ratio(c, g));
    let f1 = if precision + recall == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    };
    SpanScores {
        precision,
        recall,
        f1,
        gold: g,
        predicted: p,
        correct: c,
    }
}

fn orgs(s: &TaggedSentence) -> Vec<(usize, usize)> {
    s.entities
        .iter()
        .filter(|e| e.2 == ORG)
        .map(|&(a, b, _)| (a, b))
        .collect()
}

fn examples(v: &[TaggedSentence]) -> Vec<TagExample> {
    v.iter()
        .map(|s| TagExample {
            text: s.text.clone(),
            entities: s.entities.clone(),
        })
        .collect()
}

/// The default fit: rank-8 LoRA adapters on all six layers, as the stance model.
pub fn default_params(seed: i64, epochs: usize, batch: usize) -> Params {
    Params {
        layers: 6,
        adapt: Adapt::Lora(8),
        epochs,
        batch,
        lr_encoder: 5e-4,
        lr_head: 1e-3,
        weight_decay: 0.01,
        seed,
    }
}

/// Trains the recognizer into `out` and returns its manifest (figures in
/// `training`).
pub fn train_entities(
    enc: &Encoder,
    data: &DataDir,
    out: &Path,
    params: Params,
    command: &str,
    progress: Progress,
) -> Result<Manifest, String> {
    let started = Instant::now();
    let read = |part: &str| -> Result<Vec<TaggedSentence>, String> {
        datasets::finer_ord(&data.file(&format!("finer_ord/{part}.csv"))?)
            .map_err(|e| e.to_string())
    };
    let (train, dev, test) = (read("train")?, read("val")?, read("test")?);
    let dev_gold: Vec<Vec<(usize, usize)>> = dev.iter().map(orgs).collect();
    let trained = tagger::fine_tune(
        enc.base.clone(),
        enc.repo,
        (&examples(&train), &examples(&dev)),
        params,
        |pred| span_scores(&dev_gold, pred).f1,
        progress,
    )?;
    trained.save(out)?;
    let dim = trained.encoder.dim();
    let (epoch, history) = (trained.epoch, trained.history.clone());
    drop(trained);
    let mut manifest = Manifest {
        task: tagger::TASK.into(),
        labels: TAGS.iter().map(|s| s.to_string()).collect(),
        input_dim: dim + tagger::CASE_FEATURES,
        hidden: 256,
        encoder: enc.base.id().to_string(),
        target_features: None,
        tuned_layers: params.layers,
        lora_rank: params.adapt.rank(),
        one_pass: true,
        context_tokens: 0,
        attend_tokens: 0,
        encoder_top: None,
        training: serde_json::Value::Null,
    };
    write_manifest(out, &manifest)?;
    // Figures from the stored files, loaded as the tokenize stage loads them.
    progress("score dev and test", 0, 0);
    let stored = Tagger::load(enc.base.clone(), enc.repo, out)?;
    let score = |set: &[TaggedSentence]| -> Result<(SpanScores, SpanScores), String> {
        let texts: Vec<&str> = set.iter().map(|s| s.text.as_str()).collect();
        let pred = stored.organizations(&texts)?;
        let gold: Vec<Vec<(usize, usize)>> = set.iter().map(orgs).collect();
        let base: Vec<Vec<(usize, usize)>> = texts.iter().map(|t| capitalized_phrases(t)).collect();
        Ok((span_scores(&gold, &pred), span_scores(&gold, &base)))
    };
    let (dev_model, dev_base) = score(&dev)?;
    let (test_model, test_base) = score(&test)?;
    manifest.training = json!({
        "command": command,
        "data": {
            "train": "finer_ord/train.csv", "dev": "finer_ord/val.csv", "test": "finer_ord/test.csv",
            "sentences": {"train": train.len(), "dev": dev.len(), "test": test.len()},
            "note": "FiNER-ORD tokens joined into text (no space before punctuation and clitics); PER, LOC and ORG tags trained, ORG scored",
        },
        "fit": {"method": format!("rank-{} LoRA adapters on the top {} layers and a tagging head over [token state, 4 case features] (hidden 256)", params.adapt.rank(), params.layers),
                "epochs": params.epochs, "batch": params.batch, "lr_encoder": params.lr_encoder,
                "lr_head": params.lr_head, "weight_decay": params.weight_decay, "seed": params.seed,
                "selection": "best epoch (0: head alone) by ORG F1 on FiNER-ORD val, exact spans"},
        "best_epoch": epoch,
        "dev_org_f1_per_epoch": history,
        "org": {
            "dev": {"model": dev_model, "capitalized_phrases": dev_base},
            "test": {"model": test_model, "capitalized_phrases": test_base},
        },
        "seconds": started.elapsed().as_secs_f64(),
    });
    write_manifest(out, &manifest)?;
    Ok(manifest)
}

fn write_manifest(dir: &Path, m: &Manifest) -> Result<(), String> {
    let p = dir.join("manifest.json");
    let text = serde_json::to_string_pretty(m).map_err(|e| e.to_string())?;
    std::fs::write(&p, text + "\n").map_err(|e| format!("{}: {e}", p.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_count_only_when_exact() {
        let gold = vec![vec![(0, 5), (10, 15)], vec![]];
        let pred = vec![vec![(0, 5), (10, 14)], vec![(1, 2)]];
        let s = span_scores(&gold, &pred);
        assert_eq!((s.gold, s.predicted, s.correct), (2, 3, 1));
        assert!((s.precision - 1.0 / 3.0).abs() < 1e-9);
        assert!((s.recall - 0.5).abs() < 1e-9);
        assert!((s.f1 - 0.4).abs() < 1e-9);
        assert_eq!(span_scores(&[vec![]], &[vec![]]).f1, 0.0);
    }
}
