//! Classification metrics, computed as scikit-learn computes them
//! (precision or recall with a zero denominator is 0).

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassScore {
    pub label: String,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Gold items of this class.
    pub support: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassReport {
    pub classes: Vec<ClassScore>,
    pub accuracy: f64,
    /// Unweighted mean of the per-class F1.
    pub macro_f1: f64,
    /// `confusion[gold][predicted]` in the order of `labels`; a last column
    /// counts predictions outside the label set (missing outputs).
    pub confusion: Vec<Vec<usize>>,
    pub labels: Vec<String>,
    pub support: usize,
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

impl ClassReport {
    /// Scores (gold, predicted) pairs over `labels`.
    pub fn new(labels: &[&str], pairs: &[(String, String)]) -> Self {
        let k = labels.len();
        let index = |l: &str| labels.iter().position(|x| *x == l);
        let mut confusion = vec![vec![0usize; k + 1]; k];
        let mut correct = 0;
        for (g, p) in pairs {
            correct += usize::from(g == p);
            if let Some(gi) = index(g) {
                confusion[gi][index(p).unwrap_or(k)] += 1;
            }
        }
        let classes: Vec<ClassScore> = labels
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let tp = confusion[i][i];
                let gold: usize = confusion[i].iter().sum();
                let predicted: usize = confusion.iter().map(|row| row[i]).sum();
                let precision = ratio(tp, predicted);
                let recall = ratio(tp, gold);
                let f1 = if precision + recall == 0.0 {
                    0.0
                } else {
                    2.0 * precision * recall / (precision + recall)
                };
                ClassScore {
                    label: l.to_string(),
                    precision,
                    recall,
                    f1,
                    support: gold,
                }
            })
            .collect();
        let macro_f1 = if k == 0 {
            0.0
        } else {
            classes.iter().map(|c| c.f1).sum::<f64>() / k as f64
        };
        ClassReport {
            accuracy: ratio(correct, pairs.len()),
            macro_f1,
            classes,
            confusion,
            labels: labels.iter().map(|l| l.to_string()).collect(),
            support: pairs.len(),
        }
    }

    pub fn class(&self, label: &str) -> Option<&ClassScore> {
        self.classes.iter().find(|c| c.label == label)
    }

    /// SemEval-2016 Task 6's F_avg: the mean of the favor and against F1.
    pub fn f_avg(&self) -> Option<f64> {
        Some((self.class("favor")?.f1 + self.class("against")?.f1) / 2.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn matches_hand_computed_values() {
        // gold:  a a a b b c ; pred: a a b b c c
        let p = pairs(&[
            ("a", "a"),
            ("a", "a"),
            ("a", "b"),
            ("b", "b"),
            ("b", "c"),
            ("c", "c"),
        ]);
        let r = ClassReport::new(&["a", "b", "c"], &p);
        let a = r.class("a").unwrap();
        assert_eq!((a.precision, a.recall), (1.0, 2.0 / 3.0));
        assert!((a.f1 - 0.8).abs() < 1e-12);
        let b = r.class("b").unwrap();
        assert_eq!((b.precision, b.recall, b.f1), (0.5, 0.5, 0.5));
        let c = r.class("c").unwrap();
        assert!((c.f1 - 2.0 / 3.0).abs() < 1e-12);
        assert!((r.macro_f1 - (0.8 + 0.5 + 2.0 / 3.0) / 3.0).abs() < 1e-12);
        assert!((r.accuracy - 4.0 / 6.0).abs() < 1e-12);
        assert_eq!(r.confusion[0], vec![2, 1, 0, 0]);
    }

    #[test]
    fn unknown_predictions_are_wrong_and_f_avg() {
        let p = pairs(&[("favor", "favor"), ("against", "missing"), ("none", "none")]);
        let r = ClassReport::new(&["favor", "against", "none"], &p);
        assert_eq!(r.confusion[1], vec![0, 0, 0, 1]);
        assert_eq!(r.class("against").unwrap().f1, 0.0);
        assert_eq!(r.f_avg(), Some(0.5));
    }
}
