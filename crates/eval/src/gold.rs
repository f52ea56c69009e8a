//! The gold JSONL format: one record per document (see `seeds/README.md`).

use serde::Deserialize;
use stancepipe_core::StanceLabel;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoldEntity {
    pub name: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub stance: Option<StanceLabel>,
    /// `"low"` when annotators disagreed.
    #[serde(default)]
    pub agreement: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoldSentence {
    pub start: usize,
    pub end: usize,
    pub label: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoldDoc {
    pub id: String,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub entities: Vec<GoldEntity>,
    #[serde(default)]
    pub sentences: Vec<GoldSentence>,
    #[serde(default)]
    pub reference_summary: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum GoldError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{where_}: {message}")]
    Parse { where_: String, message: String },
}

/// Parses gold JSONL text (blank lines skipped). Records are checked as
/// [`read_gold`] checks them (ids used once; sentence spans of a record
/// with `text` inside it), naming the line.
pub fn parse_gold(text: &str) -> Result<Vec<GoldDoc>, GoldError> {
    let docs = parse_lines(text)?;
    for (line, doc) in &docs {
        check_spans(*line, doc)?;
    }
    Ok(docs.into_iter().map(|(_, d)| d).collect())
}

/// The records with their 1-based line numbers; an id used twice is an
/// error (two records would be scored against one prediction).
fn parse_lines(text: &str) -> Result<Vec<(usize, GoldDoc)>, GoldError> {
    let mut first_line: HashMap<String, usize> = HashMap::new();
    let mut out = Vec::new();
    for (i, l) in text.lines().enumerate() {
        if l.trim().is_empty() {
            continue;
        }
        let line = i + 1;
        let doc: GoldDoc = serde_json::from_str(l).map_err(|e| GoldError::Parse {
            where_: format!("line {line}"),
            message: e.to_string(),
        })?;
        if let Some(first) = first_line.insert(doc.id.clone(), line) {
            return Err(GoldError::Parse {
                where_: format!("line {line}"),
                message: format!(
                    "id {:?} is used twice (first on line {first}); every record needs its own id",
                    doc.id
                ),
            });
        }
        out.push((line, doc));
    }
    Ok(out)
}

/// Every gold sentence span lies in the text, on char boundaries, with
/// start <= end (spans are byte offsets into the text). Skipped while the
/// text is not known yet.
fn check_spans(line: usize, doc: &GoldDoc) -> Result<(), GoldError> {
    let Some(text) = &doc.text else {
        return Ok(());
    };
    for (k, s) in doc.sentences.iter().enumerate() {
        let problem = if s.start > s.end {
            format!("start {} is after end {}", s.start, s.end)
        } else if s.end > text.len() {
            format!(
                "end {} is past the end of the text ({} bytes)",
                s.end,
                text.len()
            )
        } else if !text.is_char_boundary(s.start) || !text.is_char_boundary(s.end) {
            format!(
                "start {} or end {} is inside a UTF-8 character (offsets are in bytes)",
                s.start, s.end
            )
        } else {
            continue;
        };
        return Err(GoldError::Parse {
            where_: format!("line {line}"),
            message: format!("id {:?}: sentences[{k}]: {problem}", doc.id),
        });
    }
    Ok(())
}

/// Reads a gold file, or `gold.jsonl` in a directory. A record without
/// `text` takes it from `<id>.txt` beside the gold file. A bad record (bad
/// JSON, an unknown key, an id used twice, a sentence span outside the text
/// or with start > end) is an error naming the file and the line.
pub fn read_gold(path: &Path) -> Result<Vec<GoldDoc>, GoldError> {
    let file = if path.is_dir() {
        path.join("gold.jsonl")
    } else {
        path.to_path_buf()
    };
    let io = |source| GoldError::Io {
        path: file.clone(),
        source,
    };
    let text = std::fs::read_to_string(&file).map_err(io)?;
    let in_file = |e| match e {
        GoldError::Parse { where_, message } => GoldError::Parse {
            where_: format!("{}: {where_}", file.display()),
            message,
        },
        other => other,
    };
    let mut docs = parse_lines(&text).map_err(in_file)?;
    let dir = file.parent().unwrap_or(Path::new("."));
    for (line, d) in &mut docs {
        if d.text.is_none() {
            let p = dir.join(format!("{}.txt", d.id));
            d.text = Some(std::fs::read_to_string(&p).map_err(|source| GoldError::Io {
                path: p.clone(),
                source,
            })?);
        }
        check_spans(*line, d).map_err(in_file)?;
    }
    Ok(docs.into_iter().map(|(_, d)| d).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_gold_reads_with_text() {
        let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../seeds");
        let gold = read_gold(&seeds).unwrap();
        assert_eq!(gold.len(), 1);
        let g = &gold[0];
        assert!(g.text.as_ref().unwrap().contains("Alipay"));
        assert_eq!(g.entities.len(), 7);
        let stance = |n: &str| g.entities.iter().find(|e| e.name == n).unwrap().stance;
        assert_eq!(stance("Alipay"), Some(StanceLabel::Against));
        assert_eq!(stance("WeChat"), Some(StanceLabel::Favor));
        assert_eq!(stance("JD Pay"), Some(StanceLabel::None));
        let summary = g.reference_summary.as_ref().unwrap();
        let sentences = summary.matches(". ").count() + 1;
        assert!((2..=4).contains(&sentences));
    }

    #[test]
    fn bad_records_name_the_line() {
        let e = parse_gold("{\"id\":\"a\"}\n{\"id\":\"b\",\"stance\":1}").unwrap_err();
        assert!(e.to_string().starts_with("line 2"), "{e}");
        let e = parse_gold("{\"id\":\"a\",\"entities\":[{\"name\":\"x\",\"stance\":\"pro\"}]}")
            .unwrap_err();
        assert!(e.to_string().contains("line 1"));
    }

    #[test]
    fn duplicate_ids_name_both_lines() {
        let e = parse_gold("{\"id\":\"a\"}\n\n{\"id\":\"b\"}\n{\"id\":\"a\"}").unwrap_err();
        let e = e.to_string();
        assert!(e.starts_with("line 4: "), "{e}");
        assert!(e.contains("\"a\"") && e.contains("first on line 1"), "{e}");
    }

    #[test]
    fn sentence_spans_must_lie_in_the_text() {
        let rec = |s: usize, e: usize| {
            format!(
                "{{\"id\":\"ok\",\"text\":\"Fine.\"}}\n{{\"id\":\"x\",\"text\":\"Acme fell. Zürich\",\"sentences\":[{{\"start\":0,\"end\":10,\"label\":\"negative\"}},{{\"start\":{s},\"end\":{e},\"label\":\"neutral\"}}]}}"
            )
        };
        assert_eq!(parse_gold(&rec(11, 18)).unwrap().len(), 2);
        for (s, e, what) in [
            (11, 40, "past the end of the text (18 bytes)"),
            (9, 3, "start 9 is after end 3"),
            (11, 13, "inside a UTF-8 character"),
        ] {
            let err = parse_gold(&rec(s, e)).unwrap_err().to_string();
            assert!(err.starts_with("line 2: "), "{err}");
            assert!(err.contains("sentences[1]") && err.contains(what), "{err}");
        }
    }

    #[test]
    fn read_gold_checks_spans_of_texts_read_beside_it() {
        let dir = std::env::temp_dir().join(format!("stancepipe-gold-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("d.txt"), "Short.").unwrap();
        std::fs::write(
            dir.join("gold.jsonl"),
            "{\"id\":\"d\",\"sentences\":[{\"start\":0,\"end\":60,\"label\":\"neutral\"}]}\n",
        )
        .unwrap();
        let err = read_gold(&dir).unwrap_err().to_string();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(err.contains("gold.jsonl: line 1: "), "{err}");
        assert!(err.contains("past the end of the text (6 bytes)"), "{err}");
    }
}
