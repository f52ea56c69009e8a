//! One encoder pass per sentence, read by every head that needs it.
//!
//! [`StatesEncoder`] runs the (tuned) encoder once over a sentence and keeps
//! its final token states with each token's byte offsets in the sentence
//! ([`TextStates`]). A sentence head pools all of them (the mean, as the
//! base model does); a target head pools them twice, over the sentence and
//! over the tokens of one mention, so every mention of a sentence is read
//! from the same pass. The states of recent sentences are kept in a bounded
//! cache inside the encoder, so two stages over the same encoder (classify,
//! then stance) share the pass: the work is shared through this library, not
//! through the document.
//!
//! Tokens come from the model's Hugging Face `tokenizer.json` (the
//! tokenizer sentence-transformers uses), which gives byte offsets.
//! Sentences longer than one model window ([`MAX_TOKENS`], the model's
//! `max_seq_length`) are cut into overlapping windows; each token's state is
//! taken from the window where it is farthest from an edge. Cost and memory
//! are linear in the sentence's length. Training truncates to one window
//! ([`StatesEncoder::encode_one_window`]), which is what every sentence up to
//! that length gets at inference too.

use crate::tuned::TunedEncoder;
use crate::{length_groups, malformed, Embed};
use stancepipe_core::{ModelError, ModelRepo};
use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tch::{Kind, Tensor};

/// Tokens per model window, `[CLS]` and `[SEP]` included (all-MiniLM-L6-v2's
/// `max_seq_length`).
pub const MAX_TOKENS: usize = 256;

/// Tokens two neighbouring windows share, so that no token is read at a
/// window's edge without context on both sides.
pub const OVERLAP: usize = 32;

/// Bytes of token states the cache keeps (about 100,000 tokens of MiniLM):
/// far more than a batch of documents needs, far less than the machine has.
pub const CACHE_BYTES: usize = 160 << 20;

/// Texts run through any [`StatesEncoder`] of this process (cache misses),
/// and texts served from a cache: the benchmark's count of encoder passes.
static PASSES: AtomicU64 = AtomicU64::new(0);
static HITS: AtomicU64 = AtomicU64::new(0);

/// `(texts encoded, texts served from the cache)` since the process started.
pub fn pass_counts() -> (u64, u64) {
    (PASSES.load(Ordering::Relaxed), HITS.load(Ordering::Relaxed))
}

/// The final token states of one text.
#[derive(Debug, Clone, PartialEq)]
pub struct TextStates {
    /// Byte offsets into the text of each content token (specials excluded).
    offsets: Vec<(usize, usize)>,
    /// Row-major `[1 + tokens + 1, dim]`: `[CLS]`, the content tokens, `[SEP]`.
    rows: Vec<f32>,
    dim: usize,
    normalize: bool,
}

impl TextStates {
    /// Content tokens (specials excluded).
    pub fn tokens(&self) -> usize {
        self.offsets.len()
    }

    /// Byte offsets into the text of each content token.
    pub fn offsets(&self) -> &[(usize, usize)] {
        &self.offsets
    }

    /// The final state of content token `r` (0-based; specials excluded).
    pub fn token_row(&self, r: usize) -> &[f32] {
        &self.rows[(r + 1) * self.dim..(r + 2) * self.dim]
    }

    fn bytes(&self) -> usize {
        self.rows.len() * 4 + self.offsets.len() * 16
    }

    fn mean_of(&self, rows: std::ops::Range<usize>) -> Vec<f32> {
        let mut out = vec![0f32; self.dim];
        let n = rows.len().max(1) as f32;
        for r in rows {
            let row = &self.rows[r * self.dim..(r + 1) * self.dim];
            out.iter_mut().zip(row).for_each(|(o, x)| *o += x);
        }
        out.iter_mut().for_each(|o| *o /= n);
        if self.normalize {
            let norm = out.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
            out.iter_mut().for_each(|o| *o /= norm);
        }
        out
    }

    /// The sentence embedding: the mean over every row (specials included,
    /// as sentence-transformers pools), normalized as the model normalizes.
    pub fn mean(&self) -> Vec<f32> {
        self.mean_of(0..self.offsets.len() + 2)
    }

    /// Rows of the content tokens overlapping bytes `[start, end)`, if any.
    pub fn span_rows(&self, start: usize, end: usize) -> Option<std::ops::Range<usize>> {
        span_rows(&self.offsets, start, end)
    }

    /// A target head's features for the target at bytes `[start, end)`:
    /// the sentence embedding followed by the mean of the target's own token
    /// states (the sentence embedding again when no token covers it) and,
    /// when `context > 0`, the mean of the content tokens within `context`
    /// tokens on either side of the target (its local context; the sentence
    /// embedding when no token covers the target). Training builds the same
    /// rows ([`context_rows`]).
    pub fn target_features(&self, start: usize, end: usize, context: usize) -> Vec<f32> {
        self.target_features_with(&self.mean(), start, end, context)
    }

    /// [`Self::target_features`] with the sentence embedding already
    /// computed (`mean`), so that many mentions of one long sentence cost
    /// their own tokens, not the sentence's each.
    pub fn target_features_with(
        &self,
        mean: &[f32],
        start: usize,
        end: usize,
        context: usize,
    ) -> Vec<f32> {
        let rows = self.span_rows(start, end);
        let mut f = mean.to_vec();
        match &rows {
            Some(r) => f.extend(self.mean_of(r.clone())),
            None => f.extend_from_slice(mean),
        }
        if context > 0 {
            match rows {
                Some(r) => f.extend(self.mean_of(context_rows(r, self.tokens(), context))),
                None => f.extend_from_slice(mean),
            }
        }
        f
    }

    /// The attention of the target at bytes `[start, end)` over the states
    /// within `band` tokens on either side of it ([`crate::attend`]), its
    /// pooled span as the query; the sentence embedding (`mean`) when no
    /// token covers the target, as the other parts do.
    pub fn attended(
        &self,
        attend: &crate::attend::Attend,
        mean: &[f32],
        start: usize,
        end: usize,
        band: usize,
    ) -> Vec<f32> {
        let Some(rows) = self.span_rows(start, end) else {
            return mean.to_vec();
        };
        let query = self.mean_of(rows.clone());
        let around = context_rows(rows, self.tokens(), band);
        let n = around.len() as i64;
        let dim = self.dim as i64;
        let states = Tensor::from_slice(&self.rows[around.start * self.dim..around.end * self.dim])
            .view([n, dim]);
        let out = tch::no_grad(|| {
            attend.forward(
                &Tensor::from_slice(&query).view([1, dim]),
                &states,
                &Tensor::ones([1, n], (Kind::Bool, tch::Device::Cpu)),
                self.normalize,
            )
        });
        Vec::<f32>::try_from(out.view([-1])).unwrap_or_else(|_| mean.to_vec())
    }
}

/// The rows of a target's local context: its own rows widened by `context`
/// on each side, within the content rows `1..=tokens` (`[CLS]` and `[SEP]`
/// excluded).
pub fn context_rows(
    rows: std::ops::Range<usize>,
    tokens: usize,
    context: usize,
) -> std::ops::Range<usize> {
    rows.start.saturating_sub(context).max(1)..(rows.end + context).min(tokens + 1)
}

/// Rows (1-based, past `[CLS]`) of the tokens of `offsets` that overlap
/// bytes `[start, end)`, if any. Offsets are sorted: a binary search.
pub fn span_rows(
    offsets: &[(usize, usize)],
    start: usize,
    end: usize,
) -> Option<std::ops::Range<usize>> {
    let first = offsets.partition_point(|&(_, e)| e <= start);
    let last = offsets.partition_point(|&(s, _)| s < end);
    (first < last).then_some(first + 1..last + 1)
}

/// A tokenized text: content token ids and their byte offsets.
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    pub ids: Vec<u32>,
    pub offsets: Vec<(usize, usize)>,
}

/// Windows `[start, end)` of content tokens covering `n` tokens, each at
/// most `width` long, neighbours sharing [`OVERLAP`] tokens.
fn windows(n: usize, width: usize) -> Vec<(usize, usize)> {
    if n <= width {
        return vec![(0, n)];
    }
    let stride = width.saturating_sub(OVERLAP).max(1);
    let mut out = Vec::new();
    let mut start = 0;
    loop {
        let end = (start + width).min(n);
        out.push((end.saturating_sub(width), end));
        if end == n {
            return out;
        }
        start += stride;
    }
}

/// The window each token's state comes from: the one where it is farthest
/// from an edge (ties: the earlier window).
fn owners(n: usize, wins: &[(usize, usize)]) -> Vec<usize> {
    let mut owner = vec![0usize; n];
    let mut best = vec![0usize; n];
    for (w, &(s, e)) in wins.iter().enumerate() {
        for t in s..e {
            let margin = (t - s).min(e - 1 - t) + 1;
            if margin > best[t] {
                best[t] = margin;
                owner[t] = w;
            }
        }
    }
    owner
}

/// Recent texts' states, evicted oldest first beyond [`CACHE_BYTES`].
#[derive(Default)]
struct Cache {
    map: HashMap<String, Arc<TextStates>>,
    order: VecDeque<String>,
    bytes: usize,
}

impl Cache {
    fn insert(&mut self, text: &str, states: Arc<TextStates>) {
        if self.map.contains_key(text) || states.bytes() > CACHE_BYTES {
            return;
        }
        self.bytes += states.bytes();
        self.map.insert(text.to_string(), states);
        self.order.push_back(text.to_string());
        while self.bytes > CACHE_BYTES {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            if let Some(s) = self.map.remove(&old) {
                self.bytes -= s.bytes();
            }
        }
    }
}

/// A tuned encoder read one pass per text (see the module documentation).
pub struct StatesEncoder {
    tokenizer: tokenizers::Tokenizer,
    encoder: TunedEncoder,
    cls: u32,
    sep: u32,
    cache: Mutex<Cache>,
}

impl StatesEncoder {
    /// Wraps `encoder` with the tokenizer of `repo` (`tokenizer.json`).
    pub fn new(encoder: TunedEncoder, repo: &ModelRepo) -> Result<Self, ModelError> {
        let path = repo.file(&["tokenizer.json"])?;
        let mut tokenizer =
            tokenizers::Tokenizer::from_file(&path).map_err(|e| malformed(&path, e))?;
        tokenizer
            .with_truncation(None)
            .map_err(|e| malformed(&path, e))?;
        tokenizer.with_padding(None);
        let id = |t: &str| {
            tokenizer
                .token_to_id(t)
                .ok_or_else(|| malformed(&path, format!("no {t} token")))
        };
        let (cls, sep) = (id("[CLS]")?, id("[SEP]")?);
        Ok(StatesEncoder {
            tokenizer,
            encoder,
            cls,
            sep,
            cache: Mutex::new(Cache::default()),
        })
    }

    /// The tuned encoder underneath (training reads its layers).
    pub fn encoder(&self) -> &TunedEncoder {
        &self.encoder
    }

    /// Content tokens of `text` with byte offsets, uncut.
    pub fn tokenize(&self, text: &str) -> Result<Tokens, String> {
        let enc = self
            .tokenizer
            .encode(text, false)
            .map_err(|e| e.to_string())?;
        Ok(Tokens {
            ids: enc.get_ids().to_vec(),
            offsets: enc.get_offsets().to_vec(),
        })
    }

    /// `[CLS] tokens [SEP]` of the first window of `text` (training's view:
    /// the same as inference for every text of at most one window).
    pub fn encode_one_window(&self, text: &str) -> Result<(Vec<i64>, Tokens), String> {
        let mut t = self.tokenize(text)?;
        t.ids.truncate(MAX_TOKENS - 2);
        t.offsets.truncate(MAX_TOKENS - 2);
        Ok((self.with_specials(&t.ids), t))
    }

    fn with_specials(&self, ids: &[u32]) -> Vec<i64> {
        let mut out = Vec::with_capacity(ids.len() + 2);
        out.push(i64::from(self.cls));
        out.extend(ids.iter().map(|&i| i64::from(i)));
        out.push(i64::from(self.sep));
        out
    }

    /// Final token states of `texts`, one pass each (none for texts still in
    /// the cache), windows batched `batch_size` at a time by length.
    pub fn states(
        &self,
        texts: &[&str],
        batch_size: usize,
    ) -> Result<Vec<Arc<TextStates>>, String> {
        let mut out: Vec<Option<Arc<TextStates>>> = vec![None; texts.len()];
        let mut todo: Vec<usize> = Vec::new();
        // The first position of each text not in the cache: repeats share it.
        let mut first: HashMap<&str, usize> = HashMap::new();
        {
            let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            for (i, t) in texts.iter().enumerate() {
                if let Some(s) = cache.map.get(*t) {
                    out[i] = Some(s.clone());
                    HITS.fetch_add(1, Ordering::Relaxed);
                } else if let std::collections::hash_map::Entry::Vacant(v) = first.entry(t) {
                    v.insert(i);
                    todo.push(i);
                }
            }
        }
        // Every window of every text to encode: (text, window) -> ids.
        let mut toks = Vec::with_capacity(todo.len());
        let mut wins: Vec<(usize, usize, usize)> = Vec::new(); // (todo index, start, end)
        for (k, &i) in todo.iter().enumerate() {
            let t = self.tokenize(texts[i])?;
            for (s, e) in windows(t.ids.len(), MAX_TOKENS - 2) {
                wins.push((k, s, e));
            }
            toks.push(t);
        }
        let lens: Vec<usize> = wins.iter().map(|&(_, s, e)| e - s + 2).collect();
        let dim = self.dim();
        let mut win_rows: Vec<Vec<f32>> = vec![Vec::new(); wins.len()];
        for group in length_groups(&lens, batch_size) {
            let longest = group.iter().map(|&w| lens[w]).max().unwrap_or(0);
            let mut ids = vec![0i64; group.len() * longest];
            let mut mask = vec![0i64; group.len() * longest];
            for (r, &w) in group.iter().enumerate() {
                let (k, s, e) = wins[w];
                let row = self.with_specials(&toks[k].ids[s..e]);
                ids[r * longest..r * longest + row.len()].copy_from_slice(&row);
                mask[r * longest..r * longest + row.len()].fill(1);
            }
            let shape = [group.len() as i64, longest as i64];
            let h = self.encoder.final_states(
                &Tensor::from_slice(&ids).view(shape),
                &Tensor::from_slice(&mask).view(shape),
            )?;
            let flat = Vec::<f32>::try_from(&h.to_kind(Kind::Float).contiguous().view([-1]))
                .map_err(|e| e.to_string())?;
            for (r, &w) in group.iter().enumerate() {
                let at = r * longest * dim;
                win_rows[w] = flat[at..at + lens[w] * dim].to_vec();
            }
        }
        // Assemble each text from its windows.
        let mut next = 0;
        for (k, &i) in todo.iter().enumerate() {
            let t = &toks[k];
            let n = t.ids.len();
            let count = wins[next..].iter().take_while(|w| w.0 == k).count();
            let my: Vec<(usize, usize)> = wins[next..next + count]
                .iter()
                .map(|&(_, s, e)| (s, e))
                .collect();
            let own = owners(n, &my);
            let mut rows = Vec::with_capacity((n + 2) * dim);
            rows.extend_from_slice(&win_rows[next][..dim]); // [CLS] of the first window
            for (tok, &w) in own.iter().enumerate() {
                let (s, _) = my[w];
                let r = tok - s + 1;
                rows.extend_from_slice(&win_rows[next + w][r * dim..(r + 1) * dim]);
            }
            let last = &win_rows[next + count - 1];
            rows.extend_from_slice(&last[last.len() - dim..]); // [SEP] of the last
            next += count;
            let states = Arc::new(TextStates {
                offsets: t.offsets.clone(),
                rows,
                dim,
                normalize: self.encoder.normalizes(),
            });
            PASSES.fetch_add(1, Ordering::Relaxed);
            self.cache
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(texts[i], states.clone());
            out[i] = Some(states);
        }
        // Repeats of a text within this call share its states (a lookup,
        // not a scan: a batch of many equal sentences stays linear).
        for i in 0..texts.len() {
            if out[i].is_none() {
                out[i] = first.get(texts[i]).and_then(|&j| out[j].clone());
            }
        }
        out.into_iter()
            .map(|s| s.ok_or_else(|| "a text was not encoded".to_string()))
            .collect()
    }
}

/// A one-pass encoder is also a sentence embedder (the mean of its token
/// states), which is how a sentence head reads it: a classify stage over it
/// fills the cache that the stance stage then reads.
impl Embed for StatesEncoder {
    fn id(&self) -> &str {
        self.encoder.id()
    }

    fn dim(&self) -> usize {
        self.encoder.base_dim()
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, String> {
        self.embed_many(texts, 64, &|_| {})
    }

    fn token_lengths(&self, texts: &[&str]) -> Vec<usize> {
        texts
            .iter()
            .map(|t| self.tokenize(t).map_or(0, |t| t.ids.len() + 2))
            .collect()
    }

    fn embed_many(
        &self,
        texts: &[&str],
        batch_size: usize,
        progress: &dyn Fn(usize),
    ) -> Result<Vec<Vec<f32>>, String> {
        let out = self
            .states(texts, batch_size)?
            .iter()
            .map(|s| s.mean())
            .collect();
        progress(texts.len());
        Ok(out)
    }
}

/// Loads a [`StatesEncoder`] from a base model and an adapters file.
pub fn load(
    base: Arc<crate::SentenceEncoder>,
    repo: &ModelRepo,
    spec: crate::Spec,
    top: Option<&Path>,
) -> Result<StatesEncoder, ModelError> {
    let tuned = TunedEncoder::load(base, repo, spec, top)?;
    StatesEncoder::new(tuned, repo)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cover_every_token_with_overlap() {
        assert_eq!(windows(0, 254), vec![(0, 0)]);
        assert_eq!(windows(10, 254), vec![(0, 10)]);
        let w = windows(600, 254);
        assert_eq!(w, vec![(0, 254), (222, 476), (346, 600)]);
        let own = owners(600, &w);
        // Every token is owned by a window that holds it.
        for (t, &o) in own.iter().enumerate() {
            assert!(w[o].0 <= t && t < w[o].1, "token {t}");
        }
        // A token near the end of window 0 comes from window 1.
        assert_eq!(own[250], 1);
        assert_eq!(own[10], 0);
        assert_eq!(own[599], 2);
        // Linear: windows grow with the length, not faster.
        assert_eq!(
            windows(254 * 1000, 254).len(),
            (254 * 1000 - 254usize).div_ceil(222) + 1
        );
    }

    fn states(offsets: &[(usize, usize)], dim: usize) -> TextStates {
        let n = offsets.len() + 2;
        TextStates {
            offsets: offsets.to_vec(),
            rows: (0..n * dim).map(|i| (i / dim) as f32).collect(),
            dim,
            normalize: false,
        }
    }

    #[test]
    fn spans_pool_the_tokens_they_overlap() {
        // "Acme Corp fell" -> acme(0,4) corp(5,9) fell(10,14)
        let s = states(&[(0, 4), (5, 9), (10, 14)], 2);
        assert_eq!(s.span_rows(0, 9), Some(1..3));
        assert_eq!(s.span_rows(5, 9), Some(2..3));
        assert_eq!(s.span_rows(6, 7), Some(2..3), "inside one token");
        assert_eq!(s.span_rows(9, 10), None, "between tokens");
        assert_eq!(s.mean(), vec![2.0, 2.0]);
        // Mean of rows 1 and 2, after the sentence mean.
        assert_eq!(s.target_features(0, 9, 0), vec![2.0, 2.0, 1.5, 1.5]);
        assert_eq!(s.target_features(9, 10, 0), vec![2.0, 2.0, 2.0, 2.0]);
        // With one token of context: "corp" (row 2) widens to rows 1..4.
        assert_eq!(
            s.target_features(5, 9, 1),
            vec![2.0, 2.0, 2.0, 2.0, 2.0, 2.0]
        );
        // "acme" (row 1) cannot widen into [CLS]: rows 1..3.
        assert_eq!(
            s.target_features(0, 4, 1),
            vec![2.0, 2.0, 1.0, 1.0, 1.5, 1.5]
        );
        assert_eq!(context_rows(1..2, 3, 5), 1..4);
    }

    #[test]
    fn attention_reads_only_the_band_around_the_mention() {
        // Draws initial weights: held so that seeded tests elsewhere stay deterministic.
        let _rng = crate::TORCH_RNG.lock().unwrap_or_else(|e| e.into_inner());
        let vs = tch::nn::VarStore::new(tch::Device::Cpu);
        let a = crate::attend::Attend::new(vs.root() / "attend", 2);
        // Six tokens, one byte each; rows hold their 1-based row number.
        let offsets: Vec<(usize, usize)> = (0..6).map(|i| (2 * i, 2 * i + 1)).collect();
        let mut s = states(&offsets, 2);
        let mean = s.mean();
        // Token 1 (row 2) with one token on either side: rows 1..4, whose
        // convex mix has both coordinates between 1 and 3.
        let before = s.attended(&a, &mean, 2, 3, 1);
        assert!(
            before.iter().all(|&x| (1.0..=3.0).contains(&x)),
            "{before:?}"
        );
        // A row outside the band (token 4, row 5) changes nothing; one inside does.
        s.rows[5 * 2] = 100.0;
        assert_eq!(s.attended(&a, &mean, 2, 3, 1), before);
        s.rows[3 * 2] = 100.0;
        assert_ne!(s.attended(&a, &mean, 2, 3, 1), before);
        // No token under the target: the sentence embedding, as the other parts.
        assert_eq!(s.attended(&a, &mean, 1, 2, 1), mean);
    }

    #[test]
    fn the_cache_is_bounded_and_keeps_the_newest() {
        let mut c = Cache::default();
        let big = Arc::new(states(&vec![(0, 1); 1000], 4096));
        let n = CACHE_BYTES / big.bytes() + 3;
        for i in 0..n {
            c.insert(&i.to_string(), big.clone());
        }
        assert!(c.bytes <= CACHE_BYTES);
        assert!(c.map.contains_key(&(n - 1).to_string()));
        assert!(!c.map.contains_key("0"));
        assert_eq!(c.map.len(), c.order.len());
    }
}
