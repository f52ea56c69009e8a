//! Measures the reference rule (`references` / `reference_words` of the
//! tokenize stage) on PerSenT: `MASKED_DOCUMENT` replaces every mention of
//! the article's main entity, names and pronouns, by `[TGT]`.
//!
//! For each article (never the test part, index % 10 == 9) the entity is
//! tracked with aliases = its full name and its last word (when that has at
//! least 3 chars and starts with a capital), the tokenize stage's sentences,
//! name mentions and references are computed, and the references are scored
//! against the `[TGT]` spans that are not name mentions: a reference is right
//! when it overlaps such a span; such a span is found when a reference
//! overlaps it. Articles whose masking is incomplete (a name mention the
//! finder sees is not masked) are not scored. Train = index % 10 < 8, dev =
//! index % 10 == 8. `--show N` prints N wrong references of the train part.
//!
//! ```text
//! cargo run --release -p stancepipe-tokenize --example references_persent -- \
//!     [../shared/data/persent/dev.csv] [--words it,its,he,...]
//! ```

use stancepipe_core::{Company, Sentence, Span};
use stancepipe_tokenize::{segment, MentionFinder, ReferenceFinder, DEFAULT_REFERENCE_WORDS};
use std::collections::BTreeMap;

const PRONOUNS: &[&str] = &[
    "he", "him", "his", "himself", "she", "her", "hers", "herself", "it", "its", "itself", "they",
    "them", "their", "theirs", "i", "me", "my", "we", "us", "our", "you", "your",
];

#[derive(Default)]
struct Tally {
    docs: usize,
    misaligned: usize,
    /// Articles with a name mention left unmasked (not scored).
    incomplete: usize,
    /// `[TGT]` spans, all, and those that are name mentions.
    gold: usize,
    gold_names: usize,
    /// Gold non-name spans by kind (a pronoun, or "other").
    gold_kinds: BTreeMap<String, usize>,
    /// Gold non-name spans found, by kind.
    found_kinds: BTreeMap<String, usize>,
    /// References: predicted and right, by alias.
    pred: BTreeMap<String, (usize, usize)>,
}

impl Tally {
    fn print(&self, part: &str) {
        let gold_refs: usize = self.gold_kinds.values().sum();
        let found: usize = self.found_kinds.values().sum();
        let (pred, right) = self
            .pred
            .values()
            .fold((0, 0), |(p, r), (a, b)| (p + a, r + b));
        println!(
            "== {part}: {} articles, {} scored ({} skipped: [TGT] alignment failed; {} skipped: a name mention not masked), {} [TGT] spans, {} of them name mentions, {} not",
            self.docs, self.docs - self.misaligned - self.incomplete, self.misaligned, self.incomplete, self.gold, self.gold_names, gold_refs
        );
        println!(
            "references: {pred} attached, {right} right: precision {:.3}; recall {found}/{gold_refs} = {:.3}",
            ratio(right, pred),
            ratio(found, gold_refs)
        );
        println!("  non-name [TGT] by kind (count, found by a reference):");
        let mut kinds: Vec<_> = self.gold_kinds.iter().collect();
        kinds.sort_by_key(|(k, n)| (std::cmp::Reverse(**n), (*k).clone()));
        for (k, n) in kinds {
            let f = self.found_kinds.get(k).copied().unwrap_or(0);
            println!("    {k:<10} {n:>5}  found {f:>5} ({:.3})", ratio(f, *n));
        }
        println!("  attached references by alias (attached, right, precision):");
        for (a, (p, r)) in &self.pred {
            println!("    {a:<18} {p:>5} {r:>5} {:.3}", ratio(*r, *p));
        }
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// The spans of `doc` that `masked` replaces by `[TGT]`, or `None` when the
/// two texts do not align. PerSenT's masked text differs from the document
/// in more than the masks (quotes, spacing, encoding), so both are compared
/// on their ASCII letters and digits only, lowercase: each piece of `masked`
/// between two `[TGT]`s must occur in `doc`, in order, the replaced part in
/// between having 1 to 120 such chars. A span runs from the first to the
/// last letter or digit of the replaced part; two masks with nothing between
/// them become one span.
fn align(doc: &str, masked: &str) -> Option<Vec<Span>> {
    // The kept chars of `doc`, with their byte ranges.
    let mut norm = Vec::new();
    let mut at: Vec<(usize, usize)> = Vec::new();
    for (i, c) in doc.char_indices() {
        if c.is_ascii_alphanumeric() {
            norm.push(c.to_ascii_lowercase() as u8);
            at.push((i, i + 1));
        }
    }
    let normalize = |s: &str| -> Vec<u8> {
        s.bytes()
            .filter(u8::is_ascii_alphanumeric)
            .map(|b| b.to_ascii_lowercase())
            .collect()
    };
    let pieces: Vec<Vec<u8>> = masked.split("[TGT]").map(normalize).collect();
    if !norm.starts_with(&pieces[0]) {
        return None;
    }
    let mut pos = pieces[0].len();
    let mut spans: Vec<Span> = Vec::new();
    let mut k = 1;
    while k < pieces.len() {
        // Masks with nothing between them: one span.
        while k + 1 < pieces.len() && pieces[k].is_empty() {
            k += 1;
        }
        let piece = &pieces[k];
        let end = if piece.is_empty() {
            norm.len() // the last mask ends the text
        } else {
            let window =
                &norm[(pos + 1).min(norm.len())..(pos + 121 + piece.len()).min(norm.len())];
            pos + 1 + window.windows(piece.len()).position(|w| w == &piece[..])?
        };
        if end <= pos {
            return None;
        }
        spans.push(Span::new(at[pos].0, at[end - 1].1));
        pos = end + piece.len();
        k += 1;
    }
    Some(spans)
}

fn floor_char(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn overlaps(a: Span, b: Span) -> bool {
    a.start < b.end && b.start < a.end
}

fn kind(text: &str) -> String {
    let lower = text.to_lowercase();
    if PRONOUNS.contains(&lower.as_str()) {
        lower
    } else {
        "other".into()
    }
}

fn main() {
    let mut path = "../shared/data/persent/dev.csv".to_string();
    let mut words: Vec<String> = DEFAULT_REFERENCE_WORDS
        .iter()
        .map(|w| w.to_string())
        .collect();
    // --show N: print N wrong references of the train part (stderr).
    let mut show = 0usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--show" {
            show = args.next().and_then(|n| n.parse().ok()).expect("--show N");
        } else if a == "--words" {
            let list = args.next().expect("--words needs a comma-separated list");
            words = list.split(',').map(|w| w.trim().to_string()).collect();
        } else {
            path = a;
        }
    }
    let finder_refs = ReferenceFinder::new(&words).expect("reference words");
    let mut reader = match csv::Reader::from_path(&path) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("skipping: cannot read {path} ({e}); run from the repository root with ../shared/data present");
            return;
        }
    };
    let headers = reader.headers().expect("header").clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name}"))
    };
    let (c_doc, c_masked, c_target) = (
        col("DOCUMENT"),
        col("MASKED_DOCUMENT"),
        col("TARGET_ENTITY"),
    );
    let mut train = Tally::default();
    let mut dev = Tally::default();
    for (i, record) in reader.records().enumerate() {
        if i % 10 == 9 {
            continue; // test: never looked at
        }
        let record = record.expect("csv record");
        let tally = if i % 10 == 8 { &mut dev } else { &mut train };
        let (doc, masked, target) = (&record[c_doc], &record[c_masked], record[c_target].trim());
        tally.docs += 1;
        let Some(gold) = align(doc, masked) else {
            tally.misaligned += 1;
            continue;
        };
        let mut aliases = Vec::new();
        if let Some(last) = target.split_whitespace().last() {
            if last != target
                && last.chars().count() >= 3
                && last.chars().next().is_some_and(char::is_uppercase)
            {
                aliases.push(last.to_string());
            }
        }
        let company = Company {
            name: target.to_string(),
            aliases,
            case_sensitive: false,
            case_insensitive: false,
        };
        let sentences: Vec<Sentence> = segment(doc)
            .into_iter()
            .map(|(span, kind)| Sentence::new(span, kind))
            .collect();
        let mut entities = MentionFinder::new(&[company])
            .expect("automaton")
            .find(doc, &sentences);
        finder_refs.attach(doc, &sentences, &mut entities);
        let mentions = &entities[0].mentions;
        let names: Vec<Span> = mentions
            .iter()
            .filter(|m| !m.reference)
            .map(|m| m.span)
            .collect();
        let refs: Vec<(Span, &str)> = mentions
            .iter()
            .filter(|m| m.reference)
            .map(|m| (m.span, m.alias.as_str()))
            .collect();
        // PerSenT's masking is incomplete in some articles (the name left
        // as it is, and then its pronouns too): score only the articles
        // where every name mention found is masked.
        if !names.iter().all(|n| gold.iter().any(|g| overlaps(*n, *g))) {
            tally.incomplete += 1;
            continue;
        }
        tally.gold += gold.len();
        let mut gold_refs = Vec::new();
        for g in gold {
            if names.iter().any(|n| overlaps(*n, g)) {
                tally.gold_names += 1;
            } else {
                gold_refs.push(g);
            }
        }
        for g in &gold_refs {
            let k = kind(&doc[g.start..g.end]);
            *tally.gold_kinds.entry(k.clone()).or_default() += 1;
            if refs.iter().any(|(r, _)| overlaps(*r, *g)) {
                *tally.found_kinds.entry(k).or_default() += 1;
            }
        }
        for (r, alias) in &refs {
            let e = tally.pred.entry(alias.to_string()).or_default();
            e.0 += 1;
            if gold_refs.iter().any(|g| overlaps(*r, *g)) {
                e.1 += 1;
            } else if show > 0 && i % 10 < 8 {
                show -= 1;
                let from = floor_char(doc, r.start.saturating_sub(120));
                let to = floor_char(doc, (r.end + 40).min(doc.len()));
                eprintln!(
                    "wrong {alias:?} (target {target}): ...{}[[{}]]{}...",
                    &doc[from..r.start],
                    &doc[r.start..r.end],
                    &doc[r.end..to]
                );
            }
        }
    }
    println!("reference words: {}", words.join(", "));
    train.print("train (index % 10 < 8)");
    dev.print("dev (index % 10 == 8)");
}
