//! Our own encoder forward for BART-family models (BART, DistilBART,
//! Pegasus), over the weights rust-bert already loaded (shared tensors read
//! from its `VarStore` by name, as [`crate::decoder`]: no second copy).
//!
//! Why not rust-bert's encoder: with one or a few beams the encoder is most
//! of a summary's time, and rust-bert's attention runs as separate ops over
//! `[docs * heads, src, src]` (scale, matmul, a materialized `[docs, 1, src,
//! src]` mask added into a new tensor, softmax, matmul) with contiguous
//! copies of queries, keys and values, a copy of the residual per layer,
//! and GELU as five elementwise ops over the `[tokens, ffn]` activations.
//! Here a right-padded batch (what our tokenizer gives) runs packed: the
//! projections, layer norms and feed-forward layers over the real tokens
//! only, attention per document through libtorch's CPU flash kernel (the
//! one `transformers`' SDPA uses) with no mask and the projections read in
//! place; GELU is one fused op.

use crate::decoder::{activation, Family, Linear, Norm, Stack, Weights};
use std::collections::HashMap;
use tch::{Kind, Tensor};

struct Layer {
    q: Linear,
    k: Linear,
    v: Linear,
    out: Linear,
    self_norm: Norm,
    fc1: Linear,
    fc2: Linear,
    final_norm: Norm,
}

/// The encoder of a BART-family model.
pub(crate) struct Encoder {
    /// Token embeddings, shared with the decoder and the LM head.
    embed: Tensor,
    /// Position embeddings `[positions, d]`, row `offset + position`.
    positions: Tensor,
    offset: i64,
    scale: f64,
    /// BART's `layernorm_embedding`.
    embed_norm: Option<Norm>,
    /// Pegasus' encoder `layer_norm` after the last layer.
    final_norm: Option<Norm>,
    /// Pegasus normalizes before each block; BART after.
    pre_norm: bool,
    activation: fn(&Tensor) -> Tensor,
    layers: Vec<Layer>,
    heads: i64,
    head_dim: i64,
    /// `head_dim ** -0.5`.
    scaling: f64,
    /// Always run padded (tests: the padded path against rust-bert).
    pub(crate) padded: bool,
}

impl Encoder {
    /// Builds the encoder over `vars` (a `VarStore`'s variables, shared),
    /// configured by `config.json`.
    pub(crate) fn new(
        family: Family,
        vars: &HashMap<String, Tensor>,
        config: &serde_json::Value,
    ) -> Result<Encoder, String> {
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
        } = Stack::new(family, &w, config, "encoder")?;
        let layers = (0..n_layers)
            .map(|i| {
                let p = format!("model.encoder.layers.{i}");
                Ok(Layer {
                    q: linear(&format!("{p}.self_attn.q_proj"))?,
                    k: linear(&format!("{p}.self_attn.k_proj"))?,
                    v: linear(&format!("{p}.self_attn.v_proj"))?,
                    out: linear(&format!("{p}.self_attn.out_proj"))?,
                    self_norm: norm(&format!("{p}.self_attn_layer_norm"))?,
                    fc1: linear(&format!("{p}.fc1"))?,
                    fc2: linear(&format!("{p}.fc2"))?,
                    final_norm: norm(&format!("{p}.final_layer_norm"))?,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Encoder {
            embed,
            positions,
            offset,
            scale,
            embed_norm,
            final_norm,
            pre_norm,
            activation: activation(config)?,
            layers,
            heads,
            head_dim: d / heads,
            scaling: ((d / heads) as f64).powf(-0.5),
            padded: false,
        })
    }

    /// Self-attention of `x` `[docs, src, d]` under the additive mask
    /// `mask` `[docs, 1, 1, src]`, output projection included: scale and
    /// mask applied by one `baddbmm`, not libtorch 2.4's
    /// `scaled_dot_product_attention`, whose CPU kernel gave run-to-run
    /// different ids with a broadcast mask (docs/benchmarks.md, issue 17).
    /// Only for batches that are not right-padded (the packed path is the
    /// usual one).
    fn attend(&self, l: &Layer, x: &Tensor, mask: &Tensor) -> Tensor {
        let (docs, src, d) = x.size3().expect("hidden states [docs, src, d]");
        let (h, hd) = (self.heads, self.head_dim);
        let split = |t: Tensor| {
            t.view([docs, src, h, hd])
                .transpose(1, 2)
                .reshape([docs * h, src, hd])
        };
        let (q, k, v) = (
            split(l.q.apply(x)),
            split(l.k.apply(x)),
            split(l.v.apply(x)),
        );
        let mask = mask
            .expand([docs, h, 1, src], false)
            .reshape([docs * h, 1, src]);
        let w = mask.baddbmm(&q, &k.transpose(1, 2), 1.0, self.scaling);
        let y = w
            .softmax(-1, w.kind())
            .bmm(&v)
            .view([docs, h, src, hd])
            .transpose(1, 2)
            .reshape([docs, src, d]);
        l.out.apply(&y)
    }

    /// The last hidden state `[docs, src, d]` for the ids `[docs, src]`
    /// and their attention mask (1 to attend, 0 for padding). Right-padded
    /// batches run packed ([`Encoder::packed`]); others padded.
    pub(crate) fn forward(&self, ids: &Tensor, mask: &Tensor) -> Tensor {
        let (docs, src) = ids.size2().expect("ids [docs, src]");
        let lens = Vec::<i64>::try_from(mask.ne(0).sum_dim_intlist(1, false, Kind::Int64))
            .expect("mask lengths");
        let right_padded = mask
            .ne(0)
            .eq_tensor(
                &Tensor::arange(src, (Kind::Int64, mask.device())).lt_tensor(
                    &Tensor::from_slice(&lens)
                        .to_device(mask.device())
                        .view([docs, 1]),
                ),
            )
            .all()
            .int64_value(&[])
            == 1;
        if right_padded && !self.padded {
            return self.packed(ids, &lens);
        }
        self.padded_forward(ids, mask)
    }

    /// The encoder over the documents' tokens only, packed `[tokens, d]`:
    /// the projections, layer norms and feed-forward layers run once over
    /// all real tokens of the batch (no work on padding), attention per
    /// document (no mask). Documents of a batch differ in length (in the
    /// benchmark, 151 to 1,024 tokens), so padding is up to half of a
    /// padded batch's work. Output padded again with zeros (the decoder
    /// masks those positions out).
    fn packed(&self, ids: &Tensor, lens: &[i64]) -> Tensor {
        let (docs, src) = ids.size2().expect("ids [docs, src]");
        let device = ids.device();
        let (h, hd) = (self.heads, self.head_dim);
        let d = h * hd;
        let tokens = Tensor::cat(
            &lens
                .iter()
                .enumerate()
                .map(|(i, &n)| ids.get(i as i64).narrow(0, 0, n))
                .collect::<Vec<_>>(),
            0,
        );
        let positions = Tensor::cat(
            &lens
                .iter()
                .map(|&n| Tensor::arange(n, (Kind::Int64, device)))
                .collect::<Vec<_>>(),
            0,
        ) + self.offset;
        let mut x = self.embed.index_select(0, &tokens);
        if self.scale != 1.0 {
            x *= self.scale;
        }
        x += self.positions.index_select(0, &positions);
        if let Some(n) = &self.embed_norm {
            x = n.apply(&x);
        }
        let no_mask = Tensor::empty([0, 0], (x.kind(), device));
        let attend = |l: &Layer, x: &Tensor| -> Tensor {
            let (q, k, v) = (l.q.apply(x), l.k.apply(x), l.v.apply(x));
            let mut start = 0;
            let parts: Vec<Tensor> = lens
                .iter()
                .map(|&n| {
                    let at = start;
                    start += n;
                    let split = |t: &Tensor| t.narrow(0, at, n).view([1, n, h, hd]).transpose(1, 2);
                    // The CPU flash kernel itself, with an empty mask (no mask): tch 0.17
                    // passes a `None` mask as an undefined tensor, which libtorch rejects.
                    Tensor::internal_scaled_dot_product_flash_attention_for_cpu(
                        &split(&q),
                        &split(&k),
                        &split(&v),
                        0.0,
                        false,
                        Some(&no_mask),
                        self.scaling,
                    )
                    .0
                    .transpose(1, 2)
                    .reshape([n, d])
                })
                .collect();
            l.out.apply(&Tensor::cat(&parts, 0))
        };
        for l in &self.layers {
            if self.pre_norm {
                x += attend(l, &l.self_norm.apply(&x));
                x += l
                    .fc2
                    .apply(&(self.activation)(&l.fc1.apply(&l.final_norm.apply(&x))));
            } else {
                x = l.self_norm.apply(&(attend(l, &x) + &x));
                x = l
                    .final_norm
                    .apply(&(l.fc2.apply(&(self.activation)(&l.fc1.apply(&x))) + &x));
            }
        }
        if let Some(n) = &self.final_norm {
            x = n.apply(&x);
        }
        let out = Tensor::zeros([docs, src, d], (x.kind(), device));
        let mut start = 0;
        for (i, &n) in lens.iter().enumerate() {
            out.get(i as i64)
                .narrow(0, 0, n)
                .copy_(&x.narrow(0, start, n));
            start += n;
        }
        out
    }

    /// The encoder over the padded batch, padding masked in attention.
    fn padded_forward(&self, ids: &Tensor, mask: &Tensor) -> Tensor {
        let (docs, src) = ids.size2().expect("ids [docs, src]");
        let mut x = self
            .embed
            .index_select(0, &ids.view([-1]))
            .view([docs, src, -1]);
        if self.scale != 1.0 {
            x *= self.scale;
        }
        x += self.positions.narrow(0, self.offset, src);
        if let Some(n) = &self.embed_norm {
            x = n.apply(&x);
        }
        let kind = x.kind();
        // Additive, as `transformers`' masks: 0 to attend, the dtype's minimum not to.
        let mask = mask.to_kind(kind);
        let mask = ((mask.ones_like() - mask) * f64::from(f32::MIN)).view([docs, 1, 1, src]);
        for l in &self.layers {
            if self.pre_norm {
                x += self.attend(l, &l.self_norm.apply(&x), &mask);
                x += l
                    .fc2
                    .apply(&(self.activation)(&l.fc1.apply(&l.final_norm.apply(&x))));
            } else {
                x = l.self_norm.apply(&(self.attend(l, &x, &mask) + &x));
                x = l
                    .final_norm
                    .apply(&(l.fc2.apply(&(self.activation)(&l.fc1.apply(&x))) + &x));
            }
        }
        match &self.final_norm {
            Some(n) => n.apply(&x),
            None => x,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_bert::bart::{BartConfig, BartForConditionalGeneration};
    use rust_bert::pegasus::{PegasusConfig, PegasusForConditionalGeneration};
    use rust_bert::Config;
    use tch::nn;

    fn fixture(name: &str) -> (std::path::PathBuf, serde_json::Value, Vec<i64>) {
        let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/models")
            .join(name);
        let read = |f: &str| -> serde_json::Value {
            serde_json::from_str(&std::fs::read_to_string(dir.join(f)).unwrap()).unwrap()
        };
        let (json, reference) = (read("config.json"), read("reference.json"));
        let input = reference["cases"][2]["input_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_i64().unwrap())
            .collect();
        (dir, json, input)
    }

    /// A padded batch of two: the fixture's long input and its first 50
    /// tokens (right padding with `pad`).
    fn batch(input: &[i64], pad: i64) -> (Tensor, Tensor) {
        let n = input.len();
        let mut short: Vec<i64> = input[..50].to_vec();
        short.resize(n, pad);
        let ids = Tensor::from_slice(&[input, &short].concat()).view([2, n as i64]);
        let mut m = vec![1i64; n];
        m.extend((0..n).map(|i| i64::from(i < 50)));
        (ids, Tensor::from_slice(&m).view([2, n as i64]))
    }

    /// Max abs difference over the unpadded positions.
    fn diff(ours: &Tensor, theirs: &Tensor, mask: &Tensor) -> f64 {
        let keep = mask.unsqueeze(-1).to_kind(ours.kind());
        ((ours - theirs) * keep).abs().max().double_value(&[])
    }

    /// Our encoder gives rust-bert's encoder output on the tiny BART
    /// fixture, both attention paths, with padding.
    #[test]
    fn bart_encoder_matches_rust_bert() {
        let (dir, json, input) = fixture("bart-tiny");
        let config = BartConfig::from_file(dir.join("config.json"));
        let mut vs = nn::VarStore::new(tch::Device::Cpu);
        let m = BartForConditionalGeneration::new(vs.root(), &config);
        vs.load_partial(dir.join("model.safetensors")).unwrap();
        let mut e = Encoder::new(Family::Bart, &vs.variables(), &json).unwrap();
        tch::no_grad(|| {
            let (ids, mask) = batch(&input, 1);
            let theirs = m.encode(&ids, Some(&mask));
            for padded in [false, true] {
                e.padded = padded;
                let d = diff(&e.forward(&ids, &mask), &theirs, &mask);
                assert!(d < 1e-4, "padded {padded}: max abs difference {d}");
            }
        });
    }

    /// As above, on the tiny Pegasus fixture (pre-norm, sinusoidal
    /// positions, final layer norm). rust-bert stores Pegasus' sinusoidal
    /// table in f16 (`transformers` and we in f32), so the comparison
    /// rounds ours the same way.
    #[test]
    fn pegasus_encoder_matches_rust_bert() {
        let (dir, json, input) = fixture("pegasus-tiny");
        let config = PegasusConfig::from_file(dir.join("config.json"));
        let mut vs = nn::VarStore::new(tch::Device::Cpu);
        let m = PegasusForConditionalGeneration::new(vs.root(), &config);
        vs.load_partial(dir.join("model.safetensors")).unwrap();
        let mut e = Encoder::new(Family::Pegasus, &vs.variables(), &json).unwrap();
        e.positions = e
            .positions
            .to_kind(tch::Kind::Half)
            .to_kind(tch::Kind::Float);
        tch::no_grad(|| {
            let (ids, mask) = batch(&input, 0);
            let theirs = m.encode(&ids, Some(&mask));
            for padded in [false, true] {
                e.padded = padded;
                let d = diff(&e.forward(&ids, &mask), &theirs, &mask);
                assert!(d < 1e-4, "padded {padded}: max abs difference {d}");
            }
        });
    }
}
