//! Scores committed target heads on the target dev part, whole and on its
//! contrastive examples (texts whose targets differ in label), so that heads
//! trained before `dev_contrastive` was recorded can be compared with new
//! ones. Given several heads, it also scores their ensemble (the mean of
//! their class probabilities, as the `target-sentiment` stage combines
//! them). Developer tool, used in docs/quality.md:
//!
//! ```sh
//! cargo run --release -p stancepipe-train --example dev_target -- ../shared/data models/heads/target [more head directories]
//! ```
//!
//! With `--probs FILE` first, it also writes the (ensemble's) class
//! probabilities of every dev example with its gold label, one JSON object a
//! line, for `cargo run -p stancepipe-stance --example doc_rule_dev`.

use stancepipe_core::BuildContext;
use stancepipe_encoder::stage;
use stancepipe_train::{dev_probabilities, figures, target_dev, DataDir};
use std::io::Write;
use std::path::{Path, PathBuf};

const USAGE: &str = "usage: dev_target [--probs FILE] <labeled data folder> <head directory>...";

fn main() -> Result<(), String> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let probs_out = match args.first().map(String::as_str) {
        Some("--probs") if args.len() > 1 => {
            let path = args.remove(1);
            args.remove(0);
            Some(PathBuf::from(path))
        }
        _ => None,
    };
    let [data, heads @ ..] = args.as_slice() else {
        return Err(USAGE.into());
    };
    if heads.is_empty() {
        return Err(USAGE.into());
    }
    let ctx = BuildContext {
        base_dir: ".".into(),
        companies: Vec::new(),
    };
    let dev = target_dev(&DataDir(PathBuf::from(data)))?;
    let quiet = |_: &str, _: usize, _: usize| {};
    for (name, only) in [("dev", false), ("dev_contrastive", true)] {
        let mut sum: Vec<Vec<f32>> = Vec::new();
        let mut gold = Vec::new();
        let mut labels = Vec::new();
        for dir in heads {
            let (encoder, head) = stage::load(
                "models/all-MiniLM-L6-v2",
                Path::new(dir),
                "target-sentiment",
                &ctx,
            )
            .map_err(|e| e.to_string())?;
            let kind = head.manifest.target_kind();
            labels.clone_from(&head.manifest.labels);
            let (p, y) = dev_probabilities(&head, encoder.as_ref(), kind, &dev, only, &quiet)?;
            println!("{name} {dir}: {}", figures(&p, &y));
            if sum.is_empty() {
                sum = p;
            } else {
                for (s, q) in sum.iter_mut().zip(&p) {
                    s.iter_mut().zip(q).for_each(|(a, b)| *a += b);
                }
            }
            gold = y;
        }
        if heads.len() > 1 {
            println!(
                "{name} ensemble of {}: {}",
                heads.len(),
                figures(&sum, &gold)
            );
        }
        if let (Some(path), false) = (&probs_out, only) {
            write_probs(path, &sum, heads.len(), &gold, &labels)?;
            println!("wrote {}", path.display());
        }
    }
    Ok(())
}

/// One line per dev example: the mean probabilities (in the heads' label
/// order) and the gold label's name.
fn write_probs(
    path: &Path,
    sum: &[Vec<f32>],
    heads: usize,
    gold: &[usize],
    labels: &[String],
) -> Result<(), String> {
    let err = |e: std::io::Error| format!("{}: {e}", path.display());
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).map_err(err)?);
    for (p, &y) in sum.iter().zip(gold) {
        let mean: Vec<f32> = p.iter().map(|x| x / heads as f32).collect();
        let line = serde_json::json!({"labels": labels, "probs": mean, "gold": labels[y]});
        writeln!(out, "{line}").map_err(err)?;
    }
    out.flush().map_err(err)
}
