//! fp32 matrix-multiply throughput of this machine through libtorch (tch),
//! the ceiling the model stages are compared with (docs/benchmarks.md).
//!
//! ```text
//! cargo bench -p stancepipe-runner --bench gemm -- --threads 2
//! ```
//!
//! Shapes (M x K times K x N): the square 2048^3 (the usual peak figure) and
//! the two largest matrix multiplies of all-MiniLM-L6-v2 on a batch of 64
//! texts of 40 tokens (2,560 token rows): the FFN up-projection
//! (2560 x 384 x 1536) and the attention projections (2560 x 384 x 384).
//! Each shape: 3 warm-up products, then products for at least 2 s; FLOPs =
//! 2 M K N per product. Prints one JSON line.

use std::process::ExitCode;
use std::time::Instant;
use tch::{Kind, Tensor};

fn gflops(m: i64, k: i64, n: i64) -> f64 {
    let a = Tensor::randn([m, k], (Kind::Float, tch::Device::Cpu));
    let b = Tensor::randn([k, n], (Kind::Float, tch::Device::Cpu));
    for _ in 0..3 {
        let _ = a.matmul(&b);
    }
    let start = Instant::now();
    let mut reps = 0u32;
    while start.elapsed().as_secs_f64() < 2.0 {
        let _ = a.matmul(&b);
        reps += 1;
    }
    2.0 * (m * k * n) as f64 * f64::from(reps) / start.elapsed().as_secs_f64() / 1e9
}

fn main() -> ExitCode {
    let mut threads = 0usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--bench" => {}
            "--threads" => match args.next().and_then(|v| v.parse().ok()) {
                Some(t) => threads = t,
                None => {
                    eprintln!("gemm bench: --threads needs a number");
                    return ExitCode::FAILURE;
                }
            },
            other => {
                eprintln!("gemm bench: unknown argument {other}");
                return ExitCode::FAILURE;
            }
        }
    }
    let threads = stancepipe_runner::Threads::resolve(threads).0;
    tch::set_num_threads(threads as i32);
    let v = serde_json::json!({
        "threads": threads,
        "square_2048_gflop_per_s": gflops(2048, 2048, 2048),
        "minilm_ffn_2560x384x1536_gflop_per_s": gflops(2560, 384, 1536),
        "minilm_proj_2560x384x384_gflop_per_s": gflops(2560, 384, 384),
    });
    println!("{v}");
    ExitCode::SUCCESS
}
