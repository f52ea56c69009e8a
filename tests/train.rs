//! End-to-end: `stancepipe train` never replaces an existing model without
//! `--force` and writes to a new folder by default; it trains the sentence
//! head and the one-pass stance model on the user's own gold JSONL, and
//! `stancepipe eval` runs with the new heads through `--set`; `train soup`
//! averages two such models into one that the stages read. Training is
//! tiny (the fixture's 10 + 3 documents, one epoch).

mod common;
use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const GOLD: &str = "tests/fixtures/train/gold.jsonl";
const DEV: &str = "tests/fixtures/train/dev.jsonl";

/// Every file below `dir` (recursively) with its bytes.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

fn manifest(dir: &Path) -> Value {
    let p = dir.join("manifest.json");
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap()
}

/// A one-line refusal: exit 2, nothing on stdout, one error line naming
/// `--force`.
fn assert_refused(out: &Output, what: &str) {
    assert_eq!(out.code, 2, "{what}: stderr: {}", out.stderr);
    assert!(out.stdout.is_empty(), "{what}: {}", out.stdout);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{what}: {}", out.stderr);
    assert!(
        lines[0].starts_with("stancepipe: error: ") && lines[0].contains("--force"),
        "{what}: {}",
        lines[0]
    );
}

/// `train stance` on the fixture (one epoch) into `out`, with `extra` flags.
fn train_fixture(out: &Path, extra: &[&str]) -> Output {
    let mut a = vec![
        "train",
        "stance",
        "--gold",
        GOLD,
        "--dev",
        DEV,
        "--epochs",
        "1",
        "--batch",
        "8",
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ];
    a.extend(extra);
    stancepipe(&a, None)
}

/// Writes `<dir>/p.toml`: a pipeline tracking Acme whose stance stage reads
/// `stance` (a one-pass head) and, when given, whose classify stage reads
/// `sentence`.
fn write_pipeline(dir: &Path, stance: &Path, sentence: Option<&Path>) -> PathBuf {
    let enc = root().join("models/all-MiniLM-L6-v2");
    let classify = sentence.map_or(String::new(), |s| {
        format!(
            "[[stage]]\nid = \"classify\"\nkind = \"classify\"\nbackend = \"embedding-head\"\nencoder = \"{}\"\nhead = \"{}\"\n\n",
            enc.display(),
            s.display()
        )
    });
    let config = format!(
        r#"[[company]]
name = "Acme"

[[stage]]
id = "tokenize"
kind = "tokenize"
tokenizer = "{tok}"

{classify}[[stage]]
id = "stance"
kind = "stance"
backend = "target-sentiment"
encoder = "{enc}"
head = "{head}"
min_mentions = 1
"#,
        tok = tokenizer_path().display(),
        enc = enc.display(),
        head = stance.display(),
    );
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("p.toml");
    std::fs::write(&path, config).unwrap();
    path
}

/// `stancepipe run` with `config` on a two-sentence text naming Acme twice;
/// the one result.
fn run_on_acme(config: &Path) -> Value {
    let out = stancepipe(
        &[
            "run",
            "--config",
            config.to_str().unwrap(),
            "--format",
            "jsonl",
            "-",
        ],
        Some(b"Acme raised its outlook. Rivals of Acme lost ground to it this year."),
    );
    assert_eq!(out.code, 0, "{}: stderr: {}", config.display(), out.stderr);
    serde_json::from_str(out.stdout.trim()).unwrap()
}

#[test]
fn train_never_replaces_the_shipped_models_without_force() {
    let heads = root().join("models/heads");
    let before = files(&heads);
    assert!(before.len() >= 5, "the shipped heads are there");
    let tmp = tempfile::tempdir().unwrap();
    let elsewhere = tmp.path().join("x/stance");
    let elsewhere = elsewhere.to_str().unwrap();
    let attempts: [&[&str]; 5] = [
        // What the README's retraining commands used to write to.
        &["train", "stance", "--out", "models/heads/stance"],
        &[
            "train",
            "stance",
            "--out",
            elsewhere,
            "--sentence-out",
            "models/heads/sentence",
        ],
        &["train", "sentiment", "--out", "models/heads/sentence"],
        &["train", "target", "--out", "models/heads/stance"],
        &[
            "train",
            "document",
            "--out",
            "models/heads/stance/document.json",
        ],
    ];
    // Refused before any data is read (the data folder here is missing).
    for args in attempts {
        let mut a = args.to_vec();
        a.extend(["--data", "tests/fixtures/no-such-data", "--quiet"]);
        assert_refused(&stancepipe(&a, None), &args.join(" "));
    }
    assert!(!tmp.path().join("x").exists(), "nothing written elsewhere");
    assert_eq!(
        files(&heads),
        before,
        "the shipped heads are byte-identical"
    );

    // With data that trains (a tiny PhraseBank), into a copy of the shipped
    // sentence head: refused, the copy byte-identical; --force replaces it.
    let data = tmp.path().join("data");
    std::fs::create_dir_all(data.join("phrasebank")).unwrap();
    let lines: String = (0..20)
        .map(|i| match i % 3 {
            0 => format!("Profit rose {i} percent and the outlook improved .@positive\n"),
            1 => format!("Sales fell {i} percent after heavy losses .@negative\n"),
            _ => format!("The meeting is on day {i} .@neutral\n"),
        })
        .collect();
    for f in ["Sentences_50Agree.txt", "Sentences_AllAgree.txt"] {
        std::fs::write(data.join("phrasebank").join(f), &lines).unwrap();
    }
    let copy = tmp.path().join("heads/sentence");
    std::fs::create_dir_all(&copy).unwrap();
    for (p, bytes) in files(&heads.join("sentence")) {
        std::fs::write(copy.join(p.file_name().unwrap()), bytes).unwrap();
    }
    let copied = files(&copy);
    let sentiment = |force: bool| {
        let mut a = vec!["train", "sentiment", "--epochs", "1", "--quiet"];
        a.extend([
            "--data",
            data.to_str().unwrap(),
            "--out",
            copy.to_str().unwrap(),
        ]);
        if force {
            a.push("--force");
        }
        stancepipe(&a, None)
    };
    assert_refused(&sentiment(false), "train sentiment --out <existing head>");
    assert_eq!(files(&copy), copied, "the existing head is byte-identical");
    let out = sentiment(true);
    assert_eq!(out.code, 0, "stderr: {}", out.stderr);
    assert_ne!(files(&copy), copied, "--force replaced it");
    assert_eq!(manifest(&copy)["training"]["data"]["sizes"]["train"], 16);
}

/// Removes a folder the test made inside the repository, even on failure.
struct Remove(PathBuf);
impl Drop for Remove {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
        // models/trained itself, when this left it empty.
        if let Some(parent) = self.0.parent() {
            let _ = std::fs::remove_dir(parent);
        }
    }
}

#[test]
fn trains_on_user_gold_into_new_folders_and_eval_reads_the_heads() {
    let heads = root().join("models/heads");
    let shipped = files(&heads);
    let tmp = tempfile::tempdir().unwrap();

    // 1. The sentence head on the gold file alone, split by the rule
    //    (10 records: 8 train, 1 dev, 1 test), default destination.
    let out = stancepipe(
        &["train", "sentiment", "--gold", GOLD, "--epochs", "1"],
        None,
    );
    assert_eq!(out.code, 0, "stderr: {}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "one line on stdout: {}", out.stdout);
    let rest = lines[0]
        .strip_prefix("sentiment head written to ")
        .unwrap_or_else(|| panic!("{}", lines[0]));
    let (dest, usage) = rest.split_once("; ").unwrap();
    assert!(dest.starts_with("models/trained/sentiment-"), "{dest}");
    let default_dir = root().join(dest);
    // The hint names the folder by absolute path (`--set` paths are read
    // against the config file's folder).
    assert_eq!(
        usage,
        format!("use it with --set classify.head={}", default_dir.display())
    );
    let _cleanup = Remove(default_dir.clone());
    assert!(default_dir.join("head.safetensors").exists());
    let m = manifest(&default_dir);
    assert_eq!(m["task"], "sentence-sentiment");
    let data = &m["training"]["data"];
    assert_eq!(data["gold"]["file"], GOLD);
    assert_eq!(data["gold"]["train"]["documents"], 8);
    assert_eq!(data["gold"]["train"]["sentences"], 24);
    assert_eq!(data["gold"]["dev"]["sentences"], 3);
    assert_eq!(data["sizes"]["train"], 24, "the gold sentences only");
    assert!(data.get("phrasebank").is_none(), "{data}");
    assert_eq!(m["training"]["test"][0]["set"], "gold-test");
    assert!(m["training"]["command"]
        .as_str()
        .unwrap()
        .contains("--gold tests/fixtures/train/gold.jsonl"));

    // An existing head is replaced only with --force.
    let again = |force: bool| {
        let mut a = vec!["train", "sentiment", "--gold", GOLD, "--epochs", "1"];
        a.extend(["--out", dest, "--quiet"]);
        if force {
            a.push("--force");
        }
        stancepipe(&a, None)
    };
    let before = files(&default_dir);
    assert_refused(&again(false), "existing --out");
    assert_eq!(files(&default_dir), before, "untouched without --force");
    let out = again(true);
    assert_eq!(out.code, 0, "stderr: {}", out.stderr);
    assert!(manifest(&default_dir)["training"]["command"]
        .as_str()
        .unwrap()
        .ends_with("--force"));

    // 2. The one-pass stance model (encoder adapters, stance head, sentence
    //    head) on the gold file, dev part from a second gold file.
    // Canonical, so that the printed paths and the absolute hint agree.
    let m_dir = tmp.path().canonicalize().unwrap().join("m");
    let stance_dir = m_dir.join("stance");
    let sentence_dir = m_dir.join("sentence");
    let stance_arg = stance_dir.to_str().unwrap();
    let out = stancepipe(
        &[
            "train", "stance", "--gold", GOLD, "--dev", DEV, "--epochs", "1", "--batch", "8",
            "--out", stance_arg, "--quiet",
        ],
        None,
    );
    assert_eq!(out.code, 0, "stderr: {}", out.stderr);
    assert_eq!(
        out.stdout.trim_end(),
        format!(
            "stance model written to {0} and {1}; use it with --set stance.head={0} --set classify.head={1}",
            stance_dir.display(),
            sentence_dir.display()
        )
    );
    let m = manifest(&stance_dir);
    assert_eq!(m["task"], "target-sentiment");
    assert_eq!(m["one_pass"], true);
    let data = &m["training"]["data"];
    assert_eq!(data["sources"], serde_json::json!(["gold"]));
    assert_eq!(data["gold"]["dev_file"], DEV);
    // Every record trains: two named entities per document, one mention each.
    assert_eq!(data["gold"]["train"]["documents"], 10);
    assert_eq!(data["gold"]["train"]["mentions"], 20);
    assert_eq!(data["gold"]["dev"]["mentions"], 6);
    assert_eq!(data["sizes"]["gold"]["train"], 20);
    assert!(m["training"]["dev_per_source"]["gold"]["macro_f1"].is_number());
    assert!(m["training"]["sentence_head"]["gold-dev"]["macro_f1"].is_number());
    let s = manifest(&sentence_dir);
    assert_eq!(s["task"], "sentence-sentiment");
    assert_eq!(s["encoder_top"], "../stance/encoder-top.safetensors");

    // 3. `eval` with the new heads set on the command line.
    let config = format!(
        r#"[[stage]]
id = "tokenize"
kind = "tokenize"
tokenizer = "{tok}"

[[stage]]
id = "classify"
kind = "classify"
backend = "embedding-head"
encoder = "{enc}"
head = "{heads}/sentence"

[[stage]]
id = "stance"
kind = "stance"
backend = "target-sentiment"
encoder = "{enc}"
head = "{heads}/stance"
min_mentions = 1
"#,
        tok = tokenizer_path().display(),
        enc = root().join("models/all-MiniLM-L6-v2").display(),
        heads = heads.display(),
    );
    let config_path = tmp.path().join("p.toml");
    std::fs::write(&config_path, config).unwrap();
    let report = tmp.path().join("r");
    let out = stancepipe(
        &[
            "eval",
            "--config",
            config_path.to_str().unwrap(),
            "--gold",
            DEV,
            "--set",
            &format!("classify.head={}", sentence_dir.display()),
            "--set",
            &format!("stance.head={stance_arg}"),
            "--report",
            report.to_str().unwrap(),
            "--quiet",
        ],
        None,
    );
    assert_eq!(out.code, 0, "stderr: {}", out.stderr);
    let text = std::fs::read_to_string(report.join("report.json")).unwrap();
    let r: Value = serde_json::from_str(&text).unwrap();
    let p = &r["pipelines"][0];
    let model_of = |id: &str| {
        p["stages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .unwrap_or_else(|| panic!("stage {id}: {p}"))["model"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(
        model_of("classify").contains(&sentence_dir.display().to_string()),
        "{}",
        model_of("classify")
    );
    assert!(
        model_of("stance").contains(stance_arg),
        "{}",
        model_of("stance")
    );
    // Three documents, two entities and three sentences each, all scored.
    assert_eq!(p["stance"]["items"], 6, "{}", p["stance"]);
    assert_eq!(p["sentences"]["items"], 9, "{}", p["sentences"]);

    assert_eq!(files(&heads), shipped, "the shipped heads are untouched");
}

/// `train stance --teacher`: the teacher (here the shipped one-pass model)
/// reads the gold mentions, the manifest says what was distilled, and a
/// teacher weight outside [0, 1], a teacher that is not a model and
/// `--transfer` without a teacher are each refused in one line.
#[test]
fn distils_a_teacher_on_user_gold() {
    let tmp = tempfile::tempdir().unwrap();
    let stance_dir = tmp.path().join("m/stance");
    let train = |extra: &[&str]| {
        let mut a = vec!["--force"];
        a.extend(extra);
        train_fixture(&stance_dir, &a)
    };
    let out = train(&[
        "--teacher",
        "models/heads/stance",
        "--teacher-weight",
        "0.25",
    ]);
    assert_eq!(out.code, 0, "stderr: {}", out.stderr);
    let t = &manifest(&stance_dir)["training"];
    let teacher = &t["data"]["teacher"];
    assert_eq!(teacher["distilled"], serde_json::json!(["gold"]));
    assert_eq!(teacher["weight"], 0.25);
    assert_eq!(teacher["heads"], serde_json::json!(["models/heads/stance"]));
    assert!(t["command"]
        .as_str()
        .unwrap()
        .contains("--teacher models/heads/stance --teacher-weight 0.25"));

    for (extra, what) in [
        (
            &[
                "--teacher",
                "models/heads/stance",
                "--teacher-weight",
                "1.5",
            ][..],
            "--teacher-weight",
        ),
        (&["--teacher", "no/such/head"][..], "--teacher"),
        (&["--transfer"][..], "--transfer needs --teacher"),
    ] {
        let out = train(extra);
        assert_ne!(out.code, 0, "{what}: {}", out.stdout);
        let lines: Vec<&str> = out.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{what}: {}", out.stderr);
        assert!(lines[0].contains(what), "{what}: {}", lines[0]);
    }
}

/// `train stance --attend-tokens`: the target head also reads the mention's
/// attention over its neighbourhood (encoder::attend); the manifest records
/// it with the wider input, and the stance stage loads and reads the head.
#[test]
fn trains_a_head_with_target_attention_that_the_stage_reads() {
    let tmp = tempfile::tempdir().unwrap();
    let stance_dir = tmp.path().join("m/stance");
    let out = train_fixture(&stance_dir, &["--attend-tokens", "4"]);
    assert_eq!(out.code, 0, "stderr: {}", out.stderr);
    let m = manifest(&stance_dir);
    assert_eq!(m["attend_tokens"], 4);
    assert_eq!(m["input_dim"], 3 * 384, "sentence, mention and attention");
    assert!(m["training"]["command"]
        .as_str()
        .unwrap()
        .contains("--attend-tokens 4"));
    assert!(m["training"]["dev_per_source"]["gold"]["macro_f1"].is_number());

    let doc = run_on_acme(&write_pipeline(tmp.path(), &stance_dir, None));
    let stance = &doc["stance"][0];
    assert_eq!(stance["company"], "Acme", "{doc}");
    assert_eq!(stance["mentions"], 2, "{stance}");
    let label = stance["stance"].as_str().unwrap();
    assert!(["favor", "against", "none"].contains(&label), "{stance}");
}

/// Trains the fixture model into `<dir>/m` with `extra` flags, checks that
/// the recorded command holds them and that a pipeline reads the model (its
/// stance and sentence heads); returns the stance manifest and directory.
fn trained_with_and_read(dir: &Path, extra: &[&str]) -> (Value, PathBuf) {
    let stance_dir = dir.join("m/stance");
    let out = train_fixture(&stance_dir, extra);
    assert_eq!(out.code, 0, "stderr: {}", out.stderr);
    let m = manifest(&stance_dir);
    let command = m["training"]["command"].as_str().unwrap();
    assert!(command.contains(&extra.join(" ")), "{command}");
    let sentence_dir = dir.join("m/sentence");
    let doc = run_on_acme(&write_pipeline(dir, &stance_dir, Some(&sentence_dir)));
    assert_eq!(doc["stance"][0]["mentions"], 2, "{doc}");
    (m, stance_dir)
}

/// A soup of the model trained by [`trained_with_and_read`] with itself
/// fails in one line that contains `why`, writing nothing.
fn refused_as_soup(dir: &Path, stance_dir: &Path, why: &str) {
    let heads = format!("{0},{0}", stance_dir.display());
    let sentences = format!("{0},{0}", dir.join("m/sentence").display());
    let soup = dir.join("soup/stance");
    let out = stancepipe(
        &[
            "train",
            "soup",
            "--head",
            &heads,
            "--sentence-head",
            &sentences,
            "--out",
            soup.to_str().unwrap(),
            "--quiet",
        ],
        None,
    );
    assert_ne!(out.code, 0, "stderr: {}", out.stderr);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert!(out.stderr.contains(why), "{}", out.stderr);
    assert!(!soup.exists(), "nothing written");
}

/// `train stance --lora-rank` and `--tune-lr`: the adapters have the rank
/// and the encoder the rate asked for, the manifests and the recorded
/// command say so, and the stages read them; rank 0 (whole layers) and a
/// rate of 0 are refused in one line, with nothing written.
#[test]
fn trains_adapters_of_the_rank_and_rate_asked_for() {
    let tmp = tempfile::tempdir().unwrap();
    let (m, _) = trained_with_and_read(tmp.path(), &["--lora-rank", "4", "--tune-lr", "0.001"]);
    assert_eq!(m["lora_rank"], 4);
    assert_eq!(m["training"]["fit"]["lr_encoder"], 0.001, "{m}");
    assert_eq!(manifest(&tmp.path().join("m/sentence"))["lora_rank"], 4);

    let zero_rate = tmp.path().join("zero-rate/stance");
    let out = train_fixture(&zero_rate, &["--tune-lr", "0"]);
    assert_eq!(out.code, 2, "stderr: {}", out.stderr);
    assert!(out.stderr.trim().contains("--tune-lr"), "{}", out.stderr);
    assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
    assert!(!zero_rate.exists(), "nothing written");

    let zero = tmp.path().join("zero/stance");
    let out = train_fixture(&zero, &["--lora-rank", "0"]);
    assert_eq!(out.code, 2, "stderr: {}", out.stderr);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", out.stderr);
    assert!(lines[0].contains("--lora-rank"), "{}", lines[0]);
    assert!(!zero.exists(), "nothing written");
}

/// `train stance --hidden`: the target head has a ReLU layer of the width
/// asked for (the stages load it by the manifest, so a missing or
/// misshapen layer fails the run), the command records it, and a soup of
/// such heads is refused (hidden units of two runs do not correspond).
#[test]
fn trains_a_target_head_with_a_hidden_layer() {
    let tmp = tempfile::tempdir().unwrap();
    let (m, stance_dir) = trained_with_and_read(tmp.path(), &["--hidden", "8"]);
    assert_eq!(m["hidden"], 8);
    let sentence_dir = tmp.path().join("m/sentence");
    assert_eq!(manifest(&sentence_dir)["hidden"], 0);

    refused_as_soup(tmp.path(), &stance_dir, "not a linear");
}

/// `train stance --appended-head`: a second target head is saved in the
/// target head's `appended/` with a manifest of the same shape and the same
/// training record, the command records it, the stages still read the model
/// (they use the target head), and a soup of such models is refused in one
/// line.
#[test]
fn trains_a_head_of_its_own_for_appended_targets() {
    let tmp = tempfile::tempdir().unwrap();
    let (m, stance_dir) = trained_with_and_read(tmp.path(), &["--appended-head"]);
    let appended = stance_dir.join("appended");
    assert!(appended.join("head.safetensors").is_file());
    assert_eq!(manifest(&appended)["input_dim"], m["input_dim"]);
    assert!(m["training"]["fit"]["appended_head"].is_string(), "{m}");
    // Its manifest says how it was trained, as the target head's does.
    assert_eq!(manifest(&appended)["training"], m["training"]);

    refused_as_soup(tmp.path(), &stance_dir, "appended");
}

/// `train soup`: the mean of models trained by one recipe is one model the
/// stages read. A soup of one member with itself reads as that member (the
/// averaged adapters carry the same update); members must be one recipe,
/// with their own sentence heads, and gold-trained members are scored on
/// the same --gold.
#[test]
fn soups_one_recipe_into_one_model_the_stages_read() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = |name: &str| tmp.path().join(name);
    let arg = |p: &Path| p.to_str().unwrap().to_string();
    for seed in ["13", "14"] {
        let out = train_fixture(&dir(&format!("m{seed}/stance")), &["--seed", seed]);
        assert_eq!(out.code, 0, "stderr: {}", out.stderr);
    }
    let soup = |heads: [&str; 2], sentences: [&str; 2], out: &str, gold: bool| {
        let h = heads.map(|m| arg(&dir(&format!("{m}/stance")))).join(",");
        let s = sentences
            .map(|m| arg(&dir(&format!("{m}/sentence"))))
            .join(",");
        let o = arg(&dir(&format!("{out}/stance")));
        let mut a = vec![
            "train",
            "soup",
            "--head",
            &h,
            "--sentence-head",
            &s,
            "--out",
            &o,
            "--quiet",
        ];
        if gold {
            a.extend(["--gold", GOLD, "--dev", DEV]);
        }
        stancepipe(&a, None)
    };
    let out = soup(["m13", "m13"], ["m13", "m13"], "same", true);
    assert_eq!(out.code, 0, "stderr: {}", out.stderr);
    let out = soup(["m13", "m14"], ["m13", "m14"], "both", true);
    assert_eq!(out.code, 0, "stderr: {}", out.stderr);
    let m = manifest(&dir("both/stance"));
    assert_eq!(m["lora_rank"], 16, "two rank-8 adapters stacked");
    assert_eq!(
        m["training"]["soup"]["members"].as_array().unwrap().len(),
        2
    );
    assert!(m["training"]["dev_per_source"]["gold"]["macro_f1"].is_number());
    assert_eq!(manifest(&dir("both/sentence"))["lora_rank"], 16);

    let read = |model: &str| {
        let (stance, sentence) = (
            dir(&format!("{model}/stance")),
            dir(&format!("{model}/sentence")),
        );
        run_on_acme(&write_pipeline(&dir(model), &stance, Some(&sentence)))
    };
    let (one, same, both) = (read("m13"), read("same"), read("both"));
    for doc in [&one, &same, &both] {
        assert_eq!(doc["stance"][0]["mentions"], 2, "{doc}");
    }
    // The stance decision's strength and each sentence's label score.
    let scores = |doc: &Value| -> Vec<f64> {
        let mut v = vec![doc["stance"][0]["score"].as_f64().unwrap()];
        v.extend(
            doc["sentences"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["label"]["score"].as_f64().unwrap()),
        );
        v
    };
    let (a, b) = (scores(&one), scores(&same));
    assert_eq!((a.len(), b.len()), (3, 3), "{one}");
    for (x, y) in a.iter().zip(&b) {
        assert!(
            (x - y).abs() < 2e-3,
            "a soup of one member reads as it: {a:?} vs {b:?}"
        );
    }

    for (out, what) in [
        (
            soup(["m13", "m14"], ["m14", "m13"], "x", true),
            "does not read the adapters",
        ),
        (soup(["m13", "m14"], ["m13", "m14"], "y", false), "--gold"),
    ] {
        assert_ne!(out.code, 0, "{what}: {}", out.stdout);
        let lines: Vec<&str> = out.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{what}: {}", out.stderr);
        assert!(lines[0].contains(what), "{what}: {}", lines[0]);
    }
    let h = arg(&dir("m13/stance"));
    let out = stancepipe(
        &[
            "train",
            "soup",
            "--head",
            &h,
            "--out",
            &arg(&dir("z/stance")),
            "--quiet",
        ],
        None,
    );
    assert!(out.stderr.contains("at least two"), "{}", out.stderr);
}
