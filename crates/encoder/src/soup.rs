//! Weight averages ("soups") of models fine-tuned from one base encoder by
//! one recipe: one model whose weights are the members' mean, read at the
//! cost of one model (unlike an ensemble, which runs every member).
//!
//! The files are the ones training writes ([`crate::tuned::TOP_FILE`] and a
//! head's `head.safetensors`); this module decides how each kind of weight
//! is averaged, next to [`crate::layer`], which decides what they mean.

use std::collections::BTreeMap;
use std::path::Path;
use tch::{Kind, Tensor};

/// Name suffixes of a LoRA adapter's two factors ([`crate::layer`]): the
/// update is `scale · B A` with `A` of shape `[r, in]`, `B` of `[out, r]`.
const LORA_A: &str = ".lora_a";
const LORA_B: &str = ".lora_b";

fn read(path: &Path) -> Result<BTreeMap<String, Tensor>, String> {
    Ok(Tensor::read_safetensors(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .into_iter()
        .map(|(k, t)| (k, t.to_kind(Kind::Float)))
        .collect())
}

/// Every member's tensors, checked to hold the same names.
fn read_all(paths: &[&Path]) -> Result<Vec<BTreeMap<String, Tensor>>, String> {
    let members = paths
        .iter()
        .map(|p| read(p))
        .collect::<Result<Vec<_>, _>>()?;
    if let (Some(first), Some(p0)) = (members.first(), paths.first()) {
        for (m, p) in members.iter().zip(paths).skip(1) {
            if !m.keys().eq(first.keys()) {
                return Err(format!(
                    "{} and {} hold different tensors: not one recipe",
                    p0.display(),
                    p.display()
                ));
            }
        }
    }
    Ok(members)
}

/// The mean of one tensor over the members, checked to share its shape.
fn mean(members: &[BTreeMap<String, Tensor>], name: &str) -> Result<Tensor, String> {
    let ts: Vec<&Tensor> = members.iter().filter_map(|m| m.get(name)).collect();
    if ts.iter().any(|t| t.size() != ts[0].size()) {
        return Err(format!("{name}: shapes differ between the members"));
    }
    Ok(Tensor::stack(&ts, 0).mean_dim(0i64, false, Kind::Float))
}

/// Writes to `out` the tuned layers whose update is the mean of the
/// members' (`members`: their `encoder-top.safetensors`). Whole layers are
/// averaged weight by weight. LoRA updates are averaged exactly rather than
/// factor by factor (the mean of `B_i A_i` is not `mean(B) mean(A)`): the
/// factors are stacked into one adapter of rank `k·r`,
/// `[B_1 … B_k] / k · [A_1; …; A_k]`, whose scale is the same because the
/// scale does not depend on the rank. Inference folds the adapters into the
/// weights, so the larger rank costs nothing there. Saved as float16, as
/// training saves. Returns the soup's rank (0 for whole layers).
pub fn average_tops(members: &[&Path], out: &Path) -> Result<usize, String> {
    let k = members.len();
    if k == 0 {
        return Err("no members to average".into());
    }
    let ms = read_all(members)?;
    let stacked = |name: &str, dim: i64| {
        let ts: Vec<&Tensor> = ms.iter().filter_map(|m| m.get(name)).collect();
        Tensor::f_cat(&ts, dim).map_err(|_| format!("{name}: shapes differ between the members"))
    };
    let (mut named, mut rank) = (Vec::new(), 0);
    for name in ms[0].keys() {
        let t = if name.ends_with(LORA_A) {
            let a = stacked(name, 0)?;
            rank = a.size()[0] as usize;
            a
        } else if name.ends_with(LORA_B) {
            stacked(name, 1)? / k as f64
        } else {
            mean(&ms, name)?
        };
        named.push((name.clone(), t.to_kind(Kind::Half)));
    }
    Tensor::write_safetensors(&named, out).map_err(|e| format!("{}: {e}", out.display()))?;
    Ok(rank)
}

/// Writes to `out` the mean of the members' head weights (`members`: their
/// `head.safetensors`), float32 as heads are saved. Meant for linear heads,
/// whose mean is the mean of their logits on shared features.
pub fn average_heads(members: &[&Path], out: &Path) -> Result<(), String> {
    if members.is_empty() {
        return Err("no members to average".into());
    }
    let ms = read_all(members)?;
    let named = ms[0]
        .keys()
        .map(|name| Ok((name.clone(), mean(&ms, name)?)))
        .collect::<Result<Vec<_>, String>>()?;
    Tensor::write_safetensors(&named, out).map_err(|e| format!("{}: {e}", out.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, tensors: &[(&str, Tensor)]) -> std::path::PathBuf {
        let p = dir.join(name);
        let named: Vec<(String, Tensor)> = tensors
            .iter()
            .map(|(k, t)| (k.to_string(), t.shallow_clone()))
            .collect();
        Tensor::write_safetensors(&named, &p).unwrap();
        p
    }

    #[test]
    fn the_averaged_adapter_carries_the_mean_update() {
        let _g = crate::TORCH_RNG.lock().unwrap_or_else(|e| e.into_inner());
        tch::manual_seed(3);
        let dir = tempfile::tempdir().unwrap();
        let (r, inp, outp) = (2, 5, 4);
        let mut paths = Vec::new();
        let mut updates = Vec::new();
        for i in 0..3 {
            // Values a float16 file keeps exactly enough for the check below.
            let a = Tensor::randn([r, inp], (Kind::Float, tch::Device::Cpu)).to_kind(Kind::Half);
            let b = Tensor::randn([outp, r], (Kind::Float, tch::Device::Cpu)).to_kind(Kind::Half);
            let bias = Tensor::from_slice(&[i as f32; 4]).to_kind(Kind::Half);
            updates.push(b.to_kind(Kind::Float).matmul(&a.to_kind(Kind::Float)));
            paths.push(write(
                dir.path(),
                &format!("m{i}.safetensors"),
                &[("l.lora_a", a), ("l.lora_b", b), ("l.bias", bias)],
            ));
        }
        let refs: Vec<&Path> = paths.iter().map(|p| p.as_path()).collect();
        let out = dir.path().join("soup.safetensors");
        assert_eq!(average_tops(&refs, &out).unwrap(), 6);
        let soup = read(&out).unwrap();
        assert_eq!(soup["l.lora_a"].size(), vec![6, inp]);
        assert_eq!(soup["l.lora_b"].size(), vec![outp, 6]);
        let got = soup["l.lora_b"].matmul(&soup["l.lora_a"]);
        let want = Tensor::stack(&updates, 0).mean_dim(0i64, false, Kind::Float);
        let err = f64::try_from((got - &want).abs().max()).unwrap();
        let scale = f64::try_from(want.abs().max()).unwrap();
        assert!(err < 2e-3 * scale, "max error {err} against {scale}");
        // Averaging factor by factor would not give the mean update.
        let (ab, bb): (Vec<Tensor>, Vec<Tensor>) = (0..3)
            .map(|i| {
                (
                    soup["l.lora_a"].narrow(0, 2 * i, 2),
                    soup["l.lora_b"].narrow(1, 2 * i, 2) * 3.0,
                )
            })
            .unzip();
        let naive = Tensor::stack(&bb, 0)
            .mean_dim(0i64, false, Kind::Float)
            .matmul(&Tensor::stack(&ab, 0).mean_dim(0i64, false, Kind::Float));
        assert!(!naive.allclose(&want, 1e-2, 1e-2, false));
        let bias = Vec::<f32>::try_from(&soup["l.bias"]).unwrap();
        assert_eq!(bias, vec![1.0; 4]);
    }

    #[test]
    fn heads_average_weight_by_weight_and_members_must_match() {
        let dir = tempfile::tempdir().unwrap();
        let w = |v: f32| Tensor::from_slice(&[v; 6]).view([2, 3]);
        let a = write(dir.path(), "a.safetensors", &[("out.weight", w(1.0))]);
        let b = write(dir.path(), "b.safetensors", &[("out.weight", w(3.0))]);
        let out = dir.path().join("h.safetensors");
        average_heads(&[&a, &b], &out).unwrap();
        let got = Vec::<f32>::try_from(read(&out).unwrap()["out.weight"].view([-1])).unwrap();
        assert_eq!(got, vec![2.0; 6]);
        let c = write(dir.path(), "c.safetensors", &[("other", w(1.0))]);
        let e = average_heads(&[&a, &c], &out).unwrap_err();
        assert!(e.contains("different tensors"), "{e}");
        let d = write(
            dir.path(),
            "d.safetensors",
            &[("out.weight", w(1.0).view([3, 2]))],
        );
        let e = average_heads(&[&a, &d], &out).unwrap_err();
        assert!(e.contains("shapes differ"), "{e}");
    }
}
