//! `stancepipe train document`: the stance stage's document-level decision
//! learned from document labels (PerSenT `dev.csv`: the author's sentiment
//! toward each article's main entity, mapped to favor / against / none).
//!
//! The articles go through the tokenize stage (sentences, mentions and,
//! when asked, references) and the target model of the stance stage, as in
//! `stancepipe eval`; each article's readings of its main entity become the
//! features of [`stancepipe_stance::document`], and a multinomial logistic
//! regression over them is fitted on PerSenT's train part, its weight decay
//! chosen on the dev part (README split rule), and the test part reported,
//! next to the rule of `stance::decide` on the same readings.

use crate::{report, summary, Progress};
use serde_json::json;
use stancepipe_core::{BuildContext, Doc, Stage, StageConfig, StanceLabel};
use stancepipe_eval::corpus::{self, GoldFormat};
use stancepipe_eval::{GoldDoc, Split};
use stancepipe_stance::document::{features, Aggregator, MentionProbs, FEATURES};
use stancepipe_stance::target::{mention_polarity, MentionPolarity, TargetModel};
use stancepipe_stance::{decide, Rule};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use tch::nn::{self, Module, OptimizerConfig};
use tch::{Device, Kind, Tensor};

/// The labels of the fitted decision, in logit order.
const LABELS: [StanceLabel; 3] = [StanceLabel::Favor, StanceLabel::Against, StanceLabel::None];

/// What the fit reads the articles with.
pub struct DocumentSetup {
    /// `encoder` and `head` as the stance stage takes them.
    pub encoder: String,
    pub heads: Vec<PathBuf>,
    pub tokenizer: PathBuf,
    /// Attach references ("he", "it", "the company") to the entity.
    pub references: bool,
    /// The rule's settings, for the comparison (the default pipeline's).
    pub rule: Rule,
    pub seed: i64,
}

/// The stance stage's default rule (the comparison the fit reports).
pub fn default_rule() -> Rule {
    let d = stancepipe_stance::target::TargetSentimentConfig::default();
    Rule {
        min_mentions: d.min_mentions,
        threshold: d.threshold,
        max_evidence: d.max_evidence,
    }
}

/// One article's main entity: its features, the rule's label on the same
/// readings, and the gold label.
struct Row {
    x: Vec<f32>,
    rule: StanceLabel,
    gold: StanceLabel,
}

fn class(l: StanceLabel) -> usize {
    LABELS.iter().position(|x| *x == l).unwrap_or(2)
}

/// PerSenT's `split` part and a tokenize stage (built from `config`) that
/// tracks each article's main entity as a company, as `eval` does.
pub(crate) fn persent_part(
    file: &Path,
    split: Split,
    config: &stancepipe_tokenize::TokenizeConfig,
) -> Result<(Vec<GoldDoc>, Box<dyn Stage>), String> {
    let set =
        corpus::load(file, Some(GoldFormat::Persent), Some(split)).map_err(|e| e.to_string())?;
    let ctx = BuildContext {
        base_dir: PathBuf::from("."),
        companies: corpus::companies(&[], &set.docs),
    };
    let tokenize = config
        .build(&ctx)
        .map_err(|e| format!("tokenize: {}: {}", e.key, e.message))?;
    Ok((set.docs, tokenize))
}

/// A gold article as the pipeline first sees it: its text, no annotation.
pub(crate) fn unread(g: &GoldDoc) -> Doc {
    Doc::new(g.id.clone(), g.text.clone().unwrap_or_default())
}

/// Reads one part of PerSenT through the tokenize stage and the target
/// model; one row per article.
fn rows(
    file: &Path,
    split: Split,
    setup: &DocumentSetup,
    model: &TargetModel,
    progress: Progress,
) -> Result<Vec<Row>, String> {
    let (gold, tokenize) = persent_part(
        file,
        split,
        &stancepipe_tokenize::TokenizeConfig {
            tokenizer: Some(setup.tokenizer.clone()),
            references: setup.references,
            ..Default::default()
        },
    )?;
    let labels = model.labels().to_vec();
    let at = |name: &str| labels.iter().position(|l| l == name);
    let (pos, neg, neu) = (
        at(stancepipe_core::labels::POSITIVE),
        at(stancepipe_core::labels::NEGATIVE),
        at(stancepipe_core::labels::NEUTRAL),
    );
    let prob = |p: &[f32], i: Option<usize>| i.map_or(0.0, |i| p[i]);
    let mut out = Vec::with_capacity(gold.len());
    for (k, chunk) in gold.chunks(32).enumerate() {
        let mut docs: Vec<Doc> = chunk.iter().map(unread).collect();
        tokenize.process(&mut docs).map_err(|e| e.to_string())?;
        let (items, probs) = model.read(&docs, 64).map_err(|e| e.to_string())?;
        for (d, (doc, g)) in docs.iter().zip(chunk).enumerate() {
            let Some(entity) = g.entities.first() else {
                continue;
            };
            let Some(gold_label) = entity.stance else {
                continue;
            };
            let ranks: HashMap<usize, usize> = doc
                .content_sentences()
                .enumerate()
                .map(|(r, s)| (s, r))
                .collect();
            let content = ranks.len();
            let mut readings = Vec::new();
            let mut sums: BTreeMap<usize, (f32, f32, f32)> = BTreeMap::new();
            for (item, p) in items.iter().zip(&probs) {
                if item.doc != d || item.company != entity.name {
                    continue;
                }
                readings.push(MentionProbs {
                    rank: ranks.get(&item.sentence).copied().unwrap_or(0),
                    pos: prob(p, pos),
                    neg: prob(p, neg),
                    neu: prob(p, neu),
                });
                let (polarity, weight) = mention_polarity(p, pos, neg, MentionPolarity::Label);
                let e = sums.entry(item.sentence).or_default();
                e.0 += weight * polarity;
                e.1 += weight;
                e.2 += 1.0;
            }
            let evidence: BTreeMap<usize, (f32, f32)> = sums
                .into_iter()
                .map(|(s, (wp, w, n))| (s, (if w > 0.0 { wp / w } else { 0.0 }, w / n)))
                .collect();
            let mentions = readings.len();
            let rule = decide(&entity.name, &evidence, mentions, content, setup.rule).stance;
            out.push(Row {
                x: features(&readings, content),
                rule,
                gold: gold_label,
            });
        }
        progress(
            &format!("read PerSenT {split}"),
            ((k + 1) * 32).min(gold.len()),
            gold.len(),
        );
    }
    Ok(out)
}

/// Mean and standard deviation of each feature over `rows`.
fn standardization(rows: &[Row]) -> (Vec<f32>, Vec<f32>) {
    let n = rows.len().max(1) as f32;
    let f = FEATURES.len();
    let mean: Vec<f32> = (0..f)
        .map(|j| rows.iter().map(|r| r.x[j]).sum::<f32>() / n)
        .collect();
    let scale = (0..f)
        .map(|j| {
            let v = rows.iter().map(|r| (r.x[j] - mean[j]).powi(2)).sum::<f32>() / n;
            if v > 0.0 {
                v.sqrt()
            } else {
                1.0
            }
        })
        .collect();
    (mean, scale)
}

/// A class-balanced multinomial logistic regression with weight decay `wd`.
fn fit(rows: &[Row], mean: &[f32], scale: &[f32], wd: f64, seed: i64) -> Aggregator {
    tch::manual_seed(seed);
    let f = FEATURES.len();
    let x: Vec<f32> = rows
        .iter()
        .flat_map(|r| (0..f).map(|j| (r.x[j] - mean[j]) / scale[j]))
        .collect();
    let x = Tensor::from_slice(&x).view([rows.len() as i64, f as i64]);
    let y: Vec<i64> = rows.iter().map(|r| class(r.gold) as i64).collect();
    let mut counts = [0f32; 3];
    y.iter().for_each(|&c| counts[c as usize] += 1.0);
    let w: Vec<f32> = counts
        .iter()
        .map(|&c| rows.len() as f32 / (3.0 * c.max(1.0)))
        .collect();
    let (y, w) = (Tensor::from_slice(&y), Tensor::from_slice(&w));
    let vs = nn::VarStore::new(Device::Cpu);
    let lin = nn::linear(vs.root() / "out", f as i64, 3, Default::default());
    let mut opt = nn::AdamW::default()
        .wd(wd)
        .build(&vs, 0.05)
        .expect("optimizer");
    for _ in 0..500 {
        let loss =
            lin.forward(&x)
                .cross_entropy_loss(&y, Some(&w), tch::Reduction::Mean, -100, 0.0);
        opt.zero_grad();
        loss.backward();
        opt.step();
    }
    let rows_of = |t: &Tensor| {
        Vec::<Vec<f32>>::try_from(&t.detach().to_kind(Kind::Float)).unwrap_or_default()
    };
    Aggregator {
        features: FEATURES.iter().map(|s| s.to_string()).collect(),
        mean: mean.to_vec(),
        scale: scale.to_vec(),
        labels: LABELS.to_vec(),
        weights: rows_of(&lin.ws),
        bias: lin
            .bs
            .as_ref()
            .map(|b| Vec::<f32>::try_from(&b.detach()).unwrap_or_default())
            .unwrap_or_else(|| vec![0.0; 3]),
        fitted: serde_json::Value::Null,
    }
}

/// Macro-F1 figures of predicted against gold labels.
fn scored(gold: &[StanceLabel], pred: &[StanceLabel]) -> serde_json::Value {
    let g: Vec<usize> = gold.iter().map(|&l| class(l)).collect();
    let p: Vec<usize> = pred.iter().map(|&l| class(l)).collect();
    // `report` names classes positive/negative/neutral, which here mean
    // favor/against/none (same order).
    summary(&report(&g, &p))
}

/// Fits the aggregator on PerSenT's train part, chooses its weight decay on
/// the dev part, reports the test part next to the rule, and writes it to
/// `out` (JSON). Returns what was measured.
pub fn train_document(
    data: &Path,
    setup: &DocumentSetup,
    out: &Path,
    command: &str,
    progress: Progress,
) -> Result<serde_json::Value, String> {
    let started = std::time::Instant::now();
    let file = data.join("persent/dev.csv");
    if !file.is_file() {
        return Err(format!(
            "{} not found (is --data ../shared/data?)",
            file.display()
        ));
    }
    let ctx = BuildContext {
        base_dir: PathBuf::from("."),
        companies: Vec::new(),
    };
    let model = TargetModel::load(&setup.encoder, &setup.heads, &ctx)
        .map_err(|e| format!("head: {}", e.message))?;
    let train = rows(&file, Split::Train, setup, &model, progress)?;
    let dev = rows(&file, Split::Dev, setup, &model, progress)?;
    let test = rows(&file, Split::Test, setup, &model, progress)?;
    let (mean, scale) = standardization(&train);
    let gold = |r: &[Row]| r.iter().map(|r| r.gold).collect::<Vec<_>>();
    let rule = |r: &[Row]| r.iter().map(|r| r.rule).collect::<Vec<_>>();
    let predict =
        |a: &Aggregator, r: &[Row]| r.iter().map(|r| a.decide(&r.x).0).collect::<Vec<_>>();
    let mut candidates = Vec::new();
    let mut best: Option<(f64, f64, Aggregator)> = None;
    // Strongest regularization first, so that a tie keeps the simpler fit.
    for wd in [1.0, 0.3, 0.1, 0.03, 0.01, 0.0] {
        let a = fit(&train, &mean, &scale, wd, setup.seed);
        let f1 = scored(&gold(&dev), &predict(&a, &dev))["macro_f1"]
            .as_f64()
            .unwrap_or(0.0);
        candidates.push(json!({"weight_decay": wd, "dev_macro_f1": f1}));
        if best.as_ref().is_none_or(|b| f1 > b.0) {
            best = Some((f1, wd, a));
        }
    }
    let (dev_f1, wd, mut agg) = best.ok_or("nothing was fitted")?;
    let figures = json!({
        "learned": {
            "train": scored(&gold(&train), &predict(&agg, &train)),
            "dev": scored(&gold(&dev), &predict(&agg, &dev)),
            "test": scored(&gold(&test), &predict(&agg, &test)),
        },
        "rule": {
            "settings": {"min_mentions": setup.rule.min_mentions, "threshold": setup.rule.threshold},
            "train": scored(&gold(&train), &rule(&train)),
            "dev": scored(&gold(&dev), &rule(&dev)),
            "test": scored(&gold(&test), &rule(&test)),
        },
        "majority_favor_test": scored(&gold(&test), &vec![StanceLabel::Favor; test.len()]),
    });
    agg.fitted = json!({
        "command": command,
        "data": "persent/dev.csv split by the README rule (index % 10: 8 dev, 9 test, else train); TRUE_SENTIMENT toward TARGET_ENTITY mapped positive -> favor, negative -> against, neutral -> none",
        "sizes": {"train": train.len(), "dev": dev.len(), "test": test.len()},
        "heads": setup.heads.iter().map(|h| h.display().to_string()).collect::<Vec<_>>(),
        "references": setup.references,
        "selection": {"candidates": candidates, "chosen_weight_decay": wd, "dev_macro_f1": dev_f1},
        "figures": figures,
        "labels_note": "labels are the stance labels favor/against/none; the per_class_f1 keys positive/negative/neutral mean favor/against/none",
        "seconds": started.elapsed().as_secs_f64(),
    });
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(
        out,
        serde_json::to_string_pretty(&agg).map_err(|e| e.to_string())?,
    )
    .map_err(|e| format!("{}: {e}", out.display()))?;
    Ok(agg.fitted.clone())
}
