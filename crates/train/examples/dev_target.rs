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

use stancepipe_core::BuildContext;
use stancepipe_encoder::stage;
use stancepipe_train::{dev_probabilities, figures, target_dev, DataDir};
use std::path::{Path, PathBuf};

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [data, heads @ ..] = args.as_slice() else {
        return Err("usage: dev_target <labeled data folder> <head directory>...".into());
    };
    if heads.is_empty() {
        return Err("usage: dev_target <labeled data folder> <head directory>...".into());
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
        for dir in heads {
            let (encoder, head) = stage::load(
                "models/all-MiniLM-L6-v2",
                Path::new(dir),
                "target-sentiment",
                &ctx,
            )
            .map_err(|e| e.to_string())?;
            let kind = head.manifest.target_kind();
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
    }
    Ok(())
}
