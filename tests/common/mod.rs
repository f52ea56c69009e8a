//! Helpers shared by the end-to-end tests: run the real `stancepipe` binary.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// The repository root (where pipeline.toml and seeds/ are).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// An empty Hugging Face cache, so that hub models are never found (or
/// fetched) whatever the machine has: runs are the same everywhere.
fn empty_hf_home() -> PathBuf {
    let dir = std::env::temp_dir().join("stancepipe-tests-empty-hf-home");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs the binary in the repository root, feeding `stdin`, offline.
pub fn stancepipe(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stancepipe"))
        .args(args)
        .current_dir(root())
        .env("HF_HOME", empty_hf_home())
        .env("HF_HUB_OFFLINE", "1")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the stancepipe binary runs");
    if let Some(bytes) = stdin {
        child.stdin.take().unwrap().write_all(bytes).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    Output {
        code: out.status.code().expect("exited normally, not by a signal"),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// The MiniLM tokenizer placed by scripts/bootstrap.sh.
pub fn tokenizer_path() -> PathBuf {
    let p = root().join("models/all-MiniLM-L6-v2/tokenizer.json");
    assert!(
        p.exists(),
        "{} is missing: run `bash scripts/bootstrap.sh` (make test does)",
        p.display()
    );
    p
}

/// The default pipeline's stages and companies, with the tokenizer given by
/// absolute path so the file can live anywhere.
pub fn pipeline_with(stages: &str) -> String {
    format!(
        "[[company]]\nname = \"Alipay\"\n\n[[company]]\nname = \"WeChat\"\naliases = [\"WeChat\", \"WeChat Pay\"]\n\n{stages}"
    )
}

pub fn default_stages() -> String {
    format!(
        r#"[[stage]]
id = "tokenize"
kind = "tokenize"
tokenizer = "{}"

[[stage]]
id = "classify"
kind = "classify"

[[stage]]
id = "stance"
kind = "stance"

[[stage]]
id = "summarize"
kind = "summarize"
"#,
        tokenizer_path().display()
    )
}

/// Writes `body` as `pipeline.toml` in a fresh temp dir and returns both.
pub fn write_config(body: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pipeline.toml");
    std::fs::write(&path, body).unwrap();
    (dir, path)
}

pub fn parse_docs(json: &str) -> Vec<serde_json::Value> {
    serde_json::from_str(json)
        .unwrap_or_else(|e| panic!("output is a JSON array ({e}): {json:.400}"))
}

/// Renders `file` in headless Chromium and returns (DOM after the scripts
/// ran, stderr). Chromium is a test dependency (`make test` installs it,
/// through `scripts/bootstrap.sh --tests`):
/// without it this fails rather than skipping.
pub fn chromium_dom(file: &Path) -> (String, String) {
    let bin = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| {
            Command::new(b)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .expect(
            "headless Chromium is needed to test the HTML pages (report.html, run --format html): install the Debian package \
             `chromium` (apt-get install -y chromium; `make test` does)",
        );
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--enable-logging=stderr",
            "--v=0",
            "--no-first-run",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", file.display()))
        .output()
        .expect("chromium runs");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The seed article's companies (pipeline.toml's list and the gold file's).
pub const SEED_COMPANIES: [&str; 7] = [
    "Alipay",
    "WeChat",
    "JD Pay",
    "Ant Group",
    "Alibaba",
    "Meituan",
    "Vipshop",
];
