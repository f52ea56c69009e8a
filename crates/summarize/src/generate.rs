//! Our own greedy and beam search over rust-bert's encoder-decoder models,
//! with `transformers` 4.44's semantics (`_sample` without sampling,
//! `_beam_search`, `BeamSearchScorer`, `BeamHypotheses`, and the
//! no-repeat-n-gram, min-length, forced BOS and forced EOS logits
//! processors).
//!
//! Why not rust-bert's `generate`: its beam search re-selects the encoder
//! output and every layer's cross-attention keys and values by beam index at
//! every step, and its attention layers copy them at every step
//! (docs/benchmarks.md, issue 17). Every beam of a document has the same
//! encoder output and cross-attention states, so this loop reorders only
//! the self-attention cache; the cross-attention states are only narrowed
//! when a document finishes and leaves the batch. Every architecture runs
//! our own decoder step ([`crate::decoder`] for BART and Pegasus,
//! [`crate::t5`] for T5), which keeps them once per document.

use crate::decoder::{Decoder, State};
use crate::encoder::Encoder;
use crate::seq2seq::GenParams;
use crate::t5::T5Decoder;
use rust_bert::t5::T5ForConditionalGeneration;
use tch::{Device, Kind, Tensor};

/// The model under the loop.
pub(crate) enum Model {
    /// BART and Pegasus: our own encoder and decoder step
    /// (`final_logits_bias` included) over rust-bert's loaded weights.
    Own(Encoder, Decoder),
    /// T5: rust-bert's encoder (run once per batch), our decoder step.
    T5(T5ForConditionalGeneration, T5Decoder),
}

/// Token ids the loop needs, from `config.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Special {
    pub decoder_start: i64,
    pub eos: i64,
    pub forced_bos: Option<i64>,
    pub forced_eos: Option<i64>,
}

/// One batch's decoding: the decoder step and its state. Rows are
/// doc-major, `beams` per document.
enum Run<'m> {
    Own(&'m Decoder, State),
    T5(&'m T5Decoder, State),
}

/// A 1-d tensor's values on the host (a failure is a bug: it panics, and
/// `Seq2Seq::generate_ids` turns the panic into an error).
fn host<T: tch::kind::Element + Copy>(t: &Tensor) -> Vec<T> {
    Vec::<T>::try_from(t.to(Device::Cpu).contiguous().view([-1]))
        .unwrap_or_else(|e| panic!("reading generation state: {e}"))
}

fn rows_tensor(rows: &[i64], device: Device) -> Tensor {
    Tensor::from_slice(rows).to(device)
}

impl<'m> Run<'m> {
    /// Encodes the batch; `steps` bounds the number of decoder steps.
    fn new(model: &'m Model, ids: &Tensor, mask: &Tensor, beams: i64, steps: i64) -> Run<'m> {
        match model {
            Model::Own(e, d) => Run::Own(d, d.start(&e.forward(ids, mask), mask, beams, steps)),
            Model::T5(m, d) => Run::T5(d, d.start(&m.encode(ids, Some(mask)), mask, beams, steps)),
        }
    }

    /// One step: the last token of each row in, float logits `[rows, vocab]` out.
    fn step(&mut self, last: &[i64], device: Device) -> Tensor {
        let tokens = rows_tensor(last, device);
        match self {
            Run::Own(d, state) => d.step(state, &tokens),
            Run::T5(d, state) => d.step(state, &tokens),
        }
    }

    /// Keeps the rows `rows` (new row `i` continues current row `rows[i]`)
    /// and, when documents left the batch, only the documents `docs`
    /// (indices among the current ones).
    fn select(&mut self, rows: &[i64], docs: Option<&[i64]>) {
        match self {
            Run::Own(_, state) | Run::T5(_, state) => state.select(rows, docs),
        }
    }
}

/// Sets to -inf what the logits processors forbid, in `transformers`' order:
/// no-repeat n-grams, min length, forced BOS (first step), forced EOS (last
/// step). `seqs` are the sequences so far, one per row of `scores`.
fn process(scores: &mut Tensor, seqs: &[Vec<i64>], p: &GenParams, sp: &Special) {
    let cur_len = seqs.first().map_or(0, Vec::len) as i64;
    let vocab = scores.size()[1];
    let mut banned: Vec<i64> = Vec::new();
    let n = p.no_repeat_ngram_size as usize;
    if n > 0 && cur_len as usize + 1 >= n {
        for (row, seq) in seqs.iter().enumerate() {
            for t in banned_ngram_tokens(seq, n) {
                banned.push(row as i64 * vocab + t);
            }
        }
    }
    if cur_len < p.min_length {
        banned.extend((0..seqs.len() as i64).map(|row| row * vocab + sp.eos));
    }
    if !banned.is_empty() {
        let idx = Tensor::from_slice(&banned).to(scores.device());
        let _ = scores.view([-1]).index_fill_(0, &idx, f64::NEG_INFINITY);
    }
    let force = |scores: &mut Tensor, token: i64| {
        let _ = scores.fill_(f64::NEG_INFINITY);
        let _ = scores.narrow(1, token, 1).fill_(0.0);
    };
    if let Some(bos) = sp.forced_bos.filter(|_| cur_len == 1) {
        force(scores, bos);
    }
    if let Some(eos) = sp.forced_eos.filter(|_| cur_len == p.max_length - 1) {
        force(scores, eos);
    }
}

/// Tokens that would complete an n-gram already in `seq` (as
/// `transformers`' `NoRepeatNGramLogitsProcessor`).
pub(crate) fn banned_ngram_tokens(seq: &[i64], n: usize) -> Vec<i64> {
    if n == 0 || seq.len() + 1 < n {
        return Vec::new();
    }
    let prefix = &seq[seq.len() + 1 - n..];
    let mut out = Vec::new();
    if seq.len() >= n {
        for i in 0..=seq.len() - n {
            if &seq[i..i + n - 1] == prefix {
                out.push(seq[i + n - 1]);
            }
        }
    }
    out
}

/// Generates for a padded batch. Returns each document's ids, decoder start
/// token included, EOS included when the sequence ended with it, no padding.
pub(crate) fn generate(
    model: &Model,
    sp: &Special,
    ids: &Tensor,
    mask: &Tensor,
    p: &GenParams,
) -> Vec<Vec<i64>> {
    tch::no_grad(|| {
        if p.num_beams <= 1 {
            greedy(model, sp, ids, mask, p)
        } else {
            beam(model, sp, ids, mask, p)
        }
    })
}

fn greedy(
    model: &Model,
    sp: &Special,
    ids: &Tensor,
    mask: &Tensor,
    p: &GenParams,
) -> Vec<Vec<i64>> {
    let device = ids.device();
    let docs = ids.size()[0] as usize;
    let mut out: Vec<Vec<i64>> = vec![vec![sp.decoder_start]; docs];
    let mut active: Vec<usize> = (0..docs).collect();
    let mut run = Run::new(model, ids, mask, 1, p.max_length.max(1));
    while !active.is_empty() && (out[active[0]].len() as i64) < p.max_length {
        let last: Vec<i64> = active.iter().map(|&d| *out[d].last().unwrap()).collect();
        let mut scores = run.step(&last, device);
        let seqs: Vec<Vec<i64>> = active.iter().map(|&d| out[d].clone()).collect();
        process(&mut scores, &seqs, p, sp);
        let next: Vec<i64> = host(&scores.argmax(-1, false));
        let mut keep = Vec::new();
        for (row, (&d, &t)) in active.iter().zip(&next).enumerate() {
            out[d].push(t);
            if t != sp.eos && (out[d].len() as i64) < p.max_length {
                keep.push(row as i64);
            }
        }
        if keep.len() < active.len() {
            active = keep.iter().map(|&r| active[r as usize]).collect();
            if active.is_empty() {
                break;
            }
            run.select(&keep, Some(&keep));
        }
    }
    out
}

/// Finished hypotheses of one document (`transformers`' `BeamHypotheses`).
#[derive(Debug, Clone)]
pub(crate) struct Hypotheses {
    num_beams: usize,
    length_penalty: f64,
    early_stopping: bool,
    /// (score, ids) in the order added, the worst removed when over `num_beams`.
    beams: Vec<(f64, Vec<i64>)>,
    worst: f64,
}

impl Hypotheses {
    pub(crate) fn new(num_beams: usize, length_penalty: f64, early_stopping: bool) -> Self {
        Hypotheses {
            num_beams,
            length_penalty,
            early_stopping,
            beams: Vec::new(),
            worst: 1e9,
        }
    }

    /// Adds a hypothesis whose log-probabilities sum to `sum_logprobs`, of
    /// `generated_len` tokens (EOS counted, decoder start not).
    pub(crate) fn add(&mut self, hyp: Vec<i64>, sum_logprobs: f64, generated_len: usize) {
        let score = sum_logprobs / (generated_len as f64).powf(self.length_penalty);
        if self.beams.len() < self.num_beams || score > self.worst {
            self.beams.push((score, hyp));
            if self.beams.len() > self.num_beams {
                // Sorted by (score, index): drop the first, the next is the worst.
                let mut order: Vec<(f64, usize)> = self
                    .beams
                    .iter()
                    .enumerate()
                    .map(|(i, b)| (b.0, i))
                    .collect();
                order.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                self.beams.remove(order[0].1);
                self.worst = order[1].0;
            } else {
                self.worst = self.worst.min(score);
            }
        }
    }

    /// Whether no running beam can do better (`cur_len` counts the token
    /// being added and the decoder start).
    pub(crate) fn is_done(&self, best_sum_logprobs: f64, cur_len: usize) -> bool {
        if self.beams.len() < self.num_beams {
            return false;
        }
        if self.early_stopping {
            return true;
        }
        let best = best_sum_logprobs / ((cur_len - 1) as f64).powf(self.length_penalty);
        self.worst >= best
    }

    /// The best hypothesis (the last added among equal scores, as Python's
    /// stable sort and `pop()` pick).
    pub(crate) fn best(&self) -> Option<&[i64]> {
        let mut best: Option<&(f64, Vec<i64>)> = None;
        for b in &self.beams {
            if best.is_none_or(|x| b.0 >= x.0) {
                best = Some(b);
            }
        }
        best.map(|b| b.1.as_slice())
    }
}

fn beam(model: &Model, sp: &Special, ids: &Tensor, mask: &Tensor, p: &GenParams) -> Vec<Vec<i64>> {
    let device = ids.device();
    let k = p.num_beams as usize;
    let docs = ids.size()[0] as usize;
    let mut hyps: Vec<Hypotheses> = (0..docs)
        .map(|_| Hypotheses::new(k, p.length_penalty, p.early_stopping))
        .collect();
    let mut run = Run::new(model, ids, mask, k as i64, p.max_length.max(1));
    // Active documents; rows are doc-major, `k` beams each.
    let mut active: Vec<usize> = (0..docs).collect();
    let mut seqs: Vec<Vec<i64>> = vec![vec![sp.decoder_start]; docs * k];
    let mut beam_scores: Vec<f32> = (0..docs * k)
        .map(|r| if r % k == 0 { 0.0 } else { -1e9 })
        .collect();
    let mut cur_len = 1usize;
    loop {
        let last: Vec<i64> = seqs.iter().map(|s| *s.last().unwrap()).collect();
        let logits = run.step(&last, device);
        let mut scores = logits.log_softmax(-1, Kind::Float);
        process(&mut scores, &seqs, p, sp);
        let vocab = scores.size()[1];
        let scores = scores + Tensor::from_slice(&beam_scores).view([-1, 1]).to(device);
        let (values, indices) =
            scores
                .view([active.len() as i64, k as i64 * vocab])
                .topk(2 * k as i64, 1, true, true);
        let values: Vec<f32> = host(&values);
        let indices: Vec<i64> = host(&indices);

        let mut next_rows: Vec<i64> = Vec::new();
        let mut next_seqs: Vec<Vec<i64>> = Vec::new();
        let mut next_scores: Vec<f32> = Vec::new();
        let mut kept_docs: Vec<i64> = Vec::new();
        let mut next_active = Vec::new();
        for (i, &d) in active.iter().enumerate() {
            let mut taken = 0;
            let mut rows = Vec::with_capacity(k);
            for rank in 0..2 * k {
                let flat = indices[i * 2 * k + rank];
                let score = values[i * 2 * k + rank];
                let (src, token) = (flat / vocab, flat % vocab);
                let row = i * k + src as usize;
                if token == sp.eos {
                    if rank >= k {
                        continue;
                    }
                    hyps[d].add(seqs[row].clone(), f64::from(score), seqs[row].len());
                } else {
                    rows.push((row, token, score));
                    taken += 1;
                }
                if taken == k {
                    break;
                }
            }
            let best = f64::from(values[i * 2 * k]);
            if hyps[d].is_done(best, cur_len + 1) {
                continue;
            }
            kept_docs.push(i as i64);
            next_active.push(d);
            for (row, token, score) in rows {
                let mut s = seqs[row].clone();
                s.push(token);
                next_seqs.push(s);
                next_rows.push(row as i64);
                next_scores.push(score);
            }
        }
        cur_len += 1;
        let finished = next_active.is_empty() || cur_len as i64 >= p.max_length;
        if finished {
            // `finalize`: the running beams of unfinished documents compete too.
            for (j, &d) in next_active.iter().enumerate() {
                for b in 0..k {
                    let r = j * k + b;
                    let len = next_seqs[r].len() - 1;
                    hyps[d].add(next_seqs[r].clone(), f64::from(next_scores[r]), len);
                }
            }
            break;
        }
        let left = next_active.len() < active.len();
        run.select(&next_rows, left.then_some(kept_docs.as_slice()));
        active = next_active;
        seqs = next_seqs;
        beam_scores = next_scores;
    }
    hyps.iter()
        .map(|h| {
            let mut best = h.best().map(<[i64]>::to_vec).unwrap_or_default();
            if (best.len() as i64) < p.max_length {
                best.push(sp.eos);
            }
            best
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn banned_ngrams_follow_transformers() {
        // n = 3: the last two tokens (6, 5) never began a trigram before.
        assert_eq!(banned_ngram_tokens(&[2, 0, 5, 6, 5], 3), Vec::<i64>::new());
        // the last two (5, 6) occurred before, followed by 7
        assert_eq!(banned_ngram_tokens(&[5, 6, 7, 5, 6], 3), vec![7]);
        // too short to complete an n-gram
        assert!(banned_ngram_tokens(&[1], 3).is_empty());
        // n = 1 bans every token seen
        assert_eq!(banned_ngram_tokens(&[4, 9], 1), vec![4, 9]);
    }

    #[test]
    fn length_penalty_ranks_hypotheses() {
        // Same sum of log-probs: with length_penalty 2 the longer one wins,
        // with 0 they tie and the later one is chosen (Python's pop()).
        let mut h = Hypotheses::new(2, 2.0, true);
        h.add(vec![0, 1, 2], -6.0, 3);
        h.add(vec![0, 1, 2, 3, 4, 5], -6.0, 6);
        assert_eq!(h.best(), Some(&[0, 1, 2, 3, 4, 5][..]));
        let mut h = Hypotheses::new(2, 0.0, true);
        h.add(vec![0, 1, 2, 3, 4, 5], -6.0, 6);
        h.add(vec![0, 1, 2], -6.0, 3);
        assert_eq!(h.best(), Some(&[0, 1, 2][..]));
        // Over num_beams the worst leaves and the bar rises.
        let mut h = Hypotheses::new(2, 1.0, true);
        h.add(vec![1], -4.0, 2); // -2
        h.add(vec![2], -3.0, 3); // -1
        h.add(vec![3], -1.0, 2); // -0.5, drops [1]
        assert_eq!(h.beams.len(), 2);
        assert_eq!(h.worst, -1.0);
        h.add(vec![4], -10.0, 2); // worse than the worst: not added
        assert_eq!(h.beams.len(), 2);
        assert_eq!(h.best(), Some(&[3][..]));
    }

    #[test]
    fn early_stopping_false_continues_while_a_beam_can_win() {
        let mut h = Hypotheses::new(1, 1.0, false);
        h.add(vec![0, 7, 8], -3.0, 3); // score -1
                                       // A running beam at -1.5 over 2 tokens (-0.75) could still win.
        assert!(!h.is_done(-1.5, 3));
        // At -4 over 2 tokens (-2) it cannot.
        assert!(h.is_done(-4.0, 3));
        // early_stopping = true stops as soon as num_beams are finished.
        let mut e = Hypotheses::new(1, 1.0, true);
        e.add(vec![0, 7, 8], -3.0, 3);
        assert!(e.is_done(-1.5, 3));
        assert!(!Hypotheses::new(1, 1.0, false).is_done(-100.0, 3));
    }
}
