//! Reading documents: text files, directories of them, JSONL files of
//! `{"id", "text"}` records, and stdin.
//!
//! Inputs are read lazily, one document at a time, so memory does not grow
//! with the size of the collection. A document that cannot be read (invalid
//! UTF-8, binary content, too large, a malformed JSONL line) becomes an error
//! record with `stage = "input"`; it never stops the run. Only a missing
//! input path stops it, before anything is processed.

use crate::error::IoError;
use stancepipe_core::Doc;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// One command-line input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Path(PathBuf),
    Stdin,
}

impl From<&str> for Input {
    fn from(s: &str) -> Self {
        if s == "-" {
            Input::Stdin
        } else {
            Input::Path(PathBuf::from(s))
        }
    }
}

/// How to read stdin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StdinFormat {
    /// JSONL when the first non-blank byte is `{`, else one text document.
    #[default]
    Auto,
    Text,
    Jsonl,
}

#[derive(Debug, Clone)]
pub struct InputOptions {
    pub max_doc_bytes: u64,
    pub stdin_format: StdinFormat,
    /// File extensions (without the dot) taken from directories; other files
    /// there (READMEs, gold files) are skipped. Files named directly are
    /// always read.
    pub dir_extensions: Vec<String>,
}

enum Source {
    Text { path: PathBuf, id: String },
    Jsonl { path: PathBuf },
    Stdin,
}

const STAGE: &str = "input";

/// A lazy iterator over every document of the inputs, in order.
pub struct Inputs {
    pending: VecDeque<Source>,
    current: Option<Box<dyn Iterator<Item = Doc> + Send>>,
    opts: InputOptions,
}

/// Expands inputs (directories are listed recursively, in name order, keeping
/// files with one of `opts.dir_extensions`) and
/// checks that every path exists. Nothing is read yet.
pub fn open_inputs(inputs: &[Input], opts: InputOptions) -> Result<Inputs, IoError> {
    let mut pending = VecDeque::new();
    for input in inputs {
        match input {
            Input::Stdin => pending.push_back(Source::Stdin),
            Input::Path(path) => {
                let meta = std::fs::metadata(path).map_err(|source| IoError::Input {
                    path: path.clone(),
                    source,
                })?;
                if meta.is_dir() {
                    let mut files = Vec::new();
                    list_dir(path, &opts.dir_extensions, &mut files)?;
                    files.sort();
                    for f in files {
                        pending.push_back(source_for(&f, Some(path)));
                    }
                } else {
                    pending.push_back(source_for(path, None));
                }
            }
        }
    }
    Ok(Inputs {
        pending,
        current: None,
        opts,
    })
}

fn list_dir(dir: &Path, extensions: &[String], out: &mut Vec<PathBuf>) -> Result<(), IoError> {
    let err = |source| IoError::Input {
        path: dir.to_path_buf(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(err)? {
        let entry = entry.map_err(err)?;
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let ft = entry.file_type().map_err(err)?;
        let wanted = path
            .extension()
            .is_some_and(|e| extensions.iter().any(|x| e == x.as_str()));
        if ft.is_dir() {
            list_dir(&path, extensions, out)?;
        } else if wanted && (ft.is_file() || path.is_file()) {
            out.push(path);
        }
    }
    Ok(())
}

/// Ids: a file's stem when given directly; the path below the directory,
/// without extension, when listed from one (so ids stay unique).
fn source_for(path: &Path, root: Option<&Path>) -> Source {
    if path.extension().is_some_and(|e| e == "jsonl") {
        return Source::Jsonl {
            path: path.to_path_buf(),
        };
    }
    let rel = root
        .and_then(|r| path.strip_prefix(r).ok())
        .unwrap_or_else(|| Path::new(path.file_name().unwrap_or(path.as_os_str())));
    let id = rel
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/");
    Source::Text {
        path: path.to_path_buf(),
        id,
    }
}

/// Turns raw bytes into a document, or an error record saying why not.
pub fn doc_from_bytes(id: String, source: String, bytes: Vec<u8>, max: u64) -> Doc {
    let fail = |m: String| {
        let mut d = Doc::failed(id.clone(), STAGE, m);
        d.source = Some(source.clone());
        d
    };
    if bytes.len() as u64 > max {
        return fail(format!(
            "document is {} bytes, over run.max_doc_bytes = {max}",
            bytes.len()
        ));
    }
    if bytes.contains(&0) {
        return fail("binary content (NUL bytes); only UTF-8 text is accepted".into());
    }
    match String::from_utf8(bytes) {
        Ok(text) => {
            let mut d = Doc::new(id, text);
            d.source = Some(source);
            d
        }
        Err(e) => fail(format!(
            "invalid UTF-8 at byte {}",
            e.utf8_error().valid_up_to()
        )),
    }
}

fn read_text_file(path: &Path, id: String, max: u64) -> Doc {
    let source = path.display().to_string();
    let read = || -> std::io::Result<Vec<u8>> {
        let file = File::open(path)?;
        let mut buf = Vec::new();
        // Read one byte past the limit: enough to know it is too large.
        file.take(max + 1).read_to_end(&mut buf)?;
        Ok(buf)
    };
    match read() {
        Ok(bytes) if bytes.len() as u64 > max => {
            let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(max + 1);
            let mut d = Doc::failed(
                id,
                STAGE,
                format!("document is {size} bytes, over run.max_doc_bytes = {max}"),
            );
            d.source = Some(source);
            d
        }
        Ok(bytes) => doc_from_bytes(id, source, bytes, max),
        Err(e) => {
            let mut d = Doc::failed(id, STAGE, format!("cannot read: {e}"));
            d.source = Some(source);
            d
        }
    }
}

/// Reads `{"id", "text"}` records, one per line. Blank lines are skipped;
/// other fields are ignored; a record without `id` gets `<name>:<line>`.
struct JsonlReader<R> {
    reader: R,
    name: String,
    line: usize,
    max: u64,
}

impl<R: BufRead> Iterator for JsonlReader<R> {
    type Item = Doc;
    fn next(&mut self) -> Option<Doc> {
        loop {
            let mut buf = Vec::new();
            self.line += 1;
            let here = format!("{}:{}", self.name, self.line);
            match self.reader.read_until(b'\n', &mut buf) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(e) => {
                    // An unreadable stream ends here, with one record saying so.
                    self.max = 0;
                    let mut d = Doc::failed(here.clone(), STAGE, format!("cannot read: {e}"));
                    d.source = Some(here);
                    return Some(d);
                }
            }
            if buf.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            return Some(self.parse(here, buf));
        }
    }
}

impl<R> JsonlReader<R> {
    fn parse(&self, here: String, buf: Vec<u8>) -> Doc {
        let fail = |id: String, m: String| {
            let mut d = Doc::failed(id, STAGE, m);
            d.source = Some(here.clone());
            d
        };
        let value: serde_json::Value = match serde_json::from_slice(&buf) {
            Ok(v) => v,
            Err(e) => return fail(here.clone(), format!("invalid JSON record: {e}")),
        };
        let id = match value.get("id") {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(serde_json::Value::Number(n)) => n.to_string(),
            None | Some(serde_json::Value::Null) => here.clone(),
            Some(_) => return fail(here.clone(), "\"id\" must be a string or a number".into()),
        };
        // `"companies": [{"name", "aliases"}]`: the record's own companies
        // (`Doc::companies`), tracked in it beside the configured ones.
        let companies = match value.get("companies") {
            None | Some(serde_json::Value::Null) => Vec::new(),
            Some(v) => match <Vec<stancepipe_core::Company> as serde::Deserialize>::deserialize(v)
                .map_err(|e| e.to_string())
                .and_then(|cs| {
                    cs.iter()
                        .try_for_each(stancepipe_core::Company::check)
                        .map(|()| cs)
                }) {
                Ok(cs) => cs,
                Err(e) => return fail(id, format!("\"companies\": {e}")),
            },
        };
        match value.get("text") {
            Some(serde_json::Value::String(text)) => {
                let mut d = doc_from_bytes(id, here.clone(), text.clone().into_bytes(), self.max);
                if d.is_ok() {
                    d.companies = companies;
                }
                d
            }
            _ => fail(id, "record has no \"text\" string".into()),
        }
    }
}

impl Inputs {
    fn open(&self, source: Source) -> Box<dyn Iterator<Item = Doc> + Send> {
        let max = self.opts.max_doc_bytes;
        match source {
            Source::Text { path, id } => Box::new(std::iter::once(read_text_file(&path, id, max))),
            Source::Jsonl { path } => match File::open(&path) {
                Ok(f) => Box::new(JsonlReader {
                    reader: BufReader::new(f),
                    name: path.display().to_string(),
                    line: 0,
                    max,
                }),
                Err(e) => {
                    let name = path.display().to_string();
                    let mut d = Doc::failed(name.clone(), STAGE, format!("cannot read: {e}"));
                    d.source = Some(name);
                    Box::new(std::iter::once(d))
                }
            },
            Source::Stdin => {
                let mut reader = BufReader::new(std::io::stdin());
                let jsonl = match self.opts.stdin_format {
                    StdinFormat::Jsonl => true,
                    StdinFormat::Text => false,
                    StdinFormat::Auto => peek_is_json(&mut reader),
                };
                if jsonl {
                    Box::new(JsonlReader {
                        reader,
                        name: "-".into(),
                        line: 0,
                        max,
                    })
                } else {
                    let mut bytes = Vec::new();
                    let doc = match reader.take(max + 1).read_to_end(&mut bytes) {
                        Ok(_) => doc_from_bytes("stdin".into(), "-".into(), bytes, max),
                        Err(e) => Doc::failed("stdin", STAGE, format!("cannot read stdin: {e}")),
                    };
                    Box::new(std::iter::once(doc))
                }
            }
        }
    }
}

/// Whether the first non-blank byte of a stream is `{`, without consuming it.
fn peek_is_json<R: BufRead>(reader: &mut R) -> bool {
    loop {
        let (skip, found) = match reader.fill_buf() {
            Ok([]) | Err(_) => return false,
            Ok(buf) => match buf.iter().position(|b| !b.is_ascii_whitespace()) {
                Some(i) => (i, Some(buf[i] == b'{')),
                None => (buf.len(), None),
            },
        };
        reader.consume(skip);
        if let Some(is_json) = found {
            return is_json;
        }
    }
}

impl Inputs {
    /// How many documents the inputs hold, for a progress bar's ETA: one per
    /// text file, one per non-blank line of a JSONL file (read once more,
    /// quickly); `None` when stdin is among them. Only documents not yet
    /// taken are counted.
    pub fn count_hint(&self) -> Option<u64> {
        let mut n = 0u64;
        for source in &self.pending {
            n += match source {
                Source::Text { .. } => 1,
                Source::Stdin => return None,
                Source::Jsonl { path } => {
                    let file = File::open(path).ok()?;
                    let mut count = 0;
                    for line in BufReader::new(file).split(b'\n') {
                        count += u64::from(!line.ok()?.iter().all(u8::is_ascii_whitespace));
                    }
                    count
                }
            };
        }
        Some(n)
    }
}

impl Iterator for Inputs {
    type Item = Doc;
    fn next(&mut self) -> Option<Doc> {
        loop {
            if let Some(doc) = self.current.as_mut().and_then(Iterator::next) {
                return Some(doc);
            }
            let source = self.pending.pop_front()?;
            self.current = Some(self.open(source));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stancepipe_core::Company;
    use std::io::Cursor;

    const MAX: u64 = 1 << 20;

    #[test]
    fn bytes_become_docs_or_error_records() {
        let d = doc_from_bytes("a".into(), "s".into(), b"fine text".to_vec(), MAX);
        assert!(d.is_ok());
        let d = doc_from_bytes("a".into(), "s".into(), vec![b'o', b'k', 0xff, b'x'], MAX);
        assert_eq!(d.error.unwrap().message, "invalid UTF-8 at byte 2");
        let d = doc_from_bytes("a".into(), "s".into(), vec![1, 0, 2], MAX);
        assert!(d.error.unwrap().message.contains("binary"));
        let d = doc_from_bytes("a".into(), "s".into(), vec![b'x'; 11], 10);
        assert!(d.error.unwrap().message.contains("max_doc_bytes"));
        let d = doc_from_bytes("a".into(), "s".into(), Vec::new(), MAX);
        assert!(d.is_ok() && d.text.is_empty());
    }

    #[test]
    fn jsonl_records_and_bad_lines() {
        let data = "{\"id\": \"x\", \"text\": \"hello\"}\n\nnot json\n{\"text\": \"no id\"}\n{\"id\": 7}\n";
        let docs: Vec<Doc> = JsonlReader {
            reader: Cursor::new(data),
            name: "f.jsonl".into(),
            line: 0,
            max: MAX,
        }
        .collect();
        assert_eq!(docs.len(), 4);
        assert_eq!((docs[0].id.as_str(), docs[0].text.as_str()), ("x", "hello"));
        assert_eq!(docs[1].id, "f.jsonl:3");
        assert!(docs[1]
            .error
            .as_ref()
            .unwrap()
            .message
            .contains("invalid JSON"));
        assert_eq!(docs[2].id, "f.jsonl:4");
        assert!(docs[2].is_ok());
        assert_eq!(docs[3].id, "7");
        assert!(!docs[3].is_ok());
    }

    #[test]
    fn jsonl_records_carry_their_own_companies() {
        let data = concat!(
            r#"{"id": "a", "text": "Ant rose.", "companies": [{"name": "Ant Group", "aliases": ["Ant"]}, {"name": "Bolt"}]}"#,
            "\n",
            r#"{"id": "b", "text": "x", "companies": [{"name": "Bolt", "alias": ["B"]}]}"#,
            "\n",
            r#"{"id": "c", "text": "x", "companies": [{"name": "Bolt", "case_sensitive": true, "case_insensitive": true}]}"#,
            "\n",
            r#"{"id": "d", "text": "x", "companies": null}"#,
            "\n",
        );
        let docs: Vec<Doc> = JsonlReader {
            reader: Cursor::new(data),
            name: "f.jsonl".into(),
            line: 0,
            max: MAX,
        }
        .collect();
        assert!(docs[0].is_ok());
        assert_eq!(
            docs[0].companies,
            [
                Company::new("Ant Group", &["Ant"]),
                Company::new("Bolt", &[])
            ]
        );
        // A misspelt key or a contradiction: an error record naming it.
        let err = docs[1].error.as_ref().unwrap();
        assert!(
            err.message.contains("\"companies\"") && err.message.contains("alias"),
            "{}",
            err.message
        );
        assert_eq!(docs[1].id, "b");
        let err = docs[2].error.as_ref().unwrap();
        assert!(err.message.contains("case_insensitive"), "{}", err.message);
        assert!(docs[3].is_ok() && docs[3].companies.is_empty());
    }

    #[test]
    fn peek_detects_json_without_consuming() {
        let mut r = Cursor::new(b"  \n {\"id\":1}".to_vec());
        assert!(peek_is_json(&mut r));
        let mut rest = String::new();
        r.read_to_string(&mut rest).unwrap();
        assert_eq!(rest, "{\"id\":1}");
        assert!(!peek_is_json(&mut Cursor::new(b"Plain text".to_vec())));
    }

    #[test]
    fn directories_are_listed_in_order_with_relative_ids() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("b.txt"), "B").unwrap();
        std::fs::write(dir.path().join("a.txt"), "A").unwrap();
        std::fs::write(dir.path().join(".hidden"), "H").unwrap();
        std::fs::write(dir.path().join("sub/c.txt"), "C").unwrap();
        std::fs::write(
            dir.path().join("sub/d.jsonl"),
            "{\"id\":\"d1\",\"text\":\"D\"}\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("README.md"), "not a document").unwrap();
        let opts = InputOptions {
            max_doc_bytes: MAX,
            stdin_format: StdinFormat::Auto,
            dir_extensions: vec!["txt".into(), "jsonl".into()],
        };
        let docs: Vec<Doc> = open_inputs(&[Input::Path(dir.path().into())], opts.clone())
            .unwrap()
            .collect();
        let ids: Vec<&str> = docs.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "sub/c", "d1"]);
        let inputs = open_inputs(&[Input::Path(dir.path().into())], opts.clone()).unwrap();
        assert_eq!(inputs.count_hint(), Some(4));
        let with_stdin = open_inputs(
            &[Input::Path(dir.path().into()), Input::Stdin],
            opts.clone(),
        );
        assert_eq!(with_stdin.unwrap().count_hint(), None);
        assert!(open_inputs(&[Input::Path(dir.path().join("missing"))], opts).is_err());
    }
}
