//! Our own decoder step for T5 (T5, FLAN-T5), over the weights rust-bert
//! already loaded (shared tensors read by name: no second copy), with the
//! cache and cross-attention handling of [`crate::decoder`].
//!
//! Why not rust-bert's T5 forward: at every step its cross-attention
//! projects the whole encoder output again (keys and values, one copy per
//! beam) and then discards the result for the cached copy, and it copies
//! every layer's cache twice. At t5-small dimensions that made beam search
//! five times slower than `transformers` (docs/benchmarks.md). Here the
//! cross-attention keys and values are computed once per document and the
//! self-attention cache is written in place.

use crate::decoder::{attend, Attention, Linear, State, Weights};
use std::collections::HashMap;
use tch::{Kind, Tensor};

/// T5's layer norm: no mean, no bias (`T5LayerNorm`).
struct RmsNorm(Tensor, f64);

impl RmsNorm {
    fn apply(&self, x: &Tensor) -> Tensor {
        let var = x.to_kind(Kind::Float).pow_tensor_scalar(2).mean_dim(
            [-1i64].as_slice(),
            true,
            Kind::Float,
        );
        (x * (var + self.1).rsqrt()).to_kind(self.0.kind()) * &self.0
    }
}

/// The feed-forward block: `wo(act(wi x))`, or gated `wo(act(wi_0 x) * wi_1 x)`.
enum FeedForward {
    Plain(Linear, Linear),
    Gated(Linear, Linear, Linear),
}

struct Layer {
    self_attn: Attention,
    self_norm: RmsNorm,
    cross_attn: Attention,
    cross_norm: RmsNorm,
    ff: FeedForward,
    ff_norm: RmsNorm,
}

/// The decoder of a T5 model, one token per row and step.
pub(crate) struct T5Decoder {
    embed: Tensor,
    /// The LM head's weight: `shared.weight` when tied, else `lm_head.weight`.
    head: Tensor,
    /// `d_model ** -0.5` when the head is tied to the embeddings, else 1.
    head_scale: f64,
    layers: Vec<Layer>,
    final_norm: RmsNorm,
    /// The first layer's relative position bias `[buckets, heads]`.
    position_table: Tensor,
    buckets: i64,
    max_distance: i64,
    activation: fn(&Tensor) -> Tensor,
    heads: i64,
    head_dim: i64,
}

/// The bucket of a key `distance` positions before the query, in a
/// unidirectional (decoder) attention: `transformers`' `_relative_position_bucket`
/// with `bidirectional=False`, in f32 as it computes.
fn bucket(distance: i64, buckets: i64, max_distance: i64) -> i64 {
    let max_exact = buckets / 2;
    if distance < max_exact {
        return distance;
    }
    let large = ((distance as f32 / max_exact as f32).ln()
        / ((max_distance as f64 / max_exact as f64).ln() as f32)
        * (buckets - max_exact) as f32) as i64
        + max_exact;
    large.min(buckets - 1)
}

impl T5Decoder {
    /// Builds the step over `vars` (a `VarStore`'s variables, shared),
    /// configured by `config.json`.
    pub(crate) fn new(
        vars: &HashMap<String, Tensor>,
        config: &serde_json::Value,
    ) -> Result<T5Decoder, String> {
        let w = Weights(vars);
        let int = |k: &str| config.get(k).and_then(serde_json::Value::as_i64);
        let need = |k: &str| int(k).ok_or(format!("no {k}"));
        let d = need("d_model")?;
        let heads = need("num_heads")?;
        let head_dim = need("d_kv")?;
        let n_layers = int("num_decoder_layers").map_or_else(|| need("num_layers"), Ok)?;
        let eps = config
            .get("layer_norm_epsilon")
            .and_then(serde_json::Value::as_f64)
            .unwrap_or(1e-6);
        let proj = config
            .get("feed_forward_proj")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("relu");
        let gated = proj.starts_with("gated-");
        // `transformers`' T5Config: "gated-gelu" means `gelu_new` (the tanh form).
        let act = match proj {
            "gated-gelu" => "gelu_new",
            p => p.strip_prefix("gated-").unwrap_or(p),
        };
        let activation: fn(&Tensor) -> Tensor = match act {
            "relu" => |x: &Tensor| x.relu(),
            "gelu" => |x: &Tensor| x.gelu("none"),
            "gelu_new" => |x: &Tensor| x.gelu("tanh"),
            other => {
                return Err(format!(
                    "feed_forward_proj {proj:?}: activation {other:?} is not supported (relu, gelu, gelu_new)"
                ))
            }
        };
        let norm = |p: &str| Ok::<_, String>(RmsNorm(w.get(&format!("{p}.weight"))?, eps));
        let attention = |p: &str| -> Result<Attention, String> {
            Ok(Attention {
                q: w.weight(&format!("{p}.q"))?,
                k: w.weight(&format!("{p}.k"))?,
                v: w.weight(&format!("{p}.v"))?,
                out: w.weight(&format!("{p}.o"))?,
            })
        };
        let layers = (0..n_layers)
            .map(|i| {
                let p = format!("decoder.block.{i}.layer");
                let f = format!("{p}.2.DenseReluDense");
                let ff = if gated {
                    FeedForward::Gated(
                        w.weight(&format!("{f}.wi_0"))?,
                        w.weight(&format!("{f}.wi_1"))?,
                        w.weight(&format!("{f}.wo"))?,
                    )
                } else {
                    FeedForward::Plain(w.weight(&format!("{f}.wi"))?, w.weight(&format!("{f}.wo"))?)
                };
                Ok(Layer {
                    self_attn: attention(&format!("{p}.0.SelfAttention"))?,
                    self_norm: norm(&format!("{p}.0.layer_norm"))?,
                    cross_attn: attention(&format!("{p}.1.EncDecAttention"))?,
                    cross_norm: norm(&format!("{p}.1.layer_norm"))?,
                    ff,
                    ff_norm: norm(&format!("{p}.2.layer_norm"))?,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let tied = config
            .get("tie_word_embeddings")
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(true);
        let embed = w.get("shared.weight")?;
        let (head, head_scale) = if tied {
            (embed.shallow_clone(), (d as f64).powf(-0.5))
        } else {
            (w.get("lm_head.weight")?, 1.0)
        };
        Ok(T5Decoder {
            embed,
            head,
            head_scale,
            layers,
            final_norm: norm("decoder.final_layer_norm")?,
            position_table: w
                .get("decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight")?,
            buckets: int("relative_attention_num_buckets").unwrap_or(32),
            max_distance: int("relative_attention_max_distance").unwrap_or(128),
            activation,
            heads,
            head_dim,
        })
    }

    /// The state for a batch (see [`State::new`]).
    pub(crate) fn start(&self, encoder: &Tensor, mask: &Tensor, beams: i64, steps: i64) -> State {
        let cross: Vec<&Attention> = self.layers.iter().map(|l| &l.cross_attn).collect();
        State::new(
            encoder,
            mask,
            beams,
            steps,
            (self.heads, self.head_dim),
            &cross,
        )
    }

    /// The self-attention position bias of step `t` over keys `0..=t`:
    /// `[1, heads, 1, t + 1]`.
    fn position_bias(&self, t: i64) -> Tensor {
        let buckets: Vec<i64> = (0..=t)
            .map(|j| bucket(t - j, self.buckets, self.max_distance))
            .collect();
        let index = Tensor::from_slice(&buckets).to_device(self.position_table.device());
        self.position_table
            .index_select(0, &index)
            .transpose(0, 1)
            .view([1, self.heads, 1, t + 1])
    }

    /// One step: the last token of each row `[rows]` in, float logits
    /// `[rows, vocab]` out; the self-attention cache grows by one position.
    pub(crate) fn step(&self, state: &mut State, tokens: &Tensor) -> Tensor {
        let rows = tokens.size()[0];
        let docs = rows / state.rows_per_doc();
        let (h, hd) = (self.heads, self.head_dim);
        let bias = self.position_bias(state.len());
        let mut x = self.embed.index_select(0, tokens);
        for (i, l) in self.layers.iter().enumerate() {
            let input = l.self_norm.apply(&x);
            let a = &l.self_attn;
            let q = a.q.apply(&input).view([rows, h, 1, hd]);
            let (keys, values) = state.push(
                i,
                &a.k.apply(&input).view([rows, h, 1, hd]),
                &a.v.apply(&input).view([rows, h, 1, hd]),
            );
            // T5 does not scale its attention scores.
            x += attend(a, &q, (&keys, &values), Some(&bias), 1.0);

            let input = l.cross_norm.apply(&x);
            let a = &l.cross_attn;
            let q =
                a.q.apply(&input)
                    .view([docs, state.rows_per_doc(), h, hd])
                    .transpose(1, 2);
            let (kv, mask) = state.cross(i);
            x += attend(a, &q, kv, Some(mask), 1.0);

            let input = l.ff_norm.apply(&x);
            let y = match &l.ff {
                FeedForward::Plain(wi, wo) => wo.apply(&(self.activation)(&wi.apply(&input))),
                FeedForward::Gated(wi0, wi1, wo) => {
                    wo.apply(&((self.activation)(&wi0.apply(&input)) * wi1.apply(&input)))
                }
            };
            x += y;
        }
        state.advance();
        let mut x = self.final_norm.apply(&x);
        if self.head_scale != 1.0 {
            x *= self.head_scale;
        }
        x.linear::<Tensor>(&self.head, None).to_kind(Kind::Float)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_bert::t5::{T5Config, T5ForConditionalGeneration};
    use rust_bert::Config;
    use tch::nn;

    #[test]
    fn buckets_follow_transformers() {
        // max_exact 16: exact below, logarithmic up to 128, then the last bucket.
        assert_eq!(bucket(0, 32, 128), 0);
        assert_eq!(bucket(15, 32, 128), 15);
        assert_eq!(bucket(16, 32, 128), 16);
        // ln(32/16) / ln(8) * 16 = 5.33 -> 21
        assert_eq!(bucket(32, 32, 128), 21);
        assert_eq!(bucket(127, 32, 128), 31);
        assert_eq!(bucket(1000, 32, 128), 31);
    }

    /// Our step gives rust-bert's T5 decoder logits, step after step (cache
    /// included), on the tiny T5 fixture (gated GELU, untied head), for a
    /// padded batch of two.
    #[test]
    fn step_matches_rust_bert_decoder() {
        let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/models/t5-tiny");
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap())
                .unwrap();
        let config = T5Config::from_file(dir.join("config.json"));
        let mut vs = nn::VarStore::new(tch::Device::Cpu);
        let m = T5ForConditionalGeneration::new(vs.root(), &config);
        vs.load(dir.join("model.safetensors")).unwrap();
        let d = T5Decoder::new(&vs.variables(), &json).unwrap();
        tch::no_grad(|| {
            let ids =
                Tensor::from_slice(&[5i64, 17, 230, 44, 9, 1, 12, 80, 1, 0, 0, 0]).view([2, 6]);
            let mask = ids.ne(0).to_kind(Kind::Int64);
            let encoder = m.encode(&ids, Some(&mask));
            let mut state = d.start(&encoder, &mask, 1, 8);
            let mut cache = None;
            for token in [0i64, 33, 301, 7, 150, 2, 90] {
                let t = Tensor::from_slice(&[token, token]);
                let ours = d.step(&mut state, &t);
                let o = m.forward_t(
                    None,
                    Some(&mask),
                    Some(&encoder),
                    Some(&t.view([2, 1])),
                    None,
                    None,
                    None,
                    cache,
                    false,
                );
                cache = o.next_cache;
                let theirs = o.decoder_output.select(1, -1);
                let diff = (ours - theirs).abs().max().double_value(&[]);
                assert!(diff < 1e-4, "token {token}: max abs difference {diff}");
            }
        });
    }
}
