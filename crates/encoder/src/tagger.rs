//! Token classification over one encoder pass: the organization recognizer
//! behind the tokenize stage's `discover` option.
//!
//! A [`StatesEncoder`] with its own LoRA adapters reads each sentence once
//! (windows for long ones, as every one-pass head); a small head tags every
//! word piece with a BIO tag of FiNER-ORD's three types ([`TAGS`]) from its
//! final state and the case of its word ([`case_features`]): all-MiniLM-L6-v2
//! lower-cases its input, so "Apple" and "apple" reach the encoder alike,
//! and the case reaches the head this way. [`decode`] turns the tags into
//! byte spans of whole words in the original text. Training
//! ([`fine_tune`]) sees exactly what inference sees (one window per
//! sentence, [`StatesEncoder::encode_one_window`]).

use crate::states::{self, StatesEncoder};
use crate::tuned::{batch, restore, snapshot, TOP_FILE};
use crate::{Adapt, Embed, Manifest, Pooling, SentenceEncoder, Spec};
use stancepipe_core::ModelRepo;
use std::path::Path;
use std::sync::Arc;
use tch::nn::{self, Module, OptimizerConfig};
use tch::{Device, Kind, Tensor};

/// The tags, in logit order: FiNER-ORD's label numbers.
pub const TAGS: [&str; 7] = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"];

/// The organization type's index (its tags are `B-` = 1 + 2·type, `I-` = 2 + 2·type).
pub const ORG: usize = 2;

/// Case features per word piece (see [`case_features`]).
pub const CASE_FEATURES: usize = 4;

/// The head's hidden width.
const HIDDEN: i64 = 256;

/// Maximal runs of alphanumeric characters: the words case is read from.
fn words(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (c.is_alphanumeric(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, text.len()));
    }
    out
}

/// Per word piece (`offsets` into `text`, sorted): whether its word starts
/// with a capital, is all capitals (two letters or more), whether the piece
/// begins its word, and whether the word is the sentence's first (where a
/// capital says little). Zeros for pieces outside words (punctuation).
/// Linear in the text.
pub fn case_features(text: &str, offsets: &[(usize, usize)]) -> Vec<[f32; CASE_FEATURES]> {
    let words = words(text);
    let mut w = 0;
    offsets
        .iter()
        .map(|&(s, _)| {
            while w < words.len() && words[w].1 <= s {
                w += 1;
            }
            let Some(&(ws, we)) = words.get(w).filter(|&&(ws, _)| ws <= s) else {
                return [0.0; CASE_FEATURES];
            };
            let word = &text[ws..we];
            let letters = word.chars().filter(|c| c.is_alphabetic());
            let upper = word.chars().next().is_some_and(char::is_uppercase);
            let all_caps = letters.clone().count() >= 2 && letters.clone().all(char::is_uppercase);
            let f = |b: bool| if b { 1.0 } else { 0.0 };
            [f(upper), f(all_caps), f(ws == s), f(w == 0)]
        })
        .collect()
}

/// The tag of every word piece of `offsets` from entity spans
/// `(start, end, type)`: `B-` for the first piece overlapping an entity,
/// `I-` for the rest, `O` outside.
pub fn tags_of(offsets: &[(usize, usize)], entities: &[(usize, usize, usize)]) -> Vec<usize> {
    let mut out = vec![0; offsets.len()];
    for &(a, b, t) in entities {
        let mut first = true;
        for (i, &(s, e)) in offsets.iter().enumerate() {
            if s < b && e > a {
                out[i] = if first { 1 + 2 * t } else { 2 + 2 * t };
                first = false;
            }
        }
    }
    out
}

/// Byte spans of the entities of type `kind` in the tags of word pieces
/// `offsets` of `text`. An entity starts at its `B-` tag (or an `I-` tag
/// outside one, as seqeval reads it) and runs over `I-` tags and over the
/// remaining pieces of a word it has begun; spans are widened to whole
/// words, so they never cut a word.
pub fn decode(
    text: &str,
    offsets: &[(usize, usize)],
    tags: &[usize],
    kind: usize,
) -> Vec<(usize, usize)> {
    let (b, i_tag) = (1 + 2 * kind, 2 + 2 * kind);
    let mut out = Vec::new();
    let mut open: Option<(usize, usize)> = None; // (first piece, last piece)
    let alnum_at = |at: usize| text[at..].chars().next().is_some_and(char::is_alphanumeric);
    let alnum_before = |at: usize| {
        text[..at]
            .chars()
            .next_back()
            .is_some_and(char::is_alphanumeric)
    };
    // An apostrophe between letters is inside a word ("Yu'ebao", "O'Neil"),
    // except a possessive's ("Alipay's" names Alipay): the byte past it.
    let is_apostrophe = |c: char| c == '\'' || c == '\u{2019}';
    let inner_apostrophe_after = |at: usize| -> Option<usize> {
        let mut it = text[at..].chars();
        let a = it.next().filter(|&c| is_apostrophe(c))?;
        let rest: String = it.take_while(|c| c.is_alphanumeric()).collect();
        let possessive = rest.eq_ignore_ascii_case("s");
        (alnum_before(at) && !rest.is_empty() && !possessive).then_some(at + a.len_utf8())
    };
    let inner_apostrophe_before = |at: usize| -> Option<usize> {
        let a = text[..at]
            .chars()
            .next_back()
            .filter(|&c| is_apostrophe(c))?;
        let before = at - a.len_utf8();
        (alnum_before(before) && alnum_at(at)).then_some(before)
    };
    for (k, (&tag, &(s, _))) in tags.iter().zip(offsets).enumerate() {
        let continues_word = k > 0 && offsets[k - 1].1 == s && alnum_before(s) && alnum_at(s);
        match open {
            Some((f, _)) if tag == i_tag || (continues_word && tag != b) => open = Some((f, k)),
            _ => {
                if let Some(o) = open.take() {
                    out.push(o);
                }
                if tag == b || tag == i_tag {
                    open = Some((k, k));
                }
            }
        }
    }
    out.extend(open);
    out.into_iter()
        .map(|(f, l)| {
            let mut start = offsets[f].0;
            let mut end = offsets[l].1;
            loop {
                if alnum_before(start) {
                    start -= text[..start].chars().next_back().map_or(1, char::len_utf8);
                } else if let Some(a) = inner_apostrophe_before(start) {
                    start = a;
                } else {
                    break;
                }
            }
            loop {
                if end < text.len() && alnum_at(end) {
                    end += text[end..].chars().next().map_or(1, char::len_utf8);
                } else if let Some(a) = inner_apostrophe_after(end) {
                    end = a;
                } else {
                    break;
                }
            }
            (start, end)
        })
        .fold(Vec::new(), |mut v: Vec<(usize, usize)>, span| {
            // Widening can join two neighbours into one word: keep it once.
            match v.last_mut() {
                Some(last) if last.1 > span.0 => last.1 = last.1.max(span.1),
                _ => v.push(span),
            }
            v
        })
}

/// The tagging head: `[state, case] → hidden → tags`.
struct TagHead {
    hidden: nn::Linear,
    out: nn::Linear,
}

impl TagHead {
    fn new(vs: &nn::VarStore, dim: i64) -> TagHead {
        let root = vs.root();
        TagHead {
            hidden: nn::linear(
                &root / "hidden",
                dim + CASE_FEATURES as i64,
                HIDDEN,
                Default::default(),
            ),
            out: nn::linear(&root / "out", HIDDEN, TAGS.len() as i64, Default::default()),
        }
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        self.out.forward(&self.hidden.forward(x).gelu("none"))
    }
}

/// The argmax tag of each row of `logits` `[rows, tags]`.
fn argmax_rows(logits: &Tensor) -> Vec<usize> {
    Vec::<i64>::try_from(&logits.argmax(-1, false))
        .unwrap_or_default()
        .into_iter()
        .map(|x| x as usize)
        .collect()
}

/// A trained recognizer: its encoder (with adapters) and head.
pub struct Tagger {
    states: StatesEncoder,
    /// The head and its variables (tensors are not `Sync`: one caller at a time).
    head: std::sync::Mutex<(TagHead, nn::VarStore)>,
    pub manifest: Manifest,
}

impl Tagger {
    /// Loads the recognizer in `dir` (`manifest.json`, `head.safetensors`,
    /// the adapters) over the already loaded base encoder of `repo`.
    pub fn load(
        base: Arc<SentenceEncoder>,
        repo: &ModelRepo,
        dir: &Path,
    ) -> Result<Tagger, String> {
        let path = dir.join("manifest.json");
        let manifest: Manifest = std::fs::read_to_string(&path)
            .map_err(|e| format!("{}: {e}", path.display()))
            .and_then(|t| {
                serde_json::from_str(&t).map_err(|e| format!("{}: {e}", path.display()))
            })?;
        if manifest.task != TASK || manifest.labels != TAGS {
            return Err(format!(
                "{} is a {:?} model, not an organization recognizer ({TASK:?} with tags {TAGS:?})",
                dir.display(),
                manifest.task
            ));
        }
        let spec = Spec {
            layers: manifest.tuned_layers.max(1),
            adapt: Adapt::from_rank(manifest.lora_rank),
            pooling: Pooling::Mean,
        };
        let top = dir.join(TOP_FILE);
        let tuned = (manifest.tuned_layers > 0).then_some(top.as_path());
        let states = states::load(base, repo, spec, tuned).map_err(|e| e.to_string())?;
        let dim = states.dim() as i64;
        if manifest.input_dim != states.dim() + CASE_FEATURES {
            return Err(format!(
                "{} expects {} input features; encoder {} gives {} (+{CASE_FEATURES} case features)",
                dir.display(),
                manifest.input_dim,
                states.id(),
                dim
            ));
        }
        let mut vs = nn::VarStore::new(Device::Cpu);
        let head = TagHead::new(&vs, dim);
        let h = dir.join("head.safetensors");
        vs.load(&h).map_err(|e| format!("{}: {e}", h.display()))?;
        vs.freeze();
        Ok(Tagger {
            states,
            head: std::sync::Mutex::new((head, vs)),
            manifest,
        })
    }

    /// The model id for provenance.
    pub fn id(&self) -> &str {
        self.states.id()
    }

    /// The organizations of each text: byte spans of whole words, one
    /// encoder pass per text.
    pub fn organizations(&self, texts: &[&str]) -> Result<Vec<Vec<(usize, usize)>>, String> {
        let states = self.states.states(texts, 32)?;
        let dim = self.states.dim();
        let width = dim + CASE_FEATURES;
        let total: usize = states.iter().map(|s| s.tokens()).sum();
        if total == 0 {
            return Ok(vec![Vec::new(); texts.len()]);
        }
        let mut x = Vec::with_capacity(total * width);
        for (s, text) in states.iter().zip(texts) {
            let case = case_features(text, s.offsets());
            for (r, c) in case.iter().enumerate() {
                x.extend_from_slice(s.token_row(r));
                x.extend_from_slice(c);
            }
        }
        let x = Tensor::from_slice(&x).view([total as i64, width as i64]);
        let tags = {
            let head = self.head.lock().unwrap_or_else(|e| e.into_inner());
            tch::no_grad(|| argmax_rows(&head.0.forward(&x)))
        };
        let mut at = 0;
        Ok(states
            .iter()
            .zip(texts)
            .map(|(s, text)| {
                let n = s.tokens();
                let spans = decode(text, s.offsets(), &tags[at..at + n], ORG);
                at += n;
                spans
            })
            .collect())
    }
}

/// The manifest task of a recognizer.
pub const TASK: &str = "organizations";

/// A training sentence: its entities as byte spans with their type
/// (0 PER, 1 LOC, 2 ORG).
#[derive(Debug, Clone, PartialEq)]
pub struct TagExample {
    pub text: String,
    pub entities: Vec<(usize, usize, usize)>,
}

/// Settings of a fit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    pub layers: usize,
    pub adapt: Adapt,
    pub epochs: usize,
    /// Sentences per step.
    pub batch: usize,
    pub lr_encoder: f64,
    pub lr_head: f64,
    pub weight_decay: f64,
    pub seed: i64,
}

/// A sentence's cached frozen-layer states with its pieces' case features,
/// tags (-100 at `[CLS]`/`[SEP]`) and byte offsets.
struct Item {
    states: Tensor,
    case: Vec<[f32; CASE_FEATURES]>,
    tags: Vec<i64>,
    offsets: Vec<(usize, usize)>,
}

fn cache(enc: &StatesEncoder, examples: &[TagExample]) -> Result<Vec<Item>, String> {
    let (states, tokens) =
        crate::multitask::frozen_states(enc, examples.iter().map(|e| e.text.as_str()))?;
    Ok(examples
        .iter()
        .zip(states)
        .zip(tokens)
        .map(|((e, states), toks)| {
            let mut tags = vec![-100i64];
            tags.extend(
                tags_of(&toks.offsets, &e.entities)
                    .iter()
                    .map(|&t| t as i64),
            );
            tags.push(-100);
            Item {
                states,
                case: case_features(&e.text, &toks.offsets),
                tags,
                offsets: toks.offsets,
            }
        })
        .collect())
}

/// The head's input `[rows, dim + case]` of a batch and its tags `[rows]`
/// (-100 at specials and padding).
fn inputs(
    top: &crate::tuned::Top,
    items: &[Item],
    b: &[usize],
    train: bool,
) -> (Tensor, Tensor, i64) {
    let refs: Vec<&Tensor> = b.iter().map(|&i| &items[i].states).collect();
    let (h, mask) = batch(&refs);
    let hid = top.forward_t(&h, &mask, train);
    let (n, len, dim) = hid.size3().unwrap_or((0, 0, 0));
    let mut case = vec![0f32; (n * len) as usize * CASE_FEATURES];
    let mut y = vec![-100i64; (n * len) as usize];
    for (r, &i) in b.iter().enumerate() {
        let base = r * len as usize;
        for (k, c) in items[i].case.iter().enumerate() {
            let at = (base + k + 1) * CASE_FEATURES;
            case[at..at + CASE_FEATURES].copy_from_slice(c);
        }
        y[base..base + items[i].tags.len()].copy_from_slice(&items[i].tags);
    }
    let case = Tensor::from_slice(&case).view([n, len, CASE_FEATURES as i64]);
    let x = Tensor::cat(&[hid, case], 2).view([n * len, dim + CASE_FEATURES as i64]);
    (x, Tensor::from_slice(&y), len)
}

/// The trained encoder (adapters) and head, the chosen epoch and each
/// epoch's dev score.
pub struct Trained {
    pub encoder: StatesEncoder,
    pub head: nn::VarStore,
    pub epoch: usize,
    pub history: Vec<f64>,
}

impl Trained {
    /// Writes the adapters and the head into `dir` (the manifest is the caller's).
    pub fn save(&self, dir: &Path) -> Result<(), String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        self.encoder.encoder().top().save(&dir.join(TOP_FILE))?;
        let h = dir.join("head.safetensors");
        self.head
            .save(&h)
            .map_err(|e| format!("{}: {e}", h.display()))
    }
}

/// Trains adapters and the head on `train`, keeping the epoch whose dev
/// predictions score best by `score(dev predictions)`, where a prediction
/// is the ORG spans of each dev sentence ([`decode`]). Epoch 0 trains the
/// head alone. `progress(what, done, total)`.
pub fn fine_tune(
    base: Arc<SentenceEncoder>,
    repo: &ModelRepo,
    (train, dev): (&[TagExample], &[TagExample]),
    params: Params,
    score: impl Fn(&[Vec<(usize, usize)>]) -> f64,
    progress: &dyn Fn(&str, usize, usize),
) -> Result<Trained, String> {
    tch::manual_seed(params.seed);
    let spec = Spec {
        layers: params.layers,
        adapt: params.adapt,
        pooling: Pooling::Mean,
    };
    let enc = states::load(base, repo, spec, None).map_err(|e| e.to_string())?;
    progress("encode (frozen layers)", 0, train.len());
    let train_items = cache(&enc, train)?;
    let dev_items = cache(&enc, dev)?;
    let head_vs = nn::VarStore::new(Device::Cpu);
    let head = TagHead::new(&head_vs, enc.dim() as i64);
    let by_len = |items: &[Item], size: usize| -> Vec<Vec<usize>> {
        let mut order: Vec<usize> = (0..items.len()).collect();
        order.sort_by_key(|&i| items[i].tags.len());
        order.chunks(size.max(1)).map(<[usize]>::to_vec).collect()
    };
    let train_batches = by_len(&train_items, params.batch);
    let dev_batches = by_len(&dev_items, 64);
    let top_guard = enc.encoder().top();
    let top = &*top_guard;
    let opt = |vs: &nn::VarStore, lr: f64| {
        nn::AdamW::default()
            .wd(params.weight_decay)
            .build(vs, lr)
            .map_err(|e| e.to_string())
    };
    let mut opt_top = opt(&top.vs, params.lr_encoder)?;
    let mut opt_head = opt(&head_vs, params.lr_head)?;
    let evaluate = || -> Vec<Vec<(usize, usize)>> {
        let mut out = vec![Vec::new(); dev_items.len()];
        tch::no_grad(|| {
            for b in &dev_batches {
                let (x, _, len) = inputs(top, &dev_items, b, false);
                let tags = argmax_rows(&head.forward(&x));
                for (r, &i) in b.iter().enumerate() {
                    let n = dev_items[i].offsets.len();
                    let at = r * len as usize + 1;
                    out[i] = decode(&dev[i].text, &dev_items[i].offsets, &tags[at..at + n], ORG);
                }
            }
        });
        out
    };
    let mut history = Vec::new();
    type Best = (usize, f64, [Vec<(String, Tensor)>; 2]);
    let mut best: Option<Best> = None;
    let steps = train_batches.len();
    for epoch in 0..=params.epochs {
        let perm =
            Vec::<i64>::try_from(&Tensor::randperm(steps as i64, (Kind::Int64, Device::Cpu)))
                .map_err(|e| e.to_string())?;
        for (done, &bi) in perm.iter().enumerate() {
            let b = &train_batches[bi as usize];
            let (x, y, _) = if epoch == 0 {
                tch::no_grad(|| inputs(top, &train_items, b, false))
            } else {
                inputs(top, &train_items, b, true)
            };
            let loss = head.forward(&x).cross_entropy_loss::<Tensor>(
                &y,
                None,
                tch::Reduction::Mean,
                -100,
                0.0,
            );
            opt_top.zero_grad();
            opt_head.zero_grad();
            loss.backward();
            if epoch > 0 {
                opt_top.step();
            }
            opt_head.step();
            progress(&format!("fine-tune epoch {epoch}"), done + 1, steps);
        }
        let s = score(&evaluate());
        history.push(s);
        if best.as_ref().is_none_or(|b| s > b.1) {
            best = Some((epoch, s, [snapshot(&top.vs), snapshot(&head_vs)]));
        }
    }
    let (epoch, _, [t, h]) = best.ok_or_else(|| "no epoch was trained".to_string())?;
    restore(&top.vs, &t);
    restore(&head_vs, &h);
    drop(top_guard);
    Ok(Trained {
        encoder: enc,
        head: head_vs,
        epoch,
        history,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Word pieces as the uncased WordPiece tokenizer cuts them.
    fn pieces(text: &str, cuts: &[&str]) -> Vec<(usize, usize)> {
        let mut at = 0;
        cuts.iter()
            .map(|c| {
                let s = at + text[at..].find(c).unwrap();
                at = s + c.len();
                (s, at)
            })
            .collect()
    }

    #[test]
    fn case_reaches_every_piece_of_a_word() {
        let text = "Shares of ALIBABA and jd.com rose";
        let p = pieces(
            text,
            &[
                "Shares", "of", "ALI", "BABA", "and", "jd", ".", "com", "rose",
            ],
        );
        let f = case_features(text, &p);
        assert_eq!(f[0], [1.0, 0.0, 1.0, 1.0]); // sentence-initial capital
        assert_eq!(f[2], [1.0, 1.0, 1.0, 0.0]);
        assert_eq!(f[3], [1.0, 1.0, 0.0, 0.0]); // continuation piece
        assert_eq!(f[5], [0.0, 0.0, 1.0, 0.0]);
        assert_eq!(f[6], [0.0; CASE_FEATURES]); // punctuation
    }

    #[test]
    fn tags_and_decoding_round_trip_on_whole_words() {
        let text = "Ant Group's Alipay met JD Pay.";
        let p = pieces(
            text,
            &[
                "Ant", "Group", "'", "s", "Ali", "pay", "met", "JD", "Pay", ".",
            ],
        );
        let gold = vec![(0, 9, ORG), (12, 18, ORG), (23, 29, ORG)];
        let tags = tags_of(&p, &gold);
        assert_eq!(tags, vec![5, 6, 0, 0, 5, 6, 0, 5, 6, 0]);
        let spans: Vec<(usize, usize)> = gold.iter().map(|&(a, b, _)| (a, b)).collect();
        assert_eq!(decode(text, &p, &tags, ORG), spans);
        // An I- outside an entity starts one; a word's later pieces follow
        // its first even when tagged O; a B- on a later piece is widened to
        // the whole word.
        let tags = vec![6, 0, 0, 0, 5, 0, 0, 0, 5, 0];
        assert_eq!(
            decode(text, &p, &tags, ORG),
            vec![(0, 3), (12, 18), (26, 29)]
        );
        assert!(decode(text, &p, &tags, 0).is_empty());
        // An apostrophe inside a name is part of it; a possessive is not.
        let text = "Yu'ebao and Alipay's";
        let p = pieces(
            text,
            &["Yu", "'", "e", "bao", "and", "Ali", "pay", "'", "s"],
        );
        let tags = vec![5, 0, 0, 0, 0, 5, 6, 0, 0];
        assert_eq!(decode(text, &p, &tags, ORG), vec![(0, 7), (12, 18)]);
    }
}
