//! The gold JSONL format: one record per document (see `seeds/README.md`).

use serde::Deserialize;
use stancepipe_core::StanceLabel;
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

/// Parses gold JSONL text (blank lines skipped).
pub fn parse_gold(text: &str) -> Result<Vec<GoldDoc>, GoldError> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| GoldError::Parse {
                where_: format!("line {}", i + 1),
                message: e.to_string(),
            })
        })
        .collect()
}

/// Reads a gold file, or `gold.jsonl` in a directory. A record without
/// `text` takes it from `<id>.txt` beside the gold file.
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
    let mut docs = parse_gold(&text).map_err(|e| match e {
        GoldError::Parse { where_, message } => GoldError::Parse {
            where_: format!("{}: {where_}", file.display()),
            message,
        },
        other => other,
    })?;
    let dir = file.parent().unwrap_or(Path::new("."));
    for d in &mut docs {
        if d.text.is_none() {
            let p = dir.join(format!("{}.txt", d.id));
            d.text = Some(std::fs::read_to_string(&p).map_err(|source| GoldError::Io {
                path: p.clone(),
                source,
            })?);
        }
    }
    Ok(docs)
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
}
