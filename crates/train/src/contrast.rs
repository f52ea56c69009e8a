//! Contrast pairs: synthetic two-clause examples that teach the target head
//! to read the sentiment toward a target from the target's own clause, not
//! from the sentence as a whole.
//!
//! Why: the head's typical error is a comparative sentence ("Unlike A, which
//! failed, B thrived"), where it gives B the sentiment of A's clause. Real
//! sentences with two targets of different labels are few in the training
//! data (about 400 of NewsMTSC's 7,758). A contrast pair joins two training
//! texts whose targets have different labels into one text ("<text 1>, while
//! <text 2>") and keeps both targets, each with its own label: the same
//! words then carry two labels, and only the marked target tells them apart.
//!
//! Only the training part is augmented; dev and test stay as the data gives
//! them, so model selection and the reported figures are on real text.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use stancepipe_eval::datasets::TargetExample;

/// Joins between the two clauses. The encoder is uncased, so the second
/// clause keeps its capital.
const JOINS: [&str; 4] = [", while ", "; ", ", whereas ", ", but "];

/// Longest text (bytes) used as a clause: pairs of short texts stay within
/// the length of a typical news sentence pair and cheap to train on.
pub const MAX_CLAUSE_BYTES: usize = 200;

/// `pairs` contrast pairs drawn from `train` with `seed` (the same inputs
/// give the same pairs): `2 * pairs` examples, each pair's two examples
/// sharing one text. Fewer when `train` has no two usable texts of
/// different labels.
pub fn pairs(train: &[TargetExample], pairs: usize, seed: u64) -> Vec<TargetExample> {
    let pool: Vec<&TargetExample> = train
        .iter()
        .filter(|e| e.text.len() <= MAX_CLAUSE_BYTES && e.start < e.end && e.end <= e.text.len())
        .collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(2 * pairs);
    if pool.len() < 2 {
        return out;
    }
    // Rejection sampling for the second clause; a bounded number of tries
    // keeps a pool with a single label from looping forever.
    let mut tries = 0;
    while out.len() < 2 * pairs && tries < 100 * pairs.max(1) {
        tries += 1;
        let a = pool[rng.gen_range(0..pool.len())];
        let b = pool[rng.gen_range(0..pool.len())];
        if a.label == b.label || a.text == b.text {
            continue;
        }
        let join = JOINS[rng.gen_range(0..JOINS.len())];
        let id = format!("contrast:{}+{}", a.id, b.id);
        out.extend(join_pair(a, b, join, &id));
    }
    out
}

/// The two examples of `first` and `second` joined by `join`: one text,
/// each target at its shifted offsets with its own label.
fn join_pair(
    first: &TargetExample,
    second: &TargetExample,
    join: &str,
    id: &str,
) -> [TargetExample; 2] {
    // Drop the first clause's final full stop (unless the target ends there).
    let head = first.text.trim_end();
    let head = match head.strip_suffix(['.', '!', '?']) {
        Some(h) if h.len() >= first.end => h,
        _ => head,
    };
    let text = format!("{head}{join}{}", second.text);
    let shift = head.len() + join.len();
    [
        TargetExample {
            id: format!("{id}#1"),
            text: text.clone(),
            start: first.start,
            end: first.end,
            label: first.label.clone(),
        },
        TargetExample {
            id: format!("{id}#2"),
            start: second.start + shift,
            end: second.end + shift,
            text,
            label: second.label.clone(),
        },
    ]
}

/// Indices of the examples whose text holds two or more targets with
/// different labels (the contrastive ones), e.g. to score a model on them.
pub fn contrastive(examples: &[TargetExample]) -> Vec<usize> {
    let mut labels: std::collections::HashMap<&str, Vec<&str>> = Default::default();
    for e in examples {
        labels.entry(&e.text).or_default().push(&e.label);
    }
    examples
        .iter()
        .enumerate()
        .filter(|(_, e)| labels[e.text.as_str()].iter().any(|l| *l != e.label))
        .map(|(i, _)| i)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(id: &str, text: &str, target: &str, label: &str) -> TargetExample {
        let start = text.find(target).unwrap();
        TargetExample {
            id: id.into(),
            text: text.into(),
            start,
            end: start + target.len(),
            label: label.into(),
        }
    }

    fn train() -> Vec<TargetExample> {
        vec![
            ex(
                "a",
                "Acme shares jumped after record profits.",
                "Acme",
                "positive",
            ),
            ex("b", "Losses widened at Globex.", "Globex", "negative"),
            ex("c", "Initech will report on Monday.", "Initech", "neutral"),
            ex("d", "Hooli beat expectations!", "Hooli", "positive"),
        ]
    }

    #[test]
    fn pairs_keep_each_target_and_its_label() {
        let out = pairs(&train(), 20, 7);
        assert_eq!(out.len(), 40);
        let originals = train();
        for pair in out.chunks(2) {
            assert_eq!(pair[0].text, pair[1].text);
            assert_ne!(pair[0].label, pair[1].label);
            for e in pair {
                let name = &e.text[e.start..e.end];
                let source = originals
                    .iter()
                    .find(|o| o.label == e.label && name == &o.text[o.start..o.end]);
                assert!(source.is_some(), "{name:?} lost its label in {:?}", e.text);
            }
            assert!(pair[1].start > pair[0].end);
            assert!(JOINS.iter().any(|j| pair[0].text.contains(j)));
        }
    }

    #[test]
    fn full_stop_between_clauses_is_dropped() {
        let t = train();
        let [first, second] = join_pair(&t[0], &t[1], ", while ", "x");
        assert_eq!(
            first.text,
            "Acme shares jumped after record profits, while Losses widened at Globex."
        );
        assert_eq!(&second.text[second.start..second.end], "Globex");
        // A target that ends the first text keeps its full stop.
        let tail = ex("e", "Profits fell at Acme.", "Acme.", "negative");
        let [kept, _] = join_pair(&tail, &t[0], "; ", "y");
        assert!(kept.text.starts_with("Profits fell at Acme.; "));
        assert_eq!(&kept.text[kept.start..kept.end], "Acme.");
    }

    #[test]
    fn same_seed_same_pairs_and_one_label_gives_none() {
        let a: Vec<String> = pairs(&train(), 10, 3).into_iter().map(|e| e.text).collect();
        let b: Vec<String> = pairs(&train(), 10, 3).into_iter().map(|e| e.text).collect();
        let c: Vec<String> = pairs(&train(), 10, 4).into_iter().map(|e| e.text).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        let one_label: Vec<TargetExample> = train()
            .into_iter()
            .filter(|e| e.label == "positive")
            .collect();
        assert!(pairs(&one_label, 5, 1).is_empty());
        let long = ex("l", &"x ".repeat(150), "x", "negative");
        assert!(pairs(&[train()[0].clone(), long], 5, 1).is_empty());
    }

    #[test]
    fn contrastive_finds_texts_with_differing_labels() {
        let mut v = train();
        v.push(ex(
            "a2",
            "Acme shares jumped after record profits.",
            "profits",
            "negative",
        ));
        v.push(ex(
            "c2",
            "Initech will report on Monday.",
            "Monday",
            "neutral",
        ));
        assert_eq!(contrastive(&v), vec![0, 4]);
    }
}
