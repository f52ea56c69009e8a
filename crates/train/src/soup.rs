//! `stancepipe train soup`: one one-pass model whose weights are the
//! uniform mean of several trained by `train stance` with one recipe
//! (different seeds, say). Unlike an ensemble it runs as one model, so the
//! stages keep one encoder pass per sentence; how each weight is averaged
//! is [`stancepipe_encoder::soup`]'s. The soup is scored on the members'
//! dev and test parts as `train stance` scores a model, from its stored
//! files.

use crate::gold::UserData;
use crate::stance::{class, measure, relative_top, thin, Scored, StanceSource};
use crate::{majority, DataDir, Encoder, Progress};
use serde_json::json;
use stancepipe_encoder::soup::{average_heads, average_tops};
use stancepipe_encoder::tuned::TOP_FILE;
use stancepipe_encoder::{Adapt, Head, Manifest, Pooling, Spec};
use stancepipe_eval::datasets::Split;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Reads a member's manifest.
fn manifest(dir: &Path) -> Result<Manifest, String> {
    let p = dir.join("manifest.json");
    let text = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))
}

/// The settings every member must share to be averaged: the same encoder,
/// layers, adapters, features and linear heads.
fn shape(m: &Manifest) -> impl PartialEq + std::fmt::Debug {
    (
        m.task.clone(),
        m.labels.clone(),
        m.input_dim,
        m.hidden,
        m.tuned_layers,
        m.lora_rank,
        m.one_pass,
        m.context_tokens,
        m.attend_tokens,
    )
}

/// The members' target manifests, checked to be one recipe of linear
/// one-pass heads trained together with their sentence heads.
fn check(targets: &[PathBuf], sentences: &[PathBuf]) -> Result<(Vec<Manifest>, Manifest), String> {
    if targets.len() < 2 {
        return Err("a soup needs at least two members (--head)".into());
    }
    if sentences.len() != targets.len() {
        return Err(format!(
            "{} target heads (--head) but {} sentence heads (--sentence-head): give each member's both",
            targets.len(),
            sentences.len()
        ));
    }
    let ms = targets
        .iter()
        .map(|d| manifest(d))
        .collect::<Result<Vec<_>, _>>()?;
    let first = &ms[0];
    if !(first.one_pass && first.task == "target-sentiment" && first.hidden == 0) {
        return Err(format!(
            "{}: not a linear one-pass target head (written by `train stance`)",
            targets[0].display()
        ));
    }
    if let Some(d) = targets
        .iter()
        .find(|d| d.join(stancepipe_encoder::multitask::APPENDED_DIR).is_dir())
    {
        return Err(format!(
            "{}: has a head for appended targets (--appended-head), which a soup does not average",
            d.display()
        ));
    }
    for (m, d) in ms.iter().zip(targets).skip(1) {
        if shape(m) != shape(first) || m.encoder != first.encoder {
            return Err(format!(
                "{} and {} were not trained by one recipe (layers, adapters, features or encoder differ)",
                targets[0].display(),
                d.display()
            ));
        }
        if m.training.pointer("/data/sources") != first.training.pointer("/data/sources") {
            return Err(format!(
                "{} and {} were trained on different sources",
                targets[0].display(),
                d.display()
            ));
        }
    }
    let mut sentence = None;
    for (s, t) in sentences.iter().zip(targets) {
        let m = manifest(s)?;
        let reads = m
            .encoder_top
            .as_ref()
            .map(|rel| s.join(rel))
            .and_then(|p| p.canonicalize().ok());
        if reads.is_none() || reads != t.join(TOP_FILE).canonicalize().ok() {
            return Err(format!(
                "{} does not read the adapters of {}: give each member's sentence head in the order of --head",
                s.display(),
                t.display()
            ));
        }
        if m.hidden != 0 || m.task != "sentence-sentiment" {
            return Err(format!("{}: not a linear sentence head", s.display()));
        }
        sentence.get_or_insert(m);
    }
    let sentence = sentence.ok_or("no sentence heads")?;
    Ok((ms, sentence))
}

/// Averages the members (`targets`, each with its sentence head in
/// `sentences`) into `target_out` and `sentence_out`, scores the soup on
/// `data` (and on `gold` when the members were trained on the user's gold
/// data) and writes both manifests; returns the target manifest.
pub fn soup(
    enc: &Encoder,
    (data, gold): (&DataDir, Option<&UserData>),
    (targets, sentences): (&[PathBuf], &[PathBuf]),
    (target_out, sentence_out): (&Path, &Path),
    command: &str,
    progress: Progress,
) -> Result<Manifest, String> {
    let started = Instant::now();
    let (members, sentence_first) = check(targets, sentences)?;
    let first = &members[0];
    let mut sources = Vec::new();
    let mut on_gold = false;
    for name in first
        .training
        .pointer("/data/sources")
        .and_then(|v| v.as_array())
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str())
    {
        match StanceSource::named(name) {
            Some(s) => sources.push(s),
            None if name == "transfer" => {}
            None if name == "gold" && gold.is_some() => on_gold = true,
            None => {
                return Err(format!(
                    "{}: trained on {name:?}; give the same --gold (and --dev) to score the soup",
                    targets[0].display()
                ))
            }
        }
    }
    let on_phrasebank = first
        .training
        .pointer("/data/sentences")
        .and_then(|v| v.as_str())
        .is_some_and(|s| s.starts_with("phrasebank"));
    for d in [target_out, sentence_out] {
        std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
    }
    let tops: Vec<PathBuf> = targets.iter().map(|d| d.join(TOP_FILE)).collect();
    let refs: Vec<&Path> = tops.iter().map(PathBuf::as_path).collect();
    let rank = average_tops(&refs, &target_out.join(TOP_FILE))?;
    for (dirs, out) in [(targets, target_out), (sentences, sentence_out)] {
        let heads: Vec<PathBuf> = dirs.iter().map(|d| d.join("head.safetensors")).collect();
        let refs: Vec<&Path> = heads.iter().map(PathBuf::as_path).collect();
        average_heads(&refs, &out.join("head.safetensors"))?;
    }
    let mut target_m = Manifest {
        lora_rank: rank,
        encoder_top: None,
        training: serde_json::Value::Null,
        ..first.clone()
    };
    let mut sentence_m = Manifest {
        lora_rank: rank,
        encoder_top: Some(relative_top(sentence_out, target_out)),
        training: serde_json::Value::Null,
        ..sentence_first
    };
    let write = |m: &Manifest, d: &Path| {
        let p = d.join("manifest.json");
        let text = serde_json::to_string_pretty(m).map_err(|e| e.to_string())?;
        std::fs::write(&p, text).map_err(|e| format!("{}: {e}", p.display()))
    };
    write(&target_m, target_out)?;
    write(&sentence_m, sentence_out)?;

    let enc_stored = stancepipe_encoder::states::load(
        enc.base.clone(),
        enc.repo,
        Spec {
            layers: first.tuned_layers,
            adapt: Adapt::from_rank(rank),
            pooling: Pooling::Mean,
        },
        Some(&target_out.join(TOP_FILE)),
    )
    .map_err(|e| e.to_string())?;
    let target_head = Head::load(target_out)?;
    let sentence_head = Head::load(sentence_out)?;
    let mut dev_parts = Vec::new();
    let mut train_y = Vec::new();
    for &s in &sources {
        dev_parts.push((s.name().to_string(), s.part(data, Split::Dev)?));
        let t = thin(s.part(data, Split::Train)?, s.train_cap());
        train_y.extend(t.iter().map(|e| class(&e.label)));
    }
    let gold = gold.filter(|_| on_gold);
    if let Some(g) = gold {
        dev_parts.push(("gold".to_string(), g.dev.targets.clone()));
        train_y.extend(g.train.targets.iter().map(|e| class(&e.label)));
    }
    let pb = if on_phrasebank {
        Some(data.file("phrasebank/Sentences_50Agree.txt")?)
    } else {
        None
    };
    let figures = measure(
        &enc_stored,
        (
            crate::stance::TargetHeads::one(&target_head),
            &sentence_head,
        ),
        data,
        &Scored {
            dev_parts: &dev_parts,
            sources: &sources,
            gold,
            phrasebank: pb.as_deref(),
            majority: majority(&train_y),
        },
        progress,
    )?;
    let member_dev: Vec<serde_json::Value> = members
        .iter()
        .zip(targets)
        .map(|(m, d)| {
            json!({"head": d.display().to_string(),
                   "command": m.training.get("command"),
                   "dev_per_source": m.training.get("dev_per_source")})
        })
        .collect();
    target_m.training = json!({
        "command": command,
        "soup": {
            "method": format!("uniform mean of {} members' weights: LoRA updates averaged exactly (adapters stacked into rank {rank}), linear heads averaged", members.len()),
            "members": member_dev,
        },
        "data": first.training.get("data"),
        // The members' settings (the first member's; the seed differs).
        "member_fit": first.training.get("fit"),
        "dev_macro_f1": figures.dev_macro_f1,
        "dev_per_source": figures.dev_per_source,
        "test": figures.test,
        "sentence_head": figures.sentence_head,
        "seconds": started.elapsed().as_secs_f64(),
        "labels_note": first.training.get("labels_note"),
    });
    sentence_m.training = json!({"trained_with": target_out.display().to_string(), "command": command,
        "figures": target_m.training["sentence_head"].clone()});
    write(&target_m, target_out)?;
    write(&sentence_m, sentence_out)?;
    Ok(target_m)
}
