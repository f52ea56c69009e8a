//! Scores a committed target head on the target dev part, whole and on its
//! contrastive examples (texts whose targets differ in label), so that heads
//! trained before `dev_contrastive` was recorded can be compared with new
//! ones. Developer tool, used in docs/quality.md:
//!
//! ```sh
//! cargo run --release -p stancepipe-train --example dev_target -- ../shared/data models/heads/target
//! ```

use stancepipe_core::BuildContext;
use stancepipe_encoder::stage;
use stancepipe_train::{dev_figures, target_dev, DataDir};
use std::path::{Path, PathBuf};

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [data, head] = args.as_slice() else {
        return Err("usage: dev_target <labeled data folder> <head directory>".into());
    };
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
    let dev = target_dev(&DataDir(PathBuf::from(data)))?;
    let quiet = |_: &str, _: usize, _: usize| {};
    for (name, only) in [("dev", false), ("dev_contrastive", true)] {
        let f = dev_figures(&head, encoder.as_ref(), kind, &dev, only, &quiet)?;
        println!("{name}: {f}");
    }
    Ok(())
}
