//! ROUGE-1, ROUGE-2, ROUGE-L and ROUGE-Lsum computed as Google's
//! `rouge-score` 0.1.2 computes them with
//! `RougeScorer([...], use_stemmer=True)` and `scorer.score(reference,
//! prediction)`, so that figures can be compared with published ones.
//! Agreement within 1e-6 on every pair of `tests/fixtures/rouge/pairs.json`
//! is checked by `tests/rouge_fixture.rs`.
//!
//! Tokenization (rouge-score's `tokenize.tokenize`): Unicode lowercase,
//! every run of characters outside `[a-z0-9]` becomes a space, split on
//! whitespace, Porter-stem tokens longer than 3 characters ([`crate::porter`],
//! nltk's variant), drop empty tokens. ROUGE-Lsum splits both texts on `\n`
//! (empty lines dropped) and scores the summary-level union LCS with clipped
//! token counts; a text without newlines gives the same value as ROUGE-L.

use crate::porter;
use serde::Serialize;
use std::collections::HashMap;

/// Precision, recall and F1 of one ROUGE variant for one pair.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Score {
    pub precision: f64,
    pub recall: f64,
    pub fmeasure: f64,
}

impl Score {
    fn new(precision: f64, recall: f64) -> Self {
        let fmeasure = if precision + recall > 0.0 {
            2.0 * precision * recall / (precision + recall)
        } else {
            0.0
        };
        Score {
            precision,
            recall,
            fmeasure,
        }
    }
}

/// The four variants for one (reference, prediction) pair.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct RougeScores {
    pub rouge1: Score,
    pub rouge2: Score,
    pub rouge_l: Score,
    pub rouge_lsum: Score,
}

impl RougeScores {
    /// The variants by their rouge-score names, in report order.
    pub fn named(&self) -> [(&'static str, Score); 4] {
        [
            ("rouge1", self.rouge1),
            ("rouge2", self.rouge2),
            ("rougeL", self.rouge_l),
            ("rougeLsum", self.rouge_lsum),
        ]
    }
}

/// rouge-score's tokenizer with the stemmer on.
pub fn tokenize(text: &str) -> Vec<String> {
    let lower = text.to_lowercase();
    let cleaned: String = lower
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                c
            } else {
                ' '
            }
        })
        .collect();
    cleaned
        .split_whitespace()
        .map(|t| {
            if t.len() > 3 {
                porter::stem(t)
            } else {
                t.to_string()
            }
        })
        .filter(|t| !t.is_empty())
        .collect()
}

/// The tokens of each non-empty `\n`-separated line (what ROUGE-Lsum uses).
pub fn tokenize_lines(text: &str) -> Vec<Vec<String>> {
    text.split('\n')
        .filter(|l| !l.is_empty())
        .map(tokenize)
        .collect()
}

fn ngrams(tokens: &[String], n: usize) -> HashMap<&[String], usize> {
    let mut counts = HashMap::new();
    if tokens.len() >= n {
        for w in tokens.windows(n) {
            *counts.entry(w).or_insert(0) += 1;
        }
    }
    counts
}

fn score_ngrams(reference: &[String], prediction: &[String], n: usize) -> Score {
    let (r, p) = (ngrams(reference, n), ngrams(prediction, n));
    let overlap: usize = r
        .iter()
        .map(|(g, c)| (*c).min(p.get(g).copied().unwrap_or(0)))
        .sum();
    let (rn, pn): (usize, usize) = (r.values().sum(), p.values().sum());
    Score::new(
        overlap as f64 / pn.max(1) as f64,
        overlap as f64 / rn.max(1) as f64,
    )
}

fn lcs_table(a: &[String], b: &[String]) -> Vec<Vec<usize>> {
    let mut t = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            t[i][j] = if a[i - 1] == b[j - 1] {
                t[i - 1][j - 1] + 1
            } else {
                t[i - 1][j].max(t[i][j - 1])
            };
        }
    }
    t
}

fn score_lcs(reference: &[String], prediction: &[String]) -> Score {
    if reference.is_empty() || prediction.is_empty() {
        return Score::default();
    }
    let lcs = lcs_table(reference, prediction)[reference.len()][prediction.len()] as f64;
    Score::new(lcs / prediction.len() as f64, lcs / reference.len() as f64)
}

/// Indices into `reference` of one LCS with `candidate`, read out the way
/// rouge-score's `_backtrack_norec` does (which LCS is chosen matters for the
/// union).
fn lcs_indices(reference: &[String], candidate: &[String]) -> Vec<usize> {
    let t = lcs_table(reference, candidate);
    let (mut i, mut j) = (reference.len(), candidate.len());
    let mut out = Vec::new();
    while i > 0 && j > 0 {
        if reference[i - 1] == candidate[j - 1] {
            out.push(i - 1);
            i -= 1;
            j -= 1;
        } else if t[i][j - 1] > t[i - 1][j] {
            j -= 1;
        } else {
            i -= 1;
        }
    }
    out.reverse();
    out
}

fn score_lsum(reference: &[Vec<String>], prediction: &[Vec<String>]) -> Score {
    let m: usize = reference.iter().map(Vec::len).sum();
    let n: usize = prediction.iter().map(Vec::len).sum();
    if reference.is_empty() || prediction.is_empty() || m == 0 || n == 0 {
        return Score::default();
    }
    let mut count_r: HashMap<&str, usize> = HashMap::new();
    let mut count_p: HashMap<&str, usize> = HashMap::new();
    for t in reference.iter().flatten() {
        *count_r.entry(t.as_str()).or_insert(0) += 1;
    }
    for t in prediction.iter().flatten() {
        *count_p.entry(t.as_str()).or_insert(0) += 1;
    }
    let mut hits = 0usize;
    for r in reference {
        let mut union: Vec<usize> = prediction.iter().flat_map(|c| lcs_indices(r, c)).collect();
        union.sort_unstable();
        union.dedup();
        for i in union {
            let t = r[i].as_str();
            let (cr, cp) = (count_r.get_mut(t), count_p.get_mut(t));
            if let (Some(cr), Some(cp)) = (cr, cp) {
                if *cr > 0 && *cp > 0 {
                    hits += 1;
                    *cr -= 1;
                    *cp -= 1;
                }
            }
        }
    }
    Score::new(hits as f64 / n as f64, hits as f64 / m as f64)
}

/// Scores `prediction` against `reference` (rouge-score's argument order is
/// `score(target, prediction)`).
pub fn score(reference: &str, prediction: &str) -> RougeScores {
    let (r, p) = (tokenize(reference), tokenize(prediction));
    RougeScores {
        rouge1: score_ngrams(&r, &p, 1),
        rouge2: score_ngrams(&r, &p, 2),
        rouge_l: score_lcs(&r, &p),
        rouge_lsum: score_lsum(&tokenize_lines(reference), &tokenize_lines(prediction)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed() {
        // ref: the cat sat on the mat / pred: the cat on the mat
        let s = score("The cat sat on the mat.", "the cat on the mat");
        assert_eq!(s.rouge1.precision, 1.0);
        assert!((s.rouge1.recall - 5.0 / 6.0).abs() < 1e-12);
        // bigrams: ref 5, pred 4, common: "the cat", "on the", "the mat" = 3
        assert!((s.rouge2.precision - 0.75).abs() < 1e-12);
        assert!((s.rouge2.recall - 0.6).abs() < 1e-12);
        assert!((s.rouge_l.recall - 5.0 / 6.0).abs() < 1e-12);
        assert_eq!(s.rouge_l, s.rouge_lsum);
        assert_eq!(score("", "x").rouge1.fmeasure, 0.0);
        assert_eq!(
            tokenize("Running, the CAT's 3.5%!"),
            ["run", "the", "cat", "s", "3", "5"]
        );
    }
}
