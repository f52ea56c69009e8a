//! Our own decoder step for BART-family models (BART, DistilBART, Pegasus),
//! over the weights rust-bert already loaded (shared tensors read from its
//! `VarStore` by name: no second copy).
//!
//! Why not rust-bert's decoder forward: its attention layer copies every
//! layer's cross-attention keys and values at every step (`prev_key:
//! key_states.copy()`), and in beam search they exist once per beam. Here
//! they are computed once per document and never copied: the beams of a
//! document are the query positions of one attention product. The
//! self-attention cache is written into preallocated buffers (no `cat` of
//! the whole past per step) and reordered only when beams change rows.

use rust_bert::Activation;
use std::collections::HashMap;
use tch::{Kind, Tensor};

/// A linear layer's weight `[out, in]` and bias (T5's have none).
pub(crate) struct Linear(pub(crate) Tensor, pub(crate) Option<Tensor>);

impl Linear {
    pub(crate) fn apply(&self, x: &Tensor) -> Tensor {
        x.linear(&self.0, self.1.as_ref())
    }
}

/// A layer norm's weight and bias (eps 1e-5, as both BART and Pegasus).
pub(crate) struct Norm(pub(crate) Tensor, pub(crate) Tensor);

impl Norm {
    pub(crate) fn apply(&self, x: &Tensor) -> Tensor {
        let d = self.0.size()[0];
        x.layer_norm([d], Some(&self.0), Some(&self.1), 1e-5, true)
    }
}

pub(crate) struct Attention {
    pub(crate) q: Linear,
    pub(crate) k: Linear,
    pub(crate) v: Linear,
    pub(crate) out: Linear,
}

struct Layer {
    self_attn: Attention,
    self_norm: Norm,
    cross_attn: Attention,
    cross_norm: Norm,
    fc1: Linear,
    fc2: Linear,
    final_norm: Norm,
}

/// The decoder of a BART-family model, one token per row and step.
pub(crate) struct Decoder {
    /// Token embeddings, shared with the encoder and the LM head.
    embed: Tensor,
    /// Position embeddings `[positions, d]`, row `offset + step`.
    positions: Tensor,
    offset: i64,
    scale: f64,
    /// BART's `layernorm_embedding`.
    embed_norm: Option<Norm>,
    /// Pegasus' decoder `layer_norm` after the last layer.
    final_norm: Option<Norm>,
    /// Pegasus (like mBART) normalizes before each block; BART after.
    pre_norm: bool,
    activation: fn(&Tensor) -> Tensor,
    layers: Vec<Layer>,
    logits_bias: Tensor,
    heads: i64,
    head_dim: i64,
    /// `head_dim ** -0.5`, applied to the queries (as BART's attention).
    scaling: f64,
}

/// Which member of the family, for the names and the block layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    Bart,
    Pegasus,
}

/// The feed-forward activation named by `config.json` (default GELU).
/// GELU is libtorch's fused exact (erf) kernel, as `transformers`' `gelu`,
/// rather than rust-bert's five separate elementwise ops over the
/// `[tokens, ffn]` activations.
pub(crate) fn activation(config: &serde_json::Value) -> Result<fn(&Tensor) -> Tensor, String> {
    let activation = match config.get("activation_function") {
        Some(v) => serde_json::from_value::<Activation>(v.clone())
            .map_err(|e| format!("activation_function: {e}"))?,
        None => Activation::gelu,
    };
    Ok(match activation {
        Activation::gelu => |x: &Tensor| x.gelu("none"),
        other => *other.get_function().get_fn(),
    })
}

/// `transformers`' `PegasusSinusoidalPositionalEmbedding` (computed in f64,
/// stored in f32: sines in the first half of the dimensions, cosines in the
/// second).
pub(crate) fn sinusoidal(n: i64, d: i64) -> Tensor {
    let half = d / 2 + d % 2;
    let mut out = vec![0f32; (n * d) as usize];
    for pos in 0..n {
        for j in 0..d {
            let angle = pos as f64 / 10000f64.powf((2 * (j / 2)) as f64 / d as f64);
            let col = if j % 2 == 0 { j / 2 } else { half + j / 2 };
            out[(pos * d + col) as usize] =
                if j % 2 == 0 { angle.sin() } else { angle.cos() } as f32;
        }
    }
    Tensor::from_slice(&out).view([n, d])
}

/// The tensors of a loaded checkpoint by name (shared, not copied).
pub(crate) struct Weights<'a>(pub(crate) &'a HashMap<String, Tensor>);

impl Weights<'_> {
    pub(crate) fn get(&self, name: &str) -> Result<Tensor, String> {
        self.0
            .get(name)
            .map(Tensor::shallow_clone)
            .ok_or_else(|| format!("no tensor {name:?}"))
    }

    pub(crate) fn linear(&self, p: &str) -> Result<Linear, String> {
        Ok(Linear(
            self.get(&format!("{p}.weight"))?,
            Some(self.get(&format!("{p}.bias"))?),
        ))
    }

    /// A linear layer without bias (T5).
    pub(crate) fn weight(&self, p: &str) -> Result<Linear, String> {
        Ok(Linear(self.get(&format!("{p}.weight"))?, None))
    }

    pub(crate) fn norm(&self, p: &str) -> Result<Norm, String> {
        Ok(Norm(
            self.get(&format!("{p}.weight"))?,
            self.get(&format!("{p}.bias"))?,
        ))
    }
}

/// What the encoder and the decoder of one checkpoint set up alike from
/// `config.json`: embeddings, positions, the norms around the stack, heads.
pub(crate) struct Stack {
    pub(crate) embed: Tensor,
    pub(crate) positions: Tensor,
    pub(crate) offset: i64,
    pub(crate) scale: f64,
    pub(crate) embed_norm: Option<Norm>,
    pub(crate) final_norm: Option<Norm>,
    pub(crate) pre_norm: bool,
    pub(crate) d: i64,
    pub(crate) heads: i64,
    pub(crate) layers: i64,
}

impl Stack {
    /// The `side` (`"encoder"` or `"decoder"`) of a BART or Pegasus checkpoint.
    pub(crate) fn new(
        family: Family,
        w: &Weights,
        config: &serde_json::Value,
        side: &str,
    ) -> Result<Stack, String> {
        let int = |k: &str| config.get(k).and_then(serde_json::Value::as_i64);
        let flag = |k: &str| config.get(k).and_then(serde_json::Value::as_bool);
        let need = |k: String| int(&k).ok_or(format!("no {k}"));
        let d = need("d_model".into())?;
        let heads = need(format!("{side}_attention_heads"))?;
        let layers = need(format!("{side}_layers"))?;
        let scale = if flag("scale_embedding").unwrap_or(false) {
            (d as f64).sqrt()
        } else {
            1.0
        };
        let embed = w.get("model.shared.weight")?;
        let (positions, offset, embed_norm, final_norm, pre_norm) = match family {
            Family::Bart => {
                // rust-bert's BART: learned positions with offset 2, unless static.
                let offset = if flag("static_position_embeddings").unwrap_or(false) {
                    0
                } else {
                    2
                };
                let embed_norm = if flag("normalize_embedding").unwrap_or(true) {
                    Some(w.norm(&format!("model.{side}.layernorm_embedding"))?)
                } else {
                    None
                };
                let positions = w.get(&format!("model.{side}.embed_positions.weight"))?;
                (positions, offset, embed_norm, None, false)
            }
            Family::Pegasus => {
                let n = need("max_position_embeddings".into())?;
                let positions = sinusoidal(n, d).to_device(embed.device());
                let final_norm = Some(w.norm(&format!("model.{side}.layer_norm"))?);
                (positions, 0, None, final_norm, true)
            }
        };
        Ok(Stack {
            embed,
            positions,
            offset,
            scale,
            embed_norm,
            final_norm,
            pre_norm,
            d,
            heads,
            layers,
        })
    }
}

impl Decoder {
    /// Builds the step over `vars` (a `VarStore`'s variables, shared),
    /// configured by `config.json`.
    pub(crate) fn new(
        family: Family,
        vars: &HashMap<String, Tensor>,
        config: &serde_json::Value,
    ) -> Result<Decoder, String> {
        let w = Weights(vars);
        let (linear, norm) = (|p: &str| w.linear(p), |p: &str| w.norm(p));
        let Stack {
            embed,
            positions,
            offset,
            scale,
            embed_norm,
            final_norm,
            pre_norm,
            d,
            heads,
            layers: n_layers,
        } = Stack::new(family, &w, config, "decoder")?;
        let attention = |p: &str| -> Result<Attention, String> {
            Ok(Attention {
                q: linear(&format!("{p}.q_proj"))?,
                k: linear(&format!("{p}.k_proj"))?,
                v: linear(&format!("{p}.v_proj"))?,
                out: linear(&format!("{p}.out_proj"))?,
            })
        };
        let layers = (0..n_layers)
            .map(|i| {
                let p = format!("model.decoder.layers.{i}");
                Ok(Layer {
                    self_attn: attention(&format!("{p}.self_attn"))?,
                    self_norm: norm(&format!("{p}.self_attn_layer_norm"))?,
                    cross_attn: attention(&format!("{p}.encoder_attn"))?,
                    cross_norm: norm(&format!("{p}.encoder_attn_layer_norm"))?,
                    fc1: linear(&format!("{p}.fc1"))?,
                    fc2: linear(&format!("{p}.fc2"))?,
                    final_norm: norm(&format!("{p}.final_layer_norm"))?,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let logits_bias = w.get("final_logits_bias")?.view([-1]);
        Ok(Decoder {
            embed,
            positions,
            offset,
            scale,
            embed_norm,
            final_norm,
            pre_norm,
            activation: activation(config)?,
            layers,
            logits_bias,
            heads,
            head_dim: d / heads,
            scaling: ((d / heads) as f64).powf(-0.5),
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

    /// One step: the last token of each row `[rows]` in, float logits
    /// `[rows, vocab]` out; the self-attention cache grows by one position.
    pub(crate) fn step(&self, state: &mut State, tokens: &Tensor) -> Tensor {
        let rows = tokens.size()[0];
        let docs = rows / state.rows_per_doc();
        let (h, hd) = (self.heads, self.head_dim);
        let t = state.len();
        let mut x = self.embed.index_select(0, tokens) * self.scale
            + self.positions.narrow(0, self.offset + t, 1);
        if let Some(n) = &self.embed_norm {
            x = n.apply(&x);
        }
        for (i, l) in self.layers.iter().enumerate() {
            // Self-attention over this row's past, written into the buffers.
            let input = if self.pre_norm {
                l.self_norm.apply(&x)
            } else {
                x.shallow_clone()
            };
            let a = &l.self_attn;
            let q = a.q.apply(&input).view([rows, h, 1, hd]);
            let (keys, values) = state.push(
                i,
                &a.k.apply(&input).view([rows, h, 1, hd]),
                &a.v.apply(&input).view([rows, h, 1, hd]),
            );
            let y = attend(a, &q, (&keys, &values), None, self.scaling);
            x = if self.pre_norm {
                x + y
            } else {
                l.self_norm.apply(&(x + y))
            };

            // Cross-attention: the beams of a document are its query positions.
            let input = if self.pre_norm {
                l.cross_norm.apply(&x)
            } else {
                x.shallow_clone()
            };
            let a = &l.cross_attn;
            let q =
                a.q.apply(&input)
                    .view([docs, state.rows_per_doc(), h, hd])
                    .transpose(1, 2);
            let (kv, mask) = state.cross(i);
            let y = attend(a, &q, kv, Some(mask), self.scaling);
            x = if self.pre_norm {
                x + y
            } else {
                l.cross_norm.apply(&(x + y))
            };

            let input = if self.pre_norm {
                l.final_norm.apply(&x)
            } else {
                x.shallow_clone()
            };
            let y = l.fc2.apply(&(self.activation)(&l.fc1.apply(&input)));
            x = if self.pre_norm {
                x + y
            } else {
                l.final_norm.apply(&(x + y))
            };
        }
        state.advance();
        if let Some(n) = &self.final_norm {
            x = n.apply(&x);
        }
        x.linear(&self.embed, Some(&self.logits_bias))
            .to_kind(Kind::Float)
    }
}

/// Attention of `q` `[b, heads, l, head_dim]` over `k`, `v` `[b, heads, s,
/// head_dim]` (views into the caches, not copied), with an additive `bias`
/// (a mask, or T5's position bias), then the output projection; `[b * l,
/// inner]` in, `[b * l, d]` out. Plain matmuls rather than libtorch 2.4's
/// `scaled_dot_product_attention`: its CPU flash kernel reads a broadcast
/// mask wrongly (ids changed from run to run) and is slower with a full
/// one; with one or a few query rows the cost is reading the keys and
/// values once either way.
pub(crate) fn attend(
    a: &Attention,
    q: &Tensor,
    (k, v): (&Tensor, &Tensor),
    bias: Option<&Tensor>,
    scaling: f64,
) -> Tensor {
    let q = if scaling == 1.0 {
        q.shallow_clone()
    } else {
        q * scaling
    };
    let mut w = q.matmul(&k.transpose(-1, -2));
    if let Some(m) = bias {
        w += m;
    }
    let (b, heads, l, head_dim) = q.size4().expect("queries [b, heads, l, head_dim]");
    let y = w
        .softmax(-1, w.kind())
        .matmul(v)
        .transpose(1, 2)
        .reshape([b * l, heads * head_dim]);
    a.out.apply(&y)
}

/// One batch's decoding state (see [`Decoder::start`]).
pub(crate) struct State {
    /// Per layer: keys and values `[docs, heads, src, head_dim]`.
    cross: Vec<(Tensor, Tensor)>,
    /// `[docs, 1, 1, src]`, additive.
    cross_mask: Tensor,
    /// Per layer: `[rows, heads, steps, head_dim]`, the first `len` filled.
    keys: Vec<Tensor>,
    values: Vec<Tensor>,
    len: i64,
    beams: i64,
}

impl State {
    /// The state for a batch: every layer's cross-attention keys and values
    /// from the encoder output `[docs, src, d]` through `cross` (once per
    /// document, whatever the number of beams), and empty self-attention
    /// buffers for `docs * beams` rows and up to `steps` steps.
    pub(crate) fn new(
        encoder: &Tensor,
        mask: &Tensor,
        beams: i64,
        steps: i64,
        (heads, head_dim): (i64, i64),
        cross: &[&Attention],
    ) -> State {
        let (docs, src, d) = encoder.size3().expect("encoder output [docs, src, d]");
        let inner = heads * head_dim;
        let split = |t: Tensor| {
            t.view([docs, src, heads, head_dim])
                .transpose(1, 2)
                .contiguous()
        };
        // Projected at the real positions only: padding can be half of a
        // batch of documents of different lengths. Padded keys and values
        // stay zero; the mask gives them weight exactly 0.
        let real = mask.view([-1]).nonzero().view([-1]);
        let padded = real.size()[0] < docs * src;
        let input = if padded {
            encoder.view([docs * src, d]).index_select(0, &real)
        } else {
            encoder.shallow_clone()
        };
        let project = |lin: &Linear| {
            let y = lin.apply(&input);
            if padded {
                let mut full = Tensor::zeros([docs * src, inner], (y.kind(), y.device()));
                let _ = full.index_copy_(0, &real, &y);
                split(full)
            } else {
                split(y)
            }
        };
        let cross: Vec<(Tensor, Tensor)> = cross
            .iter()
            .map(|a| (project(&a.k), project(&a.v)))
            .collect();
        let kind = encoder.kind();
        // Additive, as `transformers`' SDPA masks: 0 to attend, the dtype's minimum not to.
        let mask = mask.to_kind(kind);
        let cross_mask = ((mask.ones_like() - mask) * f64::from(f32::MIN)).view([docs, 1, 1, src]);
        // Never read before written: `empty` leaves the pages untouched until used.
        let buffer = || {
            Tensor::empty(
                [docs * beams, heads, steps, head_dim],
                (kind, encoder.device()),
            )
        };
        State {
            keys: cross.iter().map(|_| buffer()).collect(),
            values: cross.iter().map(|_| buffer()).collect(),
            cross,
            cross_mask,
            len: 0,
            beams,
        }
    }

    /// Steps decoded so far.
    pub(crate) fn len(&self) -> i64 {
        self.len
    }

    /// Rows per document (its beams).
    pub(crate) fn rows_per_doc(&self) -> i64 {
        self.beams
    }

    /// Layer `i`'s cross-attention keys and values and the additive mask.
    pub(crate) fn cross(&self, i: usize) -> ((&Tensor, &Tensor), &Tensor) {
        let (k, v) = &self.cross[i];
        ((k, v), &self.cross_mask)
    }

    /// Writes this step's keys and values `[rows, heads, 1, head_dim]` of
    /// layer `i` and returns its filled cache (views, no copy).
    pub(crate) fn push(&mut self, i: usize, k: &Tensor, v: &Tensor) -> (Tensor, Tensor) {
        let t = self.len;
        assert!(t < self.keys[i].size()[2], "decoder step beyond max_length");
        self.keys[i].narrow(2, t, 1).copy_(k);
        self.values[i].narrow(2, t, 1).copy_(v);
        (
            self.keys[i].narrow(2, 0, t + 1),
            self.values[i].narrow(2, 0, t + 1),
        )
    }

    /// Ends a step: the cache holds one more position.
    pub(crate) fn advance(&mut self) {
        self.len += 1;
    }

    /// Keeps the rows `rows` (new row `i` continues current row `rows[i]`),
    /// and, when documents left the batch, only the documents `docs`
    /// (indices among the current ones); their buffers are then reallocated
    /// smaller, so a finished document's cache is freed.
    pub(crate) fn select(&mut self, rows: &[i64], docs: Option<&[i64]>) {
        let device = self.cross_mask.device();
        let index = Tensor::from_slice(rows).to_device(device);
        let identity = rows.iter().enumerate().all(|(i, &r)| i as i64 == r);
        let len = self.len;
        for buf in self.keys.iter_mut().chain(self.values.iter_mut()) {
            if docs.is_some() {
                let mut size = buf.size();
                size[0] = rows.len() as i64;
                let fresh = Tensor::empty(size, (buf.kind(), device));
                fresh
                    .narrow(2, 0, len)
                    .copy_(&buf.narrow(2, 0, len).index_select(0, &index));
                *buf = fresh;
            } else if !identity {
                let mut filled = buf.narrow(2, 0, len);
                filled.copy_(&filled.index_select(0, &index));
            }
        }
        if let Some(docs) = docs {
            let index = Tensor::from_slice(docs).to_device(device);
            for (k, v) in self.cross.iter_mut() {
                *k = k.index_select(0, &index);
                *v = v.index_select(0, &index);
            }
            self.cross_mask = self.cross_mask.index_select(0, &index);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_bert::bart::{BartConfig, BartForConditionalGeneration};
    use rust_bert::Config;
    use tch::nn;

    /// Our step gives rust-bert's decoder logits, step after step (cache
    /// included), on the tiny BART fixture and a 200-token input.
    #[test]
    fn step_matches_rust_bert_decoder() {
        let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/models/bart-tiny");
        let read = |f: &str| -> serde_json::Value {
            serde_json::from_str(&std::fs::read_to_string(dir.join(f)).unwrap()).unwrap()
        };
        let (json, reference) = (read("config.json"), read("reference.json"));
        let config = BartConfig::from_file(dir.join("config.json"));
        let mut vs = nn::VarStore::new(tch::Device::Cpu);
        let m = BartForConditionalGeneration::new(vs.root(), &config);
        let bias = vs.root().var(
            "final_logits_bias",
            &[1, config.vocab_size],
            nn::Init::Const(0.0),
        );
        vs.load_partial(dir.join("model.safetensors")).unwrap();
        let d = Decoder::new(Family::Bart, &vs.variables(), &json).unwrap();
        let input: Vec<i64> = reference["cases"][2]["input_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_i64().unwrap())
            .collect();
        tch::no_grad(|| {
            let ids = Tensor::from_slice(&input).view([1, -1]);
            let mask = ids.ones_like();
            let encoder = m.encode(&ids, Some(&mask));
            let mut state = d.start(&encoder, &mask, 1, 8);
            let mut cache = None;
            for token in [2i64, 0, 611, 914, 131] {
                let t = Tensor::from_slice(&[token]);
                let ours = d.step(&mut state, &t);
                let o = m.forward_t(
                    None,
                    Some(&mask),
                    Some(&encoder),
                    Some(&t.view([1, 1])),
                    None,
                    cache,
                    false,
                );
                cache = o.cache;
                let theirs = o.decoder_output.select(1, -1) + &bias;
                let diff = (ours - theirs).abs().max().double_value(&[]);
                assert!(diff < 1e-4, "token {token}: max abs difference {diff}");
            }
        });
    }
}
