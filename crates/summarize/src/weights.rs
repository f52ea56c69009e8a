//! Reading `model.safetensors` into a `VarStore` without intermediate copies.
//!
//! Why: tch's `load_partial` reads the whole file into memory, turns every
//! entry into a tensor (a second copy), then copies those into the variables
//! (the third): the peak is three times the weights (docs/benchmarks.md,
//! issue 17). Here each entry is read from the file straight into its
//! variable's memory; only an entry whose dtype differs from its variable's
//! goes through a temporary tensor (and, as tch does, sets the variable's
//! precision to the file's).

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use tch::{nn, Device, Kind, Tensor};

fn kind_of(dtype: &str) -> Option<Kind> {
    Some(match dtype {
        "F32" => Kind::Float,
        "F16" => Kind::Half,
        "BF16" => Kind::BFloat16,
        "F64" => Kind::Double,
        "I64" => Kind::Int64,
        "I32" => Kind::Int,
        "I8" => Kind::Int8,
        "U8" => Kind::Uint8,
        "BOOL" => Kind::Bool,
        _ => return None,
    })
}

struct Entry {
    kind: Kind,
    shape: Vec<i64>,
    start: u64,
    len: usize,
}

/// Loads the variables of `vs` found in the file; returns the names of
/// those not found (as `VarStore::load_partial`). Other formats than
/// safetensors go through `load_partial`.
pub(crate) fn load_partial(vs: &mut nn::VarStore, path: &Path) -> Result<Vec<String>, String> {
    if path.extension().and_then(|e| e.to_str()) != Some("safetensors") {
        return vs.load_partial(path).map_err(|e| e.to_string());
    }
    let mut file = File::open(path).map_err(|e| e.to_string())?;
    let mut n = [0u8; 8];
    file.read_exact(&mut n).map_err(|e| e.to_string())?;
    let header_len = u64::from_le_bytes(n);
    if header_len > 100 << 20 {
        return Err(format!("safetensors header of {header_len} bytes"));
    }
    let mut header = vec![0u8; header_len as usize];
    file.read_exact(&mut header).map_err(|e| e.to_string())?;
    let header: HashMap<String, serde_json::Value> =
        serde_json::from_slice(&header).map_err(|e| format!("safetensors header: {e}"))?;
    let base = 8 + header_len;
    let mut entries = HashMap::new();
    for (name, v) in &header {
        if name == "__metadata__" {
            continue;
        }
        let bad = || format!("safetensors entry {name:?}: {v}");
        let dtype = v["dtype"].as_str().ok_or_else(bad)?;
        let kind = kind_of(dtype).ok_or_else(|| format!("{name:?}: unsupported dtype {dtype}"))?;
        let shape = v["shape"]
            .as_array()
            .ok_or_else(bad)?
            .iter()
            .map(|d| d.as_i64().ok_or_else(bad))
            .collect::<Result<Vec<_>, _>>()?;
        let offsets = v["data_offsets"].as_array().ok_or_else(bad)?;
        let (a, b) = match (offsets.first(), offsets.get(1)) {
            (Some(a), Some(b)) => (a.as_u64().ok_or_else(bad)?, b.as_u64().ok_or_else(bad)?),
            _ => return Err(bad()),
        };
        let len = b.checked_sub(a).ok_or_else(bad)? as usize;
        let numel: i64 = shape.iter().product();
        if len != numel as usize * kind.elt_size_in_bytes() {
            return Err(bad());
        }
        entries.insert(
            name.clone(),
            Entry {
                kind,
                shape,
                start: base + a,
                len,
            },
        );
    }
    let mut missing = Vec::new();
    for (name, mut var) in vs.variables() {
        let Some(e) = entries.get(&name) else {
            missing.push(name);
            continue;
        };
        if var.size() != e.shape {
            return Err(format!(
                "{name:?}: shape {:?} in the file, {:?} in the model",
                e.shape,
                var.size()
            ));
        }
        file.seek(SeekFrom::Start(e.start))
            .map_err(|e| e.to_string())?;
        if var.kind() == e.kind && var.device() == Device::Cpu && var.is_contiguous() {
            // SAFETY: `var` is a contiguous CPU tensor of `e.len` bytes
            // (same shape and dtype as the entry), owned by the store for
            // the duration of this call, and nothing else reads it meanwhile.
            let bytes = unsafe { std::slice::from_raw_parts_mut(var.data_ptr() as *mut u8, e.len) };
            file.read_exact(bytes).map_err(|e| e.to_string())?;
        } else {
            let mut bytes = vec![0u8; e.len];
            file.read_exact(&mut bytes).map_err(|e| e.to_string())?;
            let src =
                Tensor::f_from_data_size(&bytes, &e.shape, e.kind).map_err(|e| e.to_string())?;
            tch::no_grad(|| -> Result<(), tch::TchError> {
                var.set_data(&var.to_kind(e.kind));
                var.f_copy_(&src)
            })
            .map_err(|err| format!("{name:?}: {err}"))?;
        }
    }
    Ok(missing)
}
