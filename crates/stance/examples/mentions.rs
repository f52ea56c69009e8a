//! Prints what the `target-sentiment` model (one head or an ensemble, read
//! exactly as the stage reads it) says about each mention of a stancepipe
//! output file (the JSON array `stancepipe run --output X.json` writes), and
//! a per-company count: for reading why a document got its stance.
//! Developer tool, used for the seed analysis in docs/quality.md:
//!
//! ```sh
//! cargo run --release -p stancepipe-stance --example mentions -- out/seeds.json models/heads/stance [more head directories]
//! ```

use stancepipe_core::{labels, BuildContext, Doc};
use stancepipe_stance::target::{mention_polarity, MentionPolarity, TargetModel};
use std::collections::BTreeMap;
use std::path::PathBuf;

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: mentions <stancepipe output .json> <head directory>...";
    let [output, heads @ ..] = args.as_slice() else {
        return Err(usage.into());
    };
    if heads.is_empty() {
        return Err(usage.into());
    }
    let text = std::fs::read_to_string(output).map_err(|e| format!("{output}: {e}"))?;
    let docs: Vec<Doc> = serde_json::from_str(&text).map_err(|e| format!("{output}: {e}"))?;
    let ctx = BuildContext {
        base_dir: ".".into(),
        companies: Vec::new(),
    };
    let heads: Vec<PathBuf> = heads.iter().map(PathBuf::from).collect();
    let model =
        TargetModel::load("models/all-MiniLM-L6-v2", &heads, &ctx).map_err(|e| e.to_string())?;
    let (mentions, probs) = model.read(&docs, 64).map_err(|e| e.to_string())?;
    let index = |l: &str| model.labels().iter().position(|x| x == l);
    let (pos, neg) = (index(labels::POSITIVE), index(labels::NEGATIVE));
    let mut counts: BTreeMap<(usize, &str), [usize; 3]> = BTreeMap::new();
    for (d, doc) in docs.iter().enumerate() {
        println!("== {}", doc.id);
        for (m, p) in mentions.iter().zip(&probs).filter(|(m, _)| m.doc == d) {
            let (polarity, _) = mention_polarity(p, pos, neg, MentionPolarity::Label);
            let c = counts.entry((d, m.company.as_str())).or_default();
            c[if polarity > 0.0 {
                0
            } else if polarity < 0.0 {
                1
            } else {
                2
            }] += 1;
            let shown: Vec<String> = model
                .labels()
                .iter()
                .zip(p)
                .map(|(l, x)| format!("{l} {x:.2}"))
                .collect();
            let s = doc.sentences[m.sentence].span;
            println!(
                "{:<10} s{:<3} {:+.2}  {}  | {}<< {} >>{}",
                m.company,
                m.sentence,
                polarity,
                shown.join(" "),
                &doc.text[s.start..m.span.start],
                &doc.text[m.span.start..m.span.end],
                &doc.text[m.span.end..s.end],
            );
        }
        for ((_, company), [p, n, u]) in counts.range((d, "")..(d + 1, "")) {
            println!("{company:<10} mentions labeled positive {p}, negative {n}, neutral {u}");
        }
    }
    Ok(())
}
