//! One BERT transformer layer written out with tch, so that fine-tuning can
//! choose what trains: every weight of the layer, or only low-rank adapters
//! (LoRA, Hu et al. 2021) beside its frozen weights.
//!
//! rust-bert's `BertLayer` keeps its linear maps private, so adapters cannot
//! be attached to it. This is the same computation (post-LayerNorm
//! attention and feed-forward blocks, exact GELU, rust-bert's additive mask)
//! under the same variable names as Hugging Face checkpoints, so the base
//! model's safetensors load into it as they are; a test checks it against
//! the base encoder.

use rust_bert::bert::BertConfig;
use std::collections::HashMap;
use tch::nn::{self, Init};
use tch::{Kind, Tensor};

/// What trains in a layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adapt {
    /// Every weight and bias, LayerNorms included.
    Full,
    /// Only a rank-`r` update `B A` (scaled by `alpha / r` = 2, i.e. LoRA alpha = 2r)
    /// beside each of the six linear maps; the layer's own weights stay
    /// the base model's. `B` starts at zero, so an untrained adapter
    /// changes nothing.
    Lora(usize),
}

impl Adapt {
    /// From a manifest's or the command line's `lora_rank` (0: whole layers).
    pub fn from_rank(rank: usize) -> Adapt {
        match rank {
            0 => Adapt::Full,
            r => Adapt::Lora(r),
        }
    }

    /// The LoRA rank, 0 for whole layers.
    pub fn rank(self) -> usize {
        match self {
            Adapt::Full => 0,
            Adapt::Lora(r) => r,
        }
    }
}

/// `x W^T + b`, plus `scale * x A^T B^T` with LoRA.
struct Linear {
    weight: Tensor,
    bias: Tensor,
    lora: Option<(Tensor, Tensor, f64)>,
    /// `W + scale B A`, once the adapters are final ([`Layer::merge_adapters`]):
    /// one product per call instead of three.
    merged: Option<Tensor>,
}

/// Where a layer's weights come from: with [`Adapt::Full`], new trainable
/// variables under `path` (filled by loading the checkpoint afterwards);
/// with LoRA, the shared frozen base weights, by checkpoint name.
struct Source<'a> {
    path: nn::Path<'a>,
    name: String,
    adapt: Adapt,
    frozen: &'a HashMap<String, Tensor>,
}

impl<'a> Source<'a> {
    fn sub(&self, part: &str) -> Source<'a> {
        let mut path = self.path.clone();
        for c in part.split('.') {
            path = &path / c;
        }
        Source {
            path,
            name: format!("{}.{part}", self.name),
            adapt: self.adapt,
            frozen: self.frozen,
        }
    }

    fn weight(&self, leaf: &str, dims: &[i64]) -> Result<Tensor, String> {
        match self.adapt {
            Adapt::Full => Ok(self.path.var(leaf, dims, Init::Const(0.0))),
            Adapt::Lora(_) => {
                let name = format!("{}.{leaf}", self.name);
                let t = self
                    .frozen
                    .get(&name)
                    .ok_or_else(|| format!("the base model has no {name}"))?;
                if t.size() != dims {
                    return Err(format!("{name} is {:?}, expected {dims:?}", t.size()));
                }
                Ok(t.shallow_clone())
            }
        }
    }
}

impl Linear {
    fn new(src: Source, inputs: i64, outputs: i64) -> Result<Self, String> {
        let (p, adapt) = (&src.path, src.adapt);
        let lora = match adapt {
            Adapt::Full => None,
            Adapt::Lora(r) => {
                let r = r as i64;
                let a = p.var(
                    "lora_a",
                    &[r, inputs],
                    Init::Randn {
                        mean: 0.0,
                        stdev: 1.0 / (inputs as f64).sqrt(),
                    },
                );
                let b = p.var("lora_b", &[outputs, r], Init::Const(0.0));
                Some((a, b, 2.0))
            }
        };
        Ok(Linear {
            weight: src.weight("weight", &[outputs, inputs])?,
            bias: src.weight("bias", &[outputs])?,
            lora,
            merged: None,
        })
    }

    /// Folds the adapters into a weight of its own (the frozen one is
    /// shared and stays untouched). Only for inference: training would
    /// no longer reach the adapters.
    fn merge(&mut self) {
        if let Some((a, b, scale)) = &self.lora {
            self.merged = Some(tch::no_grad(|| &self.weight + b.matmul(a) * *scale));
        }
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        if let Some(w) = &self.merged {
            return x.linear(w, Some(&self.bias));
        }
        let y = x.linear(&self.weight, Some(&self.bias));
        match &self.lora {
            None => y,
            Some((a, b, scale)) => y + x.matmul(&a.tr()).matmul(&b.tr()) * *scale,
        }
    }
}

struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f64,
}

impl LayerNorm {
    fn new(src: Source, dim: i64, eps: f64) -> Result<Self, String> {
        Ok(LayerNorm {
            weight: src.weight("weight", &[dim])?,
            bias: src.weight("bias", &[dim])?,
            eps,
        })
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        x.layer_norm(
            [*x.size().last().unwrap_or(&0)],
            Some(&self.weight),
            Some(&self.bias),
            self.eps,
            false,
        )
    }
}

/// One encoder layer (`encoder.layer.<i>` in a checkpoint).
pub struct Layer {
    query: Linear,
    key: Linear,
    value: Linear,
    attn_out: Linear,
    attn_norm: LayerNorm,
    intermediate: Linear,
    out: Linear,
    out_norm: LayerNorm,
    heads: i64,
    dropout: f64,
    attn_dropout: f64,
}

impl Layer {
    /// The layer checkpoint-named `name` (`encoder.layer.<i>`), its
    /// variables under `path`: whole-layer variables to be filled by loading
    /// the checkpoint, or adapters beside `frozen`'s weights of that name.
    pub fn new(
        path: nn::Path,
        name: &str,
        config: &BertConfig,
        adapt: Adapt,
        frozen: &HashMap<String, Tensor>,
    ) -> Result<Self, String> {
        let d = config.hidden_size;
        let inner = config.intermediate_size;
        // rust-bert fixes BERT's LayerNorm epsilon at 1e-12 (as MiniLM's config says).
        let eps = 1e-12;
        let src = Source {
            path,
            name: name.to_string(),
            adapt,
            frozen,
        };
        Ok(Layer {
            query: Linear::new(src.sub("attention.self.query"), d, d)?,
            key: Linear::new(src.sub("attention.self.key"), d, d)?,
            value: Linear::new(src.sub("attention.self.value"), d, d)?,
            attn_out: Linear::new(src.sub("attention.output.dense"), d, d)?,
            attn_norm: LayerNorm::new(src.sub("attention.output.LayerNorm"), d, eps)?,
            intermediate: Linear::new(src.sub("intermediate.dense"), d, inner)?,
            out: Linear::new(src.sub("output.dense"), inner, d)?,
            out_norm: LayerNorm::new(src.sub("output.LayerNorm"), d, eps)?,
            heads: config.num_attention_heads,
            dropout: config.hidden_dropout_prob,
            attn_dropout: config.attention_probs_dropout_prob,
        })
    }

    /// Folds LoRA adapters into the weights for inference (see `Linear`).
    pub fn merge_adapters(&mut self) {
        for l in [
            &mut self.query,
            &mut self.key,
            &mut self.value,
            &mut self.attn_out,
            &mut self.intermediate,
            &mut self.out,
        ] {
            l.merge();
        }
    }

    /// `hidden` is `[batch, tokens, dim]`; `mask` the additive attention
    /// mask (`[batch, 1, 1, tokens]`: 0 for tokens, -10000 for padding).
    pub fn forward_t(&self, hidden: &Tensor, mask: &Tensor, train: bool) -> Tensor {
        let (b, t, d) = hidden.size3().unwrap_or((0, 0, 0));
        let head_dim = d / self.heads;
        let split = |x: Tensor| x.view([b, t, self.heads, head_dim]).transpose(1, 2);
        let q = split(self.query.forward(hidden));
        let k = split(self.key.forward(hidden));
        let v = split(self.value.forward(hidden));
        // Inference uses libtorch's fused attention (the same product,
        // softmax and product in one kernel); training keeps the explicit
        // form, whose attention dropout the fused call would not seed alike.
        let context = if train {
            let scores = q.matmul(&k.transpose(-1, -2)) / (head_dim as f64).sqrt() + mask;
            let probs = scores
                .softmax(-1, Kind::Float)
                .dropout(self.attn_dropout, train);
            probs.matmul(&v)
        } else {
            Tensor::scaled_dot_product_attention(&q, &k, &v, Some(mask), 0.0, false, None)
        };
        let context = context.transpose(1, 2).contiguous().view([b, t, d]);
        let attended = self
            .attn_norm
            .forward(&(self.attn_out.forward(&context).dropout(self.dropout, train) + hidden));
        let inner = self.intermediate.forward(&attended).gelu("none");
        self.out_norm
            .forward(&(self.out.forward(&inner).dropout(self.dropout, train) + attended))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    #[test]
    fn merged_adapters_give_the_same_output() {
        let _rng = crate::TORCH_RNG.lock().unwrap_or_else(|e| e.into_inner());
        let opts = (Kind::Float, Device::Cpu);
        let mut l = Linear {
            weight: Tensor::randn([6, 4], opts),
            bias: Tensor::randn([6], opts),
            lora: Some((
                Tensor::randn([2, 4], opts),
                Tensor::randn([6, 2], opts),
                2.0,
            )),
            merged: None,
        };
        let x = Tensor::randn([3, 5, 4], opts);
        let before = l.forward(&x);
        let weight = l.weight.copy();
        l.merge();
        let after = l.forward(&x);
        let diff = (before - after).abs().max().double_value(&[]);
        assert!(diff < 1e-5, "{diff}");
        // The shared frozen weight itself is untouched.
        assert_eq!((weight - &l.weight).abs().max().double_value(&[]), 0.0);
    }
}
