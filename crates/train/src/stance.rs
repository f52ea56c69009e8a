//! `stancepipe train stance`: one encoder for the classify and stance stages,
//! read from one pass per sentence. LoRA adapters, a target head and a
//! sentence head are trained together ([`stancepipe_encoder::multitask`]) on
//! stance and target-sentiment sets (each source below) and on PhraseBank's
//! sentence labels. Stance labels map to the heads' classes as favor →
//! positive, against → negative, none → neutral.
//!
//! A target that occurs in its text is pooled where it is; one that does not
//! (VAST and SemEval topics, claims of Perspectrum) is appended after the
//! text ([`features::with_targets`]). Several targets of one text share one
//! pass, as the mentions of one sentence do in the pipeline.

use crate::gold::UserData;
use crate::{
    argmax, argmaxes, lexicon_label, majority, report, score_set, summary, DataDir, Encoder,
    Progress, LABELS,
};
use serde_json::json;
use stancepipe_classify::vader::Lexicon;
use stancepipe_core::{BuildContext, Doc, Entity, Mention, SentenceKind, Span};
use stancepipe_encoder::multitask::{self, Example, Params, Predictions, Target, SOFT_CLASSES};
use stancepipe_encoder::tuned::TOP_FILE;
use stancepipe_encoder::{features, Adapt, Embed, Head, Manifest, Pooling, Spec, StatesEncoder};
use stancepipe_eval::datasets::{self, LabeledText, Split, StanceExample, TargetExample};
use stancepipe_stance::target::TargetModel;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// A labeled source of targets with their stance (or sentiment) labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StanceSource {
    /// Reuters snippets, sentiment toward entities.
    FinEntity,
    /// News sentences, sentiment toward mentioned people and groups.
    NewsMtsc,
    /// NYT reader comments, stance toward a topic phrase.
    Vast,
    /// Tweets, stance toward one of five targets.
    SemEval,
    /// Tweets, stance toward two candidates each.
    MultiTarget,
    /// Wikipedia claims, sentiment toward the claim's own target.
    Ibm,
    /// Perspectives that support or undermine a claim.
    Perspectrum,
    /// News articles, the author's sentiment toward the main entity in each
    /// paragraph, read at its name mentions ([`crate::persent`]).
    Persent,
}

impl StanceSource {
    /// Every source, in the order they are trained and reported.
    pub const ALL: [StanceSource; 8] = [
        StanceSource::FinEntity,
        StanceSource::NewsMtsc,
        StanceSource::Vast,
        StanceSource::SemEval,
        StanceSource::MultiTarget,
        StanceSource::Ibm,
        StanceSource::Perspectrum,
        StanceSource::Persent,
    ];

    /// Trained on unless `--stance-sources` says otherwise (the recipe of
    /// the default model): every source but PerSenT's paragraphs, which
    /// were tried and not adopted (docs/quality.md, "Closing the gap").
    pub fn by_default(self) -> bool {
        self != StanceSource::Persent
    }

    /// The source called `name` ([`StanceSource::name`]).
    pub fn named(name: &str) -> Option<StanceSource> {
        StanceSource::ALL.into_iter().find(|s| s.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            StanceSource::FinEntity => "finentity",
            StanceSource::NewsMtsc => "newsmtsc",
            StanceSource::Vast => "vast",
            StanceSource::SemEval => "semeval",
            StanceSource::MultiTarget => "multitarget",
            StanceSource::Ibm => "ibm",
            StanceSource::Perspectrum => "perspectrum",
            StanceSource::Persent => "persent",
        }
    }

    /// This source's share of the target loss, whatever its size: each
    /// stance set counts once, the two sets of sentiment toward entities in
    /// news (closest to what the pipeline reads) `news_share` times
    /// ([`DEFAULT_NEWS_SHARE`] unless `--news-share`).
    pub fn share(self, news_share: f64) -> f64 {
        if self.is_news() {
            news_share
        } else {
            1.0
        }
    }

    /// A set of sentiment toward entities in news (FinEntity, NewsMTSC):
    /// closest to what the pipeline reads, and what a teacher distils.
    pub fn is_news(self) -> bool {
        matches!(self, StanceSource::FinEntity | StanceSource::NewsMtsc)
    }

    /// Most training examples taken from this source (evenly spaced), so
    /// that no one source drowns the others and an epoch fits this machine.
    pub(crate) fn train_cap(self) -> usize {
        match self {
            StanceSource::Perspectrum => 2000,
            _ => usize::MAX,
        }
    }

    /// The source's train or dev part.
    pub fn part(self, data: &DataDir, split: Split) -> Result<Vec<StanceExample>, String> {
        let err = |e: datasets::DataError| e.to_string();
        Ok(match self {
            StanceSource::FinEntity => targets(
                datasets::finentity(&data.file("finentity/FinEntity.json")?, split).map_err(err)?,
            ),
            StanceSource::NewsMtsc => targets(
                datasets::newsmtsc(&data.file("newsmtsc/train.jsonl")?, Some(split))
                    .map_err(err)?,
            ),
            StanceSource::Vast => {
                let f = match split {
                    Split::Train => "train",
                    Split::Dev => "dev",
                    Split::Test => "test",
                };
                datasets::vast(&data.file(&format!("vast/{f}.jsonl"))?).map_err(err)?
            }
            StanceSource::SemEval => {
                datasets::semeval2016(&data.file("semeval2016")?, split).map_err(err)?
            }
            StanceSource::MultiTarget => {
                datasets::multitarget(&data.file("multitarget/multi_target_stance.csv")?, split)
                    .map_err(err)?
            }
            StanceSource::Ibm => datasets::ibm_claim_stance(
                &data.file("ibm_claim_stance/claim_stance_dataset_v1.csv")?,
                split,
            )
            .map_err(err)?,
            StanceSource::Perspectrum => {
                datasets::perspectrum(&data.file("perspectrum")?, split).map_err(err)?
            }
            // Only the mentions in a labeled paragraph.
            StanceSource::Persent => {
                crate::persent::mentions(&data.file("persent/dev.csv")?, split)?
                    .into_iter()
                    .filter_map(|(e, label)| Some(StanceExample { label: label?, ..e }))
                    .collect()
            }
        })
    }

    /// The source's test sets by name (NewsMTSC: its two official files).
    pub fn tests(self, data: &DataDir) -> Result<Vec<(String, Vec<StanceExample>)>, String> {
        if self == StanceSource::NewsMtsc {
            let mut out = Vec::new();
            for f in ["devtest_mt", "devtest_rw"] {
                let set = datasets::newsmtsc(&data.file(&format!("newsmtsc/{f}.jsonl"))?, None)
                    .map_err(|e| e.to_string())?;
                out.push((format!("newsmtsc-{f}"), targets(set)));
            }
            return Ok(out);
        }
        Ok(vec![(
            format!("{}-test", self.name()),
            self.part(data, Split::Test)?,
        )])
    }
}

/// Target-sentiment examples as stance examples (the target is in the text).
fn targets(v: Vec<TargetExample>) -> Vec<StanceExample> {
    v.into_iter()
        .map(|e| StanceExample {
            target: e.text[e.start..e.end].to_string(),
            span: Some((e.start, e.end)),
            id: e.id,
            text: e.text,
            label: e.label,
        })
        .collect()
}

/// Adds `pairs` contrast pairs ([`crate::contrast::pairs`]) to the
/// training parts of the news sources among `sources` (the first
/// `sources.len()` of `parts`), split between them by size, each drawn
/// within its source with `seed`; records each source's count in `sizes`.
/// Dev parts stay real text.
fn add_contrast_pairs(
    sources: &[StanceSource],
    parts: &mut [Vec<StanceExample>],
    pairs: usize,
    seed: i64,
    sizes: &mut serde_json::Map<String, serde_json::Value>,
) {
    let news: Vec<usize> = (0..sources.len())
        .filter(|&i| sources[i].is_news())
        .collect();
    let total: usize = news.iter().map(|&i| parts[i].len()).sum();
    if pairs == 0 || total == 0 {
        return;
    }
    for i in news {
        let n = pairs * parts[i].len() / total;
        let pool: Vec<TargetExample> = parts[i]
            .iter()
            .filter_map(|e| {
                e.span.map(|(start, end)| TargetExample {
                    id: e.id.clone(),
                    text: e.text.clone(),
                    start,
                    end,
                    label: e.label.clone(),
                })
            })
            .collect();
        let added = targets(crate::contrast::pairs(&pool, n, seed as u64));
        if let Some(size) = sizes.get_mut(sources[i].name()) {
            size["contrast_examples"] = json!(added.len());
        }
        parts[i].extend(added);
    }
}

pub(crate) fn class(label: &str) -> usize {
    LABELS.iter().position(|l| *l == label).unwrap_or(2)
}

/// At most `cap` of `v`, evenly spaced (deterministic).
pub(crate) fn thin<T: Clone>(v: Vec<T>, cap: usize) -> Vec<T> {
    if v.len() <= cap {
        return v;
    }
    (0..cap).map(|i| v[i * v.len() / cap].clone()).collect()
}

/// Groups examples by text into one multi-task example per text, the
/// targets shown as [`features::with_targets`] shows them; returns the
/// examples and, per input example, (group, target index) to map
/// predictions back. At most `max_appended` targets are appended to one
/// text (the rest are dropped, `None` in the map).
pub fn group(
    examples: &[StanceExample],
    max_appended: usize,
    (source, weight): (usize, f32),
    soft: Option<&[[f32; SOFT_CLASSES]]>,
) -> (Vec<Example>, Vec<Option<(usize, usize)>>) {
    let mut by_text: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut order: Vec<&str> = Vec::new();
    for (i, e) in examples.iter().enumerate() {
        by_text
            .entry(e.text.as_str())
            .or_insert_with(|| {
                order.push(e.text.as_str());
                Vec::new()
            })
            .push(i);
    }
    let mut out = Vec::new();
    let mut map = vec![None; examples.len()];
    for text in order {
        let members = &by_text[text];
        let mut kept = Vec::new();
        let mut appended = 0;
        for &i in members {
            if examples[i].span.is_none() {
                if appended == max_appended {
                    continue;
                }
                appended += 1;
            }
            kept.push(i);
        }
        let shown: Vec<(&str, Option<(usize, usize)>)> = kept
            .iter()
            .map(|&i| (examples[i].target.as_str(), examples[i].span))
            .collect();
        let (t, spans) = features::with_targets(text, &shown);
        let g = out.len();
        out.push(Example {
            text: t,
            targets: kept
                .iter()
                .zip(&spans)
                .map(|(&i, &(start, end))| Target {
                    start,
                    end,
                    class: class(&examples[i].label),
                    weight,
                    source,
                    soft: soft.map(|q| q[i]),
                    appended: examples[i].span.is_none(),
                })
                .collect(),
            sentence: None,
        });
        for (k, &i) in kept.iter().enumerate() {
            map[i] = Some((g, k));
        }
    }
    (out, map)
}

/// One example as a one-sentence document whose one tracked company
/// ("T") is the example's target (appended after `[SEP]` when absent from
/// the text, as in training): how the stance stage's [`TargetModel`]
/// reads an example.
pub fn one_target_doc(id: usize, e: &StanceExample) -> Doc {
    let (text, spans) = features::with_targets(&e.text, &[(e.target.as_str(), e.span)]);
    let (start, end) = spans[0];
    let mut d = Doc::from_sentences(id.to_string(), &[(text.as_str(), SentenceKind::Content)]);
    d.entities.push(Entity::new(
        "T",
        vec![Mention {
            span: Span::new(start, end),
            sentence: 0,
            alias: "T".into(),
            reference: false,
        }],
    ));
    d
}

/// A teacher to distil (`--teacher`): a target model as the stance stage
/// takes it (one head or an ensemble). On the news sources' training
/// examples (and the user's gold mentions) the target head's loss aims at
/// `weight` × the teacher's probabilities + (1 − `weight`) × the gold label.
#[derive(Debug, Clone)]
pub struct Teacher {
    /// `encoder` and `head` as the stance stage takes them.
    pub encoder: String,
    pub heads: Vec<PathBuf>,
    pub weight: f32,
    /// Distil it on unlabeled news mentions too ([`crate::transfer`]), as
    /// one more source with a stance set's share (a field here because the
    /// transfer set has no labels without a teacher).
    pub transfer: bool,
}

/// The distillation aims of `examples`: the teacher's class probabilities
/// mixed with each gold label (see [`Teacher`]).
pub fn teacher_aims(
    model: &TargetModel,
    weight: f32,
    examples: &[StanceExample],
    progress: Progress,
) -> Result<Vec<[f32; SOFT_CLASSES]>, String> {
    if model.labels() != LABELS {
        return Err(format!(
            "the teacher's labels are {:?}, not {:?}",
            model.labels(),
            LABELS
        ));
    }
    let mut aims = Vec::with_capacity(examples.len());
    for (c, chunk) in examples.chunks(256).enumerate() {
        let docs: Vec<Doc> = chunk
            .iter()
            .enumerate()
            .map(|(i, e)| one_target_doc(i, e))
            .collect();
        let (read, probs) = model.read(&docs, 64).map_err(|e| e.to_string())?;
        let mut of_doc: Vec<Option<&Vec<f32>>> = vec![None; chunk.len()];
        for (m, p) in read.iter().zip(&probs) {
            of_doc[m.doc] = Some(p);
        }
        for (e, p) in chunk.iter().zip(of_doc) {
            let p = p.ok_or_else(|| {
                format!("the teacher did not read {:?} in {:?}", e.target, e.text)
            })?;
            aims.push(aim(p, class(&e.label), weight));
        }
        progress(
            "teacher",
            (c * 256 + chunk.len()).min(examples.len()),
            examples.len(),
        );
    }
    Ok(aims)
}

/// `weight` × the teacher's probabilities `p` + (1 − `weight`) × one-hot
/// at `gold`.
fn aim(p: &[f32], gold: usize, weight: f32) -> [f32; SOFT_CLASSES] {
    let mut q = [0f32; SOFT_CLASSES];
    for (k, q) in q.iter_mut().enumerate() {
        let teacher = p.get(k).copied().unwrap_or(0.0);
        *q = weight * teacher + (1.0 - weight) * f32::from(u8::from(k == gold));
    }
    q
}

/// Appended targets per text in training (VAST has up to a dozen topics a
/// comment); evaluation keeps every target.
const TRAIN_APPENDED: usize = 4;

/// A one-pass model's target heads: the one the stages read, and the one
/// for appended targets when it was trained with one
/// ([`multitask::Params::appended_head`]).
#[derive(Clone, Copy)]
pub struct TargetHeads<'a> {
    pub target: &'a Head,
    pub appended: Option<&'a Head>,
}

impl<'a> TargetHeads<'a> {
    /// The stages' head alone.
    pub fn one(target: &'a Head) -> Self {
        TargetHeads {
            target,
            appended: None,
        }
    }

    /// Which head reads a target appended (`true`) or in its text: 1 for
    /// the appended head, 0 for the target head.
    fn side(&self, appended: bool) -> usize {
        usize::from(appended && self.appended.is_some())
    }

    /// The head of a [`TargetHeads::side`].
    fn head(&self, side: usize) -> &'a Head {
        match self.appended {
            Some(a) if side == 1 => a,
            _ => self.target,
        }
    }
}

/// The appended head stored in `dir` ([`multitask::APPENDED_DIR`]), if any.
pub(crate) fn load_appended(dir: &Path) -> Result<Option<Head>, String> {
    let d = dir.join(multitask::APPENDED_DIR);
    if d.is_dir() {
        Head::load(&d).map(Some)
    } else {
        Ok(None)
    }
}

/// Class probabilities of a one-pass model for each example (the
/// pipeline's own reading: [`StatesEncoder::states`] and
/// [`Head::one_pass_features`]), an appended target read by the appended
/// head when there is one.
pub fn one_pass_probabilities(
    enc: &StatesEncoder,
    heads: TargetHeads,
    examples: &[StanceExample],
) -> Result<Vec<Vec<f32>>, String> {
    if examples.is_empty() {
        return Ok(Vec::new());
    }
    let (groups, map) = group(examples, usize::MAX, (0, 1.0), None);
    let texts: Vec<&str> = groups.iter().map(|g| g.text.as_str()).collect();
    let states = enc.states(&texts, 64)?;
    let means: Vec<Vec<f32>> = states.iter().map(|s| s.mean()).collect();
    // Features and example indices per head (in text, appended).
    let mut x: [(Vec<Vec<f32>>, Vec<usize>); 2] = Default::default();
    for (i, m) in map.iter().enumerate() {
        let (g, k) = m.ok_or("an example was not grouped")?;
        let t = groups[g].targets[k];
        let side = heads.side(t.appended);
        let f = heads
            .head(side)
            .one_pass_features(&states[g], &means[g], t.start, t.end);
        x[side].0.push(f);
        x[side].1.push(i);
    }
    let mut out = vec![Vec::new(); examples.len()];
    for (side, (features, rows)) in x.into_iter().enumerate() {
        for (p, i) in heads.head(side).predict(&features).into_iter().zip(rows) {
            out[i] = p;
        }
    }
    Ok(out)
}

/// What [`measure`] scores a model on.
pub(crate) struct Scored<'a> {
    /// Each training source's dev part, by name.
    pub dev_parts: &'a [(String, Vec<StanceExample>)],
    /// The bundled sources trained on (test figures say which were).
    pub sources: &'a [StanceSource],
    pub gold: Option<&'a UserData>,
    /// PhraseBank's file, when the sentence head was trained on it.
    pub phrasebank: Option<&'a Path>,
    /// The training labels' majority class (the baseline of test figures).
    pub majority: usize,
}

/// A one-pass model's figures, as its manifest records them.
pub(crate) struct Figures {
    pub dev_per_source: serde_json::Map<String, serde_json::Value>,
    pub dev_macro_f1: f64,
    pub test: Vec<serde_json::Value>,
    pub sentence_head: serde_json::Map<String, serde_json::Value>,
}

/// Scores a stored one-pass model (read from its files as the stages read
/// them): the target head on each dev part and on every bundled test set
/// (next to the majority and lexicon baselines) and the gold data's, the
/// sentence head on PhraseBank's dev and test parts and the gold data's.
pub(crate) fn measure(
    enc: &StatesEncoder,
    (target_heads, sentence_head): (TargetHeads, &Head),
    data: &DataDir,
    what: &Scored,
    progress: Progress,
) -> Result<Figures, String> {
    let lex = Lexicon::builtin();
    let mut dev_per_source = serde_json::Map::new();
    // Every dev example read once: per source, and all together.
    let (mut dev_y, mut dev_pred) = (Vec::new(), Vec::new());
    for (name, d) in what.dev_parts {
        let pred = argmaxes(&one_pass_probabilities(enc, target_heads, d)?);
        let y: Vec<usize> = d.iter().map(|e| class(&e.label)).collect();
        dev_per_source.insert(name.clone(), summary(&report(&y, &pred)));
        dev_y.extend(y);
        dev_pred.extend(pred);
    }
    let mut test_sets: Vec<(String, Vec<StanceExample>, bool)> = Vec::new();
    // The bundled sets are scored whenever one of them is read.
    if !what.sources.is_empty() || what.phrasebank.is_some() {
        for s in StanceSource::ALL {
            for (name, set) in s.tests(data)? {
                test_sets.push((name, set, what.sources.contains(&s)));
            }
        }
    }
    if let Some(g) = what.gold.filter(|g| !g.test.targets.is_empty()) {
        test_sets.push(("gold-test".into(), g.test.targets.clone(), true));
    }
    let mut test = Vec::new();
    for (name, set, seen) in test_sets {
        progress(&format!("test {name}"), 0, set.len());
        let p = one_pass_probabilities(enc, target_heads, &set)?;
        let y: Vec<usize> = set.iter().map(|e| class(&e.label)).collect();
        let lexicon: Vec<usize> = set.iter().map(|e| lexicon_label(&lex, &e.text)).collect();
        let mut f = score_set(&name, &y, &argmaxes(&p), &lexicon, what.majority);
        f["source_trained_on"] = json!(seen);
        test.push(f);
    }
    let mut sentence_sets: Vec<(String, Vec<LabeledText>)> = Vec::new();
    if let Some(pb) = what.phrasebank {
        for (name, split) in [
            ("phrasebank-dev", Split::Dev),
            ("phrasebank-test", Split::Test),
        ] {
            let part = datasets::phrasebank(pb, split).map_err(|e| e.to_string())?;
            sentence_sets.push((name.into(), part));
        }
    }
    if let Some(g) = what.gold {
        for (name, part) in [("gold-dev", &g.dev), ("gold-test", &g.test)] {
            if !part.sentences.is_empty() {
                sentence_sets.push((name.into(), part.sentences.clone()));
            }
        }
    }
    let mut sentence_figures = serde_json::Map::new();
    for (name, part) in sentence_sets {
        let texts: Vec<&str> = part.iter().map(|t| t.text.as_str()).collect();
        let states = enc.states(&texts, 64)?;
        let x: Vec<Vec<f32>> = states.iter().map(|s| s.mean()).collect();
        let pred: Vec<usize> = sentence_head
            .predict(&x)
            .iter()
            .map(|p| argmax(p))
            .collect();
        let y: Vec<usize> = part.iter().map(|t| class(&t.label)).collect();
        sentence_figures.insert(name, summary(&report(&y, &pred)));
    }
    Ok(Figures {
        dev_per_source,
        dev_macro_f1: report(&dev_y, &dev_pred).macro_f1,
        test,
        sentence_head: sentence_figures,
    })
}

/// What `train stance` trains on and how.
#[derive(Debug, Clone)]
pub struct StanceSetup {
    /// The bundled sets to train on (may be empty when `gold` is given).
    pub sources: Vec<StanceSource>,
    /// Train on PhraseBank sentence labels too (the sentence head).
    pub sentences: bool,
    /// The user's gold data ([`crate::gold`]): its mentions are one more
    /// source of the target head (with the news sets' share), its sentence
    /// labels train the sentence head.
    pub gold: Option<UserData>,
    /// The loss share of FinEntity and of NewsMTSC each (a stance set's is 1).
    pub news_share: f64,
    /// Distil a teacher's probabilities on the news sources and the gold
    /// mentions.
    pub teacher: Option<Teacher>,
    /// Synthetic contrast pairs ([`crate::contrast`]) added to the news
    /// sources' training parts, split between them by size, each pair drawn
    /// within one source (0: none). A teacher reads them like any example.
    pub contrast_pairs: usize,
    pub params: Params,
}

/// The transfer set's name in the manifest.
const TRANSFER: &str = "transfer";

/// Most transfer examples (evenly spaced), so that the teacher's pass and an
/// epoch stay within an hour here.
const TRANSFER_CAP: usize = 4000;

/// FinEntity's and NewsMTSC's share of the target loss unless `--news-share`.
pub const DEFAULT_NEWS_SHARE: f64 = 2.0;

/// Trains the shared encoder and both heads; writes the target head (with
/// the adapters) to `target_out` and the sentence head to `sentence_out`;
/// returns the target head's manifest.
pub fn train_stance(
    enc: &Encoder,
    data: &DataDir,
    (target_out, sentence_out): (&Path, &Path),
    setup: &StanceSetup,
    command: &str,
    progress: Progress,
) -> Result<Manifest, String> {
    let started = Instant::now();
    let gold = setup.gold.as_ref();
    if setup.sources.is_empty() && gold.is_none_or(|g| g.train.targets.is_empty()) {
        return Err(
            "no sources to train on (no stance set and no entity mention in the gold data)".into(),
        );
    }
    let mut train = Vec::new();
    let mut parts = Vec::new();
    // (name, its dev part)
    let mut dev_parts: Vec<(String, Vec<StanceExample>)> = Vec::new();
    let mut names = Vec::new();
    let mut shares: Vec<f64> = Vec::new();
    let mut sizes = serde_json::Map::new();
    for &s in &setup.sources {
        let t = thin(s.part(data, Split::Train)?, s.train_cap());
        let d = s.part(data, Split::Dev)?;
        sizes.insert(s.name().into(), json!({"train": t.len(), "dev": d.len()}));
        train.extend(t.clone());
        parts.push(t);
        dev_parts.push((s.name().to_string(), d));
        names.push(s.name().to_string());
        // Each source's share of the loss (`StanceSource::share`), whatever its size.
        shares.push(s.share(setup.news_share));
    }
    if let Some(g) = gold.filter(|g| !g.train.targets.is_empty()) {
        sizes.insert(
            "gold".into(),
            json!({"train": g.train.targets.len(), "dev": g.dev.targets.len()}),
        );
        train.extend(g.train.targets.clone());
        parts.push(g.train.targets.clone());
        dev_parts.push(("gold".into(), g.dev.targets.clone()));
        names.push("gold".into());
        shares.push(setup.news_share);
    }
    add_contrast_pairs(
        &setup.sources,
        &mut parts,
        setup.contrast_pairs,
        setup.params.seed,
        &mut sizes,
    );
    // The labeled parts: what the dev score weighs (the transfer set has no dev part).
    let labeled = parts.len();
    let labeled_share: f64 = shares.iter().sum();
    if setup.teacher.as_ref().is_some_and(|t| t.transfer) {
        let t = thin(crate::transfer::news_mentions(data)?, TRANSFER_CAP);
        sizes.insert(TRANSFER.into(), json!({"train": t.len(), "dev": 0}));
        parts.push(t);
        names.push(TRANSFER.into());
        shares.push(1.0);
    }
    let total_share: f64 = shares.iter().sum();
    let total_examples: usize = parts.iter().map(Vec::len).sum();
    let teacher = match &setup.teacher {
        Some(t) => {
            let ctx = BuildContext {
                base_dir: ".".into(),
                companies: Vec::new(),
            };
            let model = TargetModel::load(&t.encoder, &t.heads, &ctx)
                .map_err(|e| format!("--teacher: {}", e.message))?;
            Some((model, t.weight))
        }
        None => None,
    };
    let mut distilled = Vec::new();
    let mut train_ex = Vec::new();
    let mut weights = serde_json::Map::new();
    for (i, part) in parts.iter().enumerate() {
        let w = (shares[i] / total_share * total_examples as f64 / part.len().max(1) as f64) as f32;
        weights.insert(names[i].clone(), json!(w));
        let news = names[i] == "gold" || setup.sources.get(i).is_some_and(|s| s.is_news());
        // The teacher's weight in the aim: the whole aim on the unlabeled
        // transfer set, the chosen share on the news sources.
        let aims = match &teacher {
            Some((model, weight)) if i >= labeled || news => {
                distilled.push(names[i].clone());
                let weight = if i >= labeled { 1.0 } else { *weight };
                Some(teacher_aims(model, weight, part, progress)?)
            }
            _ => None,
        };
        train_ex.extend(group(part, TRAIN_APPENDED, (i, w), aims.as_deref()).0);
    }
    drop(teacher);
    let mut dev_ex = Vec::new();
    for (i, (_, d)) in dev_parts.iter().enumerate() {
        dev_ex.extend(group(d, usize::MAX, (i, 1.0), None).0);
    }
    let sentence_examples = |v: Vec<LabeledText>| -> Vec<Example> {
        v.into_iter()
            .map(|t| Example {
                sentence: Some(class(&t.label)),
                text: t.text,
                targets: Vec::new(),
            })
            .collect()
    };
    let pb = if setup.sentences {
        Some(data.file("phrasebank/Sentences_50Agree.txt")?)
    } else {
        None
    };
    if let Some(pb) = &pb {
        let part = |split| datasets::phrasebank(pb, split).map_err(|e| e.to_string());
        train_ex.extend(sentence_examples(part(Split::Train)?));
        dev_ex.extend(sentence_examples(part(Split::Dev)?));
    }
    if let Some(g) = gold {
        train_ex.extend(sentence_examples(g.train.sentences.clone()));
        dev_ex.extend(sentence_examples(g.dev.sentences.clone()));
    }
    let targets_train: usize = train_ex.iter().map(|e| e.targets.len()).sum();
    // Selection: the mean of the target head's dev macro-F1 per source
    // (weighted by the sources' shares) and the sentence head's.
    let score = |p: &Predictions| {
        let mut t = 0.0;
        for (i, share) in shares[..labeled].iter().enumerate() {
            let (g, q): (Vec<usize>, Vec<usize>) = p
                .target_source
                .iter()
                .zip(p.target_gold.iter().zip(&p.target_pred))
                .filter(|(s, _)| **s == i)
                .map(|(_, (g, q))| (*g, *q))
                .unzip();
            t += share / labeled_share * report(&g, &q).macro_f1;
        }
        if p.sentence_gold.is_empty() {
            t
        } else {
            (t + report(&p.sentence_gold, &p.sentence_pred).macro_f1) / 2.0
        }
    };
    let trained = multitask::fine_tune(
        enc.base.clone(),
        enc.repo,
        (&train_ex, &dev_ex),
        setup.params,
        score,
        progress,
    )?;
    trained.save(target_out, sentence_out)?;
    let rank = setup.params.adapt.rank();
    let manifest = |task: &str, dim: usize, top: Option<String>| Manifest {
        task: task.into(),
        labels: LABELS.iter().map(|s| s.to_string()).collect(),
        input_dim: dim,
        hidden: 0,
        encoder: enc.base.id().to_string(),
        target_features: None,
        tuned_layers: setup.params.layers,
        lora_rank: rank,
        one_pass: true,
        context_tokens: 0,
        attend_tokens: 0,
        encoder_top: top,
        training: serde_json::Value::Null,
    };
    let dim = trained.encoder.dim();
    let rel = relative_top(sentence_out, target_out);
    drop(trained.encoder);
    // Figures come from the stored (float16) files, loaded as the stages load them.
    let enc_stored = stancepipe_encoder::states::load(
        enc.base.clone(),
        enc.repo,
        Spec {
            layers: setup.params.layers,
            adapt: setup.params.adapt,
            pooling: Pooling::Mean,
        },
        Some(&target_out.join(TOP_FILE)),
    )
    .map_err(|e| e.to_string())?;
    let (context, attend) = (setup.params.context, setup.params.attend);
    let mut target_m = manifest(
        "target-sentiment",
        stancepipe_encoder::features::one_pass_target_parts(context, attend) * dim,
        None,
    );
    target_m.hidden = setup.params.target_hidden;
    target_m.context_tokens = context;
    target_m.attend_tokens = attend;
    let mut sentence_m = manifest("sentence-sentiment", dim, Some(rel));
    let appended = trained.appended_head.is_some();
    write_manifests(
        (&target_m, target_out),
        (&sentence_m, sentence_out),
        appended,
    )?;
    let target_head = Head::load(target_out)?;
    let appended_head = load_appended(target_out)?;
    let sentence_head = Head::load(sentence_out)?;

    let maj = majority(&train.iter().map(|e| class(&e.label)).collect::<Vec<_>>());
    let figures = measure(
        &enc_stored,
        (
            TargetHeads {
                target: &target_head,
                appended: appended_head.as_ref(),
            },
            &sentence_head,
        ),
        data,
        &Scored {
            dev_parts: &dev_parts,
            sources: &setup.sources,
            gold,
            phrasebank: pb.as_deref(),
            majority: maj,
        },
        progress,
    )?;
    let p = setup.params;
    let training = json!({
        "command": command,
        "data": {"sources": names,
                 "sentences": match (setup.sentences, gold.is_some_and(|g| !g.train.sentences.is_empty())) {
                     (true, true) => "phrasebank/Sentences_50Agree.txt (split train/dev) and the gold data's sentence labels",
                     (true, false) => "phrasebank/Sentences_50Agree.txt (split train/dev)",
                     (false, true) => "the gold data's sentence labels",
                     (false, false) => "none (the sentence head is untrained)",
                 },
                 "gold": gold.map(UserData::describe),
                 "sizes": sizes, "train_texts": train_ex.len(), "train_targets": targets_train,
                 "source_loss_weights": weights,
                 "note": "stance labels mapped favor -> positive, against -> negative, none -> neutral; a target not in its text is appended after [SEP]; at most 4 appended targets per training text; each source's loss weight gives it its share (finentity, newsmtsc and gold data news_share, the others 1) whatever its size", "news_share": setup.news_share, "contrast_pairs": setup.contrast_pairs,
                 "teacher": setup.teacher.as_ref().map(|t| json!({
                     "heads": t.heads, "weight": t.weight, "distilled": distilled,
                     "note": "on the distilled sources the target loss aims at weight x the teacher's probabilities + (1 - weight) x the gold label; on the unlabeled transfer set at the teacher's probabilities alone"}))},
        "fit": {"method": format!("rank-{} LoRA adapters on the top {} layers, a target head and a sentence head trained together", rank, p.layers),
                "epochs": p.epochs, "batch": p.batch, "lr_encoder": p.lr_encoder, "lr_head": p.lr_head,
                "weight_decay": p.weight_decay, "seed": p.seed,
                "appended_head": p.appended_head.then_some("appended targets (stance topics) read by their own head, saved in appended/ (dev and test figures of appended targets come from it; the stages read only the target head)"),
                "selection": "best epoch by the mean of (target dev macro-F1 per source, weighted by the shares) and PhraseBank dev macro-F1"},
        "best_epoch": trained.epoch, "dev_score_per_epoch": trained.history,
        "dev_macro_f1": figures.dev_macro_f1,
        "dev_per_source": figures.dev_per_source,
        "test": figures.test,
        "sentence_head": figures.sentence_head,
        "seconds": started.elapsed().as_secs_f64(),
        "labels_note": "stance toward the target: positive -> favor, negative -> against, neutral -> none",
    });
    target_m.training = training.clone();
    sentence_m.training = json!({"trained_with": target_out.display().to_string(), "command": command,
        "figures": training["sentence_head"].clone()});
    write_manifests(
        (&target_m, target_out),
        (&sentence_m, sentence_out),
        appended,
    )?;
    Ok(target_m)
}

/// Writes the target head's and the sentence head's manifests, and with an
/// appended head the target head's again in its folder (same record,
/// figures included): before the figures (the heads are loaded by them) and
/// after (with the training record).
fn write_manifests(
    (target_m, target_out): (&Manifest, &Path),
    (sentence_m, sentence_out): (&Manifest, &Path),
    appended: bool,
) -> Result<(), String> {
    let appended_out = target_out.join(multitask::APPENDED_DIR);
    let mut written = vec![(target_m, target_out), (sentence_m, sentence_out)];
    if appended {
        written.push((target_m, appended_out.as_path()));
    }
    for (m, d) in written {
        let text = serde_json::to_string_pretty(m).map_err(|e| e.to_string())?;
        std::fs::write(d.join("manifest.json"), text)
            .map_err(|e| format!("{}: {e}", d.display()))?;
    }
    Ok(())
}

/// The target head's adapters file as seen from `sentence_out`.
pub(crate) fn relative_top(sentence_out: &Path, target_out: &Path) -> String {
    let same_parent = sentence_out.parent() == target_out.parent();
    match (same_parent, target_out.file_name()) {
        (true, Some(name)) => format!("../{}/{TOP_FILE}", name.to_string_lossy()),
        _ => target_out
            .canonicalize()
            .unwrap_or_else(|_| target_out.to_path_buf())
            .join(TOP_FILE)
            .display()
            .to_string(),
    }
}

/// The default recipe (docs/quality.md): the target head's recipe of the
/// previous default (rank-8 LoRA on all six layers, encoder rate 5e-4).
pub fn default_params(seed: i64, epochs: usize) -> Params {
    Params {
        layers: 6,
        adapt: Adapt::Lora(8),
        epochs,
        batch: 32,
        lr_encoder: 5e-4,
        lr_head: 2e-3,
        weight_decay: 1e-2,
        seed,
        target_classes: LABELS.len(),
        sentence_classes: LABELS.len(),
        context: 0,
        attend: 0,
        target_hidden: 0,
        appended_head: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(text: &str, target: &str, span: Option<(usize, usize)>, label: &str) -> StanceExample {
        StanceExample {
            id: String::new(),
            text: text.into(),
            target: target.into(),
            span,
            label: label.into(),
        }
    }

    #[test]
    fn one_text_one_example_targets_inside_or_appended() {
        let v = vec![
            ex("Trump is great", "Trump", Some((0, 5)), "positive"),
            ex("Trump is great", "Hillary", None, "negative"),
            ex("Other text", "topic", None, "neutral"),
        ];
        let (g, map) = group(&v, 4, (0, 1.0), None);
        assert_eq!(g.len(), 2);
        assert_eq!(map, vec![Some((0, 0)), Some((0, 1)), Some((1, 0))]);
        let t = g[0].targets[1];
        assert_eq!(&g[0].text[t.start..t.end], "Hillary");
        assert_eq!(t.class, 1);
        assert_eq!(&g[0].text[..14], "Trump is great");
        let t0 = g[0].targets[0];
        assert_eq!(&g[0].text[t0.start..t0.end], "Trump");
        // Appended targets are marked so (the appended head reads them).
        assert!(t.appended && !t0.appended && g[1].targets[0].appended);
        // The cap drops appended targets beyond it, never in-text ones.
        let (g, map) = group(&v, 0, (0, 1.0), None);
        assert_eq!(g[0].targets.len(), 1);
        assert_eq!(map, vec![Some((0, 0)), None, None]);
        assert!(g[1].targets.is_empty());
    }

    #[test]
    fn contrast_pairs_go_to_the_news_parts_by_size_within_each_source() {
        let part = |tag: &str, n: usize| -> Vec<StanceExample> {
            (0..n)
                .map(|i| {
                    let (target, label) = (
                        format!("{tag}{i}"),
                        ["positive", "negative", "neutral"][i % 3],
                    );
                    let text = format!("{target} rose.");
                    let mut e = ex(&text, &target, Some((0, target.len())), label);
                    e.id = format!("{tag}{i}");
                    e
                })
                .collect()
        };
        let sources = [
            StanceSource::FinEntity,
            StanceSource::Vast,
            StanceSource::NewsMtsc,
        ];
        let mut parts = vec![part("fin", 30), part("vast", 30), part("mtsc", 90)];
        let mut sizes = serde_json::Map::new();
        for s in sources {
            sizes.insert(s.name().into(), json!({"train": 0}));
        }
        add_contrast_pairs(&sources, &mut parts, 40, 13, &mut sizes);
        // 40 pairs split 30 : 90 between the two news sets; VAST untouched.
        assert_eq!(parts[0].len(), 30 + 2 * 10);
        assert_eq!(parts[1].len(), 30);
        assert_eq!(parts[2].len(), 90 + 2 * 30);
        assert_eq!(sizes["newsmtsc"]["contrast_examples"], 60);
        for (p, tag, other) in [(&parts[0], "fin", "mtsc"), (&parts[2], "mtsc", "fin")] {
            for e in &p[p.len() - 4..] {
                // Both clauses from the source's own part; each target keeps its span.
                assert!(
                    e.text.contains(tag) && !e.text.contains(other),
                    "{}",
                    e.text
                );
                let (a, b) = e.span.unwrap();
                assert_eq!(&e.text[a..b], e.target);
            }
        }
        let before = parts.clone();
        add_contrast_pairs(&sources, &mut parts, 0, 13, &mut sizes);
        assert_eq!(parts, before, "0 pairs add nothing");
    }

    #[test]
    fn soft_aims_follow_their_examples_into_the_groups() {
        let v = vec![
            ex("Acme beats Initech", "Initech", Some((11, 18)), "negative"),
            ex("Other text", "topic", None, "neutral"),
            ex("Acme beats Initech", "Acme", Some((0, 4)), "positive"),
        ];
        let aims = [[0.1, 0.8, 0.1], [0.2, 0.2, 0.6], [0.7, 0.2, 0.1]];
        let (g, map) = group(&v, 4, (0, 1.0), Some(&aims));
        for (i, m) in map.iter().enumerate() {
            let (gi, k) = m.unwrap();
            let t = g[gi].targets[k];
            assert_eq!(&g[gi].text[t.start..t.end], v[i].target);
            assert_eq!(t.soft, Some(aims[i]));
        }
        assert!(group(&v, 4, (0, 1.0), None).0[0].targets[0].soft.is_none());
    }

    #[test]
    fn an_aim_mixes_the_teacher_with_the_gold_label() {
        let q = aim(&[0.6, 0.3, 0.1], 1, 0.5);
        let want = [0.3, 0.65, 0.05];
        for k in 0..3 {
            assert!((q[k] - want[k]).abs() < 1e-6, "{q:?}");
        }
        assert_eq!(aim(&[0.6, 0.3, 0.1], 2, 0.0), [0.0, 0.0, 1.0]);
        assert!((aim(&[0.6, 0.3, 0.1], 2, 1.0)[0] - 0.6).abs() < 1e-6);
    }

    #[test]
    fn one_target_doc_tracks_the_target_where_it_is_shown() {
        let d = one_target_doc(
            3,
            &ex("Acme beats Initech", "Initech", Some((11, 18)), "negative"),
        );
        let m = &d.entities[0].mentions[0];
        assert_eq!(&d.text[m.span.start..m.span.end], "Initech");
        let d = one_target_doc(4, &ex("Prices rise", "inflation", None, "negative"));
        let m = &d.entities[0].mentions[0];
        assert_eq!(&d.text[m.span.start..m.span.end], "inflation");
        assert!(d.text.starts_with("Prices rise"));
    }

    #[test]
    fn thin_keeps_evenly_spaced_items() {
        assert_eq!(thin((0..10).collect(), 5), vec![0, 2, 4, 6, 8]);
        assert_eq!(thin(vec![1, 2], 5), vec![1, 2]);
    }
}
