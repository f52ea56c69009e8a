//! Checks the document-level rule of `target-sentiment` on dev data, since
//! no document-level labels exist here (besides the seed, which must not be
//! tuned on). Developer tool, used in docs/quality.md:
//!
//! ```sh
//! cargo run --release -p stancepipe-train --example dev_target -- --probs out/docrule/ensemble6.jsonl ../shared/data <head dirs...>
//! cargo run --release -p stancepipe-stance --example doc_rule_dev -- out/docrule/ensemble6.jsonl
//! ```
//!
//! It builds synthetic documents out of the target dev part (FinEntity +
//! NewsMTSC dev, never trained on): each document is about one company, has
//! `n` mentions (uniform in 3..=40), one per sentence, whose gold labels are
//! drawn from a class mix (uniform on the simplex, or leaning neutral), and
//! each mention is a random dev example of that label. The document's gold
//! stance is what the documented rule says on the *human* labels (polarity
//! +1 / -1 / 0, weight 1, threshold 0.15). The candidates apply the same
//! rule ([`stancepipe_stance::decide`]) to the heads' probabilities, as the
//! stage does ([`mention_polarity`]); the question they answer is how to read
//! a noisy, softly calibrated model so that it says what the human labels
//! would. Figures: document macro-F1 over favor / against / none.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use stancepipe_core::{labels, StanceLabel};
use stancepipe_eval::ClassReport;
use stancepipe_stance::target::{mention_polarity, MentionPolarity};
use stancepipe_stance::{decide, Rule};
use std::collections::BTreeMap;

/// One dev example: the model's class probabilities and the gold label.
struct Mention {
    probs: Vec<f32>,
    gold: usize,
}

const DOCS: usize = 2000;
const REPS: usize = 20;
const GOLD_THRESHOLD: f64 = 0.15;
const THRESHOLDS: [f64; 6] = [0.05, 0.075, 0.10, 0.125, 0.15, 0.20];

fn main() -> Result<(), String> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: doc_rule_dev <probabilities JSONL from dev_target --probs>")?;
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    let mut labels_seen: Vec<String> = Vec::new();
    let mut mentions = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| format!("{path}:{}: {e}", i + 1))?;
        let names: Vec<String> = serde_json::from_value(v["labels"].clone())
            .map_err(|e| format!("{path}:{}: labels: {e}", i + 1))?;
        if labels_seen.is_empty() {
            labels_seen = names;
        } else if labels_seen != names {
            return Err(format!("{path}:{}: labels differ from line 1", i + 1));
        }
        let probs: Vec<f32> = serde_json::from_value(v["probs"].clone())
            .map_err(|e| format!("{path}:{}: probs: {e}", i + 1))?;
        let gold = v["gold"].as_str().unwrap_or_default();
        let gold = labels_seen
            .iter()
            .position(|l| l == gold)
            .ok_or(format!("{path}:{}: unknown gold label {gold:?}", i + 1))?;
        mentions.push(Mention { probs, gold });
    }
    let index = |l: &str| labels_seen.iter().position(|x| x == l);
    let (pos, neg) = (index(labels::POSITIVE), index(labels::NEGATIVE));
    let neu = index(labels::NEUTRAL);
    let (Some(pos), Some(neg), Some(neu)) = (pos, neg, neu) else {
        return Err(format!(
            "{path}: labels must include positive, negative and neutral"
        ));
    };
    // A pool of mention indices, split by gold class (positive, negative, neutral).
    let by_class = |pool: &[usize]| -> Vec<Vec<usize>> {
        [pos, neg, neu]
            .iter()
            .map(|&c| {
                pool.iter()
                    .copied()
                    .filter(|&i| mentions[i].gold == c)
                    .collect()
            })
            .collect()
    };
    let all: Vec<usize> = (0..mentions.len()).collect();
    let counts = by_class(&all).iter().map(Vec::len).collect::<Vec<_>>();

    let mixes = [
        ("uniform", [1.0, 1.0, 1.0]),
        ("neutral-leaning", [1.0, 1.0, 3.0]),
    ];
    let candidates: Vec<(MentionPolarity, f64)> =
        [MentionPolarity::Label, MentionPolarity::Expected]
            .into_iter()
            .flat_map(|how| THRESHOLDS.map(|t| (how, t)))
            .collect();
    let current = candidates
        .iter()
        .position(|&c| c == (MentionPolarity::Label, 0.15))
        .expect("the current rule is a candidate");
    // f1[candidate][mix][repetition]
    let mut f1 = vec![vec![Vec::new(); mixes.len()]; candidates.len()];
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for _ in 0..REPS {
        // A bootstrap resample of the dev mentions: the spread over
        // repetitions is the dev sample's noise, not only the simulation's.
        let pool: Vec<usize> = (0..mentions.len())
            .map(|_| rng.gen_range(0..mentions.len()))
            .collect();
        let classes = by_class(&pool);
        for (m, (_, alpha)) in mixes.iter().enumerate() {
            let docs = documents(&classes, *alpha, &mut rng);
            let gold: Vec<StanceLabel> = docs
                .iter()
                .map(|d| {
                    let human = |i: usize| match mentions[i].gold {
                        g if g == pos => (1.0, 1.0),
                        g if g == neg => (-1.0, 1.0),
                        _ => (0.0, 1.0),
                    };
                    label(d, human, GOLD_THRESHOLD)
                })
                .collect();
            for (c, &(how, t)) in candidates.iter().enumerate() {
                let model =
                    |i: usize| mention_polarity(&mentions[i].probs, Some(pos), Some(neg), how);
                let pred: Vec<StanceLabel> = docs.iter().map(|d| label(d, model, t)).collect();
                f1[c][m].push(macro_f1(&gold, &pred));
            }
        }
    }

    println!(
        "{} dev mentions ({} positive, {} negative, {} neutral); {REPS} bootstrap resamples x {DOCS} documents per mix; gold threshold {GOLD_THRESHOLD}",
        mentions.len(),
        counts[0],
        counts[1],
        counts[2]
    );
    println!("document macro-F1 (mean over resamples) and the paired gain over the current rule (label, 0.15): mean +- sd");
    println!("mention_polarity threshold  uniform  neutral-leaning  both   gain vs current");
    let both = |c: usize, r: usize| {
        (0..mixes.len()).map(|m| f1[c][m][r]).sum::<f64>() / mixes.len() as f64
    };
    for (c, &(how, t)) in candidates.iter().enumerate() {
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let gains: Vec<f64> = (0..REPS).map(|r| both(c, r) - both(current, r)).collect();
        let g = mean(&gains);
        let sd = (gains.iter().map(|x| (x - g).powi(2)).sum::<f64>() / (REPS - 1) as f64).sqrt();
        let all: Vec<f64> = (0..REPS).map(|r| both(c, r)).collect();
        println!(
            "{:<16} {t:<9}  {:.3}    {:.3}            {:.3}  {g:+.4} +- {sd:.4}",
            format!("{how:?}").to_lowercase(),
            mean(&f1[c][0]),
            mean(&f1[c][1]),
            mean(&all),
        );
    }
    Ok(())
}

/// The rule as the stage applies it to a document's mentions (one per
/// sentence), each read as (polarity, weight) by `read`. min_mentions is 3;
/// every document here has at least 3 mentions, so only the threshold decides.
fn label(doc: &[usize], read: impl Fn(usize) -> (f32, f32), threshold: f64) -> StanceLabel {
    let evidence: BTreeMap<usize, (f32, f32)> =
        doc.iter().enumerate().map(|(s, &i)| (s, read(i))).collect();
    let rule = Rule {
        min_mentions: 3,
        threshold,
        max_evidence: 0,
    };
    // One mention a sentence, and nothing but mentions.
    decide("doc", &evidence, doc.len(), doc.len(), rule).stance
}

/// Synthetic documents as lists of mention indices.
fn documents(by_class: &[Vec<usize>], alpha: [f64; 3], rng: &mut ChaCha8Rng) -> Vec<Vec<usize>> {
    (0..DOCS)
        .map(|_| {
            let mix = dirichlet(rng, alpha);
            let n = rng.gen_range(3..=40);
            (0..n)
                .map(|_| {
                    let u: f64 = rng.gen();
                    let class = if u < mix[0] {
                        0
                    } else if u < mix[0] + mix[1] {
                        1
                    } else {
                        2
                    };
                    let pool = &by_class[class];
                    pool[rng.gen_range(0..pool.len())]
                })
                .collect()
        })
        .collect()
}

/// A Dirichlet draw for integer `alpha` (a sum of exponentials is a Gamma).
fn dirichlet(rng: &mut ChaCha8Rng, alpha: [f64; 3]) -> [f64; 3] {
    let gamma = |rng: &mut ChaCha8Rng, a: f64| -> f64 {
        (0..a as usize)
            .map(|_| -(1.0 - rng.gen::<f64>()).ln())
            .sum()
    };
    let g = alpha.map(|a| gamma(rng, a));
    let sum: f64 = g.iter().sum();
    g.map(|x| x / sum)
}

/// Document macro-F1 over favor / against / none.
fn macro_f1(gold: &[StanceLabel], pred: &[StanceLabel]) -> f64 {
    let pairs: Vec<(String, String)> = gold
        .iter()
        .zip(pred)
        .map(|(g, p)| (g.as_str().to_string(), p.as_str().to_string()))
        .collect();
    ClassReport::new(&["favor", "against", "none"], &pairs).macro_f1
}
