//! Prints what the `target-sentiment` head says about each mention of a
//! stancepipe output file (the JSON array `stancepipe run --output X.json`
//! writes), and a per-company count: for reading why a document got its
//! stance. Developer tool, used for the seed analysis in docs/quality.md:
//!
//! ```sh
//! cargo run --release -p stancepipe-stance --example mentions -- out/seeds.json models/heads/target
//! ```

use stancepipe_core::{labels, BuildContext, Doc};
use stancepipe_encoder::{features, stage};
use stancepipe_stance::target::{mention_polarity, MentionPolarity};
use std::collections::BTreeMap;
use std::path::Path;

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [output, head] = args.as_slice() else {
        return Err("usage: mentions <stancepipe output .json> <head directory>".into());
    };
    let text = std::fs::read_to_string(output).map_err(|e| format!("{output}: {e}"))?;
    let docs: Vec<Doc> = serde_json::from_str(&text).map_err(|e| format!("{output}: {e}"))?;
    let ctx = BuildContext {
        base_dir: ".".into(),
        companies: Vec::new(),
    };
    let (encoder, head) = stage::load(
        "models/all-MiniLM-L6-v2",
        Path::new(head),
        "target-sentiment",
        &ctx,
    )
    .map_err(|e| e.to_string())?;
    let kind = head.manifest.target_kind();
    let index = |l: &str| head.manifest.labels.iter().position(|x| x == l);
    let (pos, neg) = (index(labels::POSITIVE), index(labels::NEGATIVE));
    for doc in &docs {
        println!("== {}", doc.id);
        let mut counts: BTreeMap<&str, [usize; 3]> = BTreeMap::new();
        for m in features::mention_inputs(doc, kind) {
            let refs: Vec<&str> = m.texts.iter().map(String::as_str).collect();
            let e = encoder.embed(&refs)?;
            let p = &head.predict(&[e.concat()])[0];
            let (polarity, _) = mention_polarity(p, pos, neg, MentionPolarity::Label);
            let c = counts.entry(m.company).or_default();
            c[if polarity > 0.0 {
                0
            } else if polarity < 0.0 {
                1
            } else {
                2
            }] += 1;
            let probs: Vec<String> = head
                .manifest
                .labels
                .iter()
                .zip(p)
                .map(|(l, x)| format!("{l} {x:.2}"))
                .collect();
            println!(
                "{:<10} s{:<3} {:+.2}  {}  | {}",
                m.company,
                m.sentence,
                polarity,
                probs.join(" "),
                m.texts[0]
            );
        }
        for (company, [p, n, u]) in counts {
            println!("{company:<10} mentions labeled positive {p}, negative {n}, neutral {u}");
        }
    }
    Ok(())
}
