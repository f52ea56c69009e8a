//! Build script shared by every package that links libtorch (through
//! rust-bert / tch): puts `$LIBTORCH/lib` into the run-time search path of
//! the package's binaries and test binaries, so they run without
//! `LD_LIBRARY_PATH`. (`.cargo/config.toml`'s `[env]` reaches cargo and
//! build scripts, not test binaries.)

fn main() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    if let Ok(dir) = std::env::var("LIBTORCH") {
        let lib = std::path::Path::new(&dir).join("lib");
        let lib = lib.canonicalize().unwrap_or(lib);
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    }
}
