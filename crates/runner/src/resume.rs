//! `--resume`: continuing the JSONL output file of a run that was killed.
//!
//! Every record in a JSONL output is one line, written whole and flushed
//! ([`crate::output`]), so a killed run leaves complete lines plus at most
//! one torn last line (no newline yet). Resuming keeps the complete lines,
//! cuts the torn tail, and skips the ids already written; their results,
//! error records included, are not recomputed.
//!
//! Only stancepipe's own records count: a line without `schema_version` and
//! `id` (the input file itself, another program's output) stops the resume
//! before anything is written, so that no document is taken for done
//! without having run.

use std::collections::{BTreeMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

/// What an earlier run already wrote.
#[derive(Debug, Default)]
pub struct Resume {
    /// Ids of the complete records found.
    pub done: HashSet<String>,
    /// The torn last line that was cut off, if any: (line number, bytes).
    pub cut: Option<(usize, u64)>,
    /// How many records each configuration digest made (`None`: records
    /// without one, from before digests were written).
    pub digests: BTreeMap<Option<String>, usize>,
}

impl Resume {
    /// How many records were made with another configuration than `digest`.
    pub fn made_otherwise(&self, digest: &str) -> usize {
        self.digests
            .iter()
            .filter(|(d, _)| d.as_deref() != Some(digest))
            .map(|(_, n)| n)
            .sum()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ResumeError {
    #[error("output {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "output {path} line {line} is not a stancepipe record ({reason}); \
         cannot resume (remove or fix that line)"
    )]
    Corrupt {
        path: PathBuf,
        line: usize,
        reason: String,
    },
}

impl Resume {
    /// Reads the JSONL output `path` of an earlier run (a missing file means
    /// nothing is done yet) and truncates a torn last line, so that appending
    /// continues with whole records.
    pub fn prepare(path: &Path) -> Result<Resume, ResumeError> {
        let io = |source| ResumeError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Resume::default()),
            Err(e) => return Err(io(e)),
        };
        let mut reader = BufReader::new(file);
        let mut resume = Resume::default();
        let (mut offset, mut line) = (0u64, 0usize);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            let n = reader.read_until(b'\n', &mut buf).map_err(io)?;
            if n == 0 {
                break;
            }
            line += 1;
            if buf.last() != Some(&b'\n') {
                // Killed while this record was being written.
                OpenOptions::new()
                    .write(true)
                    .open(path)
                    .and_then(|f| f.set_len(offset))
                    .map_err(io)?;
                resume.cut = Some((line, n as u64));
                break;
            }
            offset += n as u64;
            if buf.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let corrupt = |reason: String| ResumeError::Corrupt {
                path: path.to_path_buf(),
                line,
                reason,
            };
            let value: serde_json::Value =
                serde_json::from_slice(&buf).map_err(|e| corrupt(format!("invalid JSON: {e}")))?;
            if !value.get("schema_version").is_some_and(|v| v.is_u64()) {
                return Err(corrupt(
                    "no \"schema_version\": not written by stancepipe run".into(),
                ));
            }
            match value.get("id") {
                Some(serde_json::Value::String(id)) => {
                    resume.done.insert(id.clone());
                }
                _ => return Err(corrupt("no \"id\" string".into())),
            }
            let digest = value
                .get("config_digest")
                .and_then(|d| d.as_str())
                .map(String::from);
            *resume.digests.entry(digest).or_default() += 1;
        }
        Ok(resume)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complete_records_are_kept_and_a_torn_tail_cut() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        let whole =
            "{\"schema_version\":3,\"id\":\"a\",\"text\":\"x\",\"config_digest\":\"d1\"}\n\n\
                     {\"schema_version\":3,\"id\":\"b\",\"text\":\"y\",\"config_digest\":\"d2\"}\n";
        std::fs::write(&path, format!("{whole}{{\"id\":\"c\",\"te")).unwrap();
        let r = Resume::prepare(&path).unwrap();
        assert_eq!(r.done, HashSet::from(["a".to_string(), "b".to_string()]));
        assert_eq!(r.cut, Some((4, 13)));
        assert_eq!(r.made_otherwise("d1"), 1);
        assert_eq!(r.made_otherwise("d3"), 2);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), whole);
        // Again: nothing left to cut.
        let r = Resume::prepare(&path).unwrap();
        assert_eq!((r.done.len(), r.cut), (2, None));
    }

    #[test]
    fn missing_file_is_a_fresh_start_and_foreign_lines_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let r = Resume::prepare(&dir.path().join("none.jsonl")).unwrap();
        assert!(r.done.is_empty() && r.cut.is_none());
        let path = dir.path().join("out.jsonl");
        std::fs::write(
            &path,
            "{\"schema_version\":3,\"id\":\"a\"}\nnot json\n{\"id\":\"b\"}\n",
        )
        .unwrap();
        let e = Resume::prepare(&path).unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("invalid JSON"), "{e}");
        // An input record (`id` and `text`, no schema version) is not ours.
        std::fs::write(&path, "{\"id\":\"a\",\"text\":\"x\"}\n").unwrap();
        let e = Resume::prepare(&path).unwrap_err().to_string();
        assert!(e.contains("line 1") && e.contains("schema_version"), "{e}");
        std::fs::write(&path, "{\"schema_version\":3,\"id\":3}\n").unwrap();
        let e = Resume::prepare(&path).unwrap_err().to_string();
        assert!(e.contains("line 1") && e.contains("\"id\""), "{e}");
    }
}
