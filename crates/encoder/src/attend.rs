//! Target attention: a learned reading of a mention's neighbourhood from the
//! sentence's one shared pass. The mention's own pooled state asks (the
//! query) which of the token states around it matter for it (the keys), and
//! their weighted mean joins the target features, so two mentions of one
//! sentence read different contexts without a marked pass each (what the
//! older marked heads bought with one encoder pass per mention). A mention
//! reads only the head's `attend_tokens` on either side of it (widened as
//! [`crate::states::context_rows`] widens a span), so it costs a bounded
//! amount whatever the sentence's length. Training ([`crate::multitask`])
//! and inference ([`crate::Head::one_pass_features`]) both go through
//! [`Attend::forward`].

use tch::nn::{self, Module};
use tch::{Kind, Tensor};

/// Width of the query and key projections.
pub const KEY_DIM: i64 = 64;

/// The query and key projections of a target head's attention, stored with
/// the head's weights under `attend.query` and `attend.key`.
#[derive(Debug)]
pub struct Attend {
    query: nn::Linear,
    key: nn::Linear,
}

impl Attend {
    /// Projections from `dim`-wide states, created under `path`.
    pub fn new(path: nn::Path, dim: i64) -> Attend {
        Attend {
            query: nn::linear(&path / "query", dim, KEY_DIM, Default::default()),
            key: nn::linear(&path / "key", dim, KEY_DIM, Default::default()),
        }
    }

    /// For each query row (`[targets, dim]`: a mention's pooled state), the
    /// mean of `states` (`[rows, dim]`) weighted by softmax attention over
    /// the rows `allowed` marks for it (`[targets, rows]`, boolean; each
    /// row of it must allow at least one state), normalized when the
    /// encoder normalizes its embeddings. `[targets, dim]`.
    pub fn forward(
        &self,
        queries: &Tensor,
        states: &Tensor,
        allowed: &Tensor,
        normalize: bool,
    ) -> Tensor {
        let q = self.query.forward(queries);
        let k = self.key.forward(states);
        let scores = q.mm(&k.tr()) / (KEY_DIM as f64).sqrt();
        let weights = scores
            .masked_fill(&allowed.logical_not(), f64::NEG_INFINITY)
            .softmax(-1, Kind::Float);
        let out = weights.mm(states);
        if normalize {
            &out / out
                .norm_scalaropt_dim(2, [1i64].as_slice(), true)
                .clamp_min(1e-12)
        } else {
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    #[test]
    fn attention_stays_inside_the_allowed_rows() {
        // Draws initial weights: held so that seeded tests elsewhere stay deterministic.
        let _rng = crate::TORCH_RNG.lock().unwrap_or_else(|e| e.into_inner());
        let vs = nn::VarStore::new(Device::Cpu);
        let a = Attend::new(vs.root() / "attend", 4);
        let states = Tensor::from_slice(&[
            1.0f32, 0.0, 0.0, 0.0, //
            0.0, 1.0, 0.0, 0.0, //
            0.0, 0.0, 1.0, 0.0,
        ])
        .view([3, 4]);
        let queries = Tensor::from_slice(&[0.5f32, 0.5, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0]).view([2, 4]);
        // The first target may read rows 0 and 1, the second row 2 only.
        let allowed = Tensor::from_slice(&[true, true, false, false, false, true]).view([2, 3]);
        let out = a.forward(&queries, &states, &allowed, false);
        let v = Vec::<f32>::try_from(out.contiguous().view([-1])).unwrap();
        // First: a convex mix of rows 0 and 1, nothing of row 2.
        assert!((v[0] + v[1] - 1.0).abs() < 1e-5 && v[2] == 0.0 && v[0] > 0.0 && v[1] > 0.0);
        // Second: row 2 exactly.
        assert_eq!(&v[4..8], &[0.0, 0.0, 1.0, 0.0]);
        let unit = a.forward(&queries, &states, &allowed, true);
        let norms =
            Vec::<f32>::try_from(unit.norm_scalaropt_dim(2, [1i64].as_slice(), false)).unwrap();
        assert!(norms.iter().all(|n| (n - 1.0).abs() < 1e-5));
    }
}
