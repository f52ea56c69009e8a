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
use std::collections::{HashMap, VecDeque};
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
    Text {
        path: PathBuf,
        id: String,
    },
    /// `name` is the file's path below its input folder (or its file name
    /// when given directly): records without an `"id"` get `<name>:<line>`,
    /// whatever way the path was typed.
    Jsonl {
        path: PathBuf,
        name: String,
    },
    Stdin,
    /// A listed entry that cannot be a document (a dangling symlink, a FIFO,
    /// an unreadable folder): it becomes an error record, not a silent gap.
    Broken {
        path: PathBuf,
        id: String,
        message: String,
    },
}

const STAGE: &str = "input";

/// A lazy iterator over every document of the inputs, in order.
pub struct Inputs {
    pending: VecDeque<Source>,
    current: Option<Box<dyn Iterator<Item = Doc> + Send>>,
    opts: InputOptions,
    /// Every id handed out, with where it came from: a repeat becomes an
    /// error record instead of a second result under the same id (which
    /// `--resume` would then take for done).
    seen: HashMap<String, String>,
    /// The files named or listed, for checks such as "the output is not an
    /// input".
    files: Vec<PathBuf>,
}

/// Expands inputs (directories are listed recursively, in name order, keeping
/// files with one of `opts.dir_extensions`, in any case) and checks that
/// every path exists and that no two files give the same id. Nothing is read
/// yet.
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
                    let mut listed = Vec::new();
                    let root = std::fs::canonicalize(path).map_err(|source| IoError::Input {
                        path: path.clone(),
                        source,
                    })?;
                    // An unreadable input folder stops the run; one below it
                    // becomes an error record (`list_dir`).
                    let entries = std::fs::read_dir(path).map_err(|source| IoError::Input {
                        path: path.clone(),
                        source,
                    })?;
                    list_dir(
                        path,
                        entries,
                        &opts.dir_extensions,
                        &mut vec![root],
                        &mut listed,
                    );
                    listed.sort_by(|a, b| a.path().cmp(b.path()));
                    for entry in listed {
                        pending.push_back(match entry {
                            Listed::File(f) => source_for(&f, Some(path)),
                            Listed::Broken(f, message) => Source::Broken {
                                id: id_for(&f, Some(path)),
                                path: f,
                                message,
                            },
                        });
                    }
                } else {
                    pending.push_back(source_for(path, None));
                }
            }
        }
    }
    let mut by_id: HashMap<&str, &Path> = HashMap::new();
    for source in &pending {
        if let Source::Text { path, id } | Source::Broken { path, id, .. } = source {
            if let Some(first) = by_id.insert(id, path) {
                return Err(IoError::DuplicateId {
                    id: id.clone(),
                    first: first.to_path_buf(),
                    second: path.clone(),
                });
            }
        }
    }
    let files = pending
        .iter()
        .filter_map(|s| match s {
            Source::Text { path, .. } | Source::Jsonl { path, .. } => Some(path.clone()),
            _ => None,
        })
        .collect();
    Ok(Inputs {
        pending,
        current: None,
        opts,
        seen: HashMap::new(),
        files,
    })
}

/// An entry found in an input folder.
enum Listed {
    File(PathBuf),
    Broken(PathBuf, String),
}

impl Listed {
    fn path(&self) -> &Path {
        match self {
            Listed::File(p) | Listed::Broken(p, _) => p,
        }
    }
}

fn wanted(path: &Path, extensions: &[String]) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| extensions.iter().any(|x| e.eq_ignore_ascii_case(x)))
}

/// Lists the `entries` of `dir` recursively. Symlinked folders are followed
/// unless they point back into a folder being listed (`ancestors`,
/// canonical); a wanted file that cannot be a document, and a folder that
/// cannot be read, are [`Listed::Broken`], so that nothing in an input
/// folder disappears silently.
fn list_dir(
    dir: &Path,
    entries: std::fs::ReadDir,
    extensions: &[String],
    ancestors: &mut Vec<PathBuf>,
    out: &mut Vec<Listed>,
) {
    for entry in entries {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                out.push(Listed::Broken(
                    dir.to_path_buf(),
                    format!("cannot list folder: {e}"),
                ));
                break;
            }
        };
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let want = wanted(&path, extensions);
        let ft = match entry.file_type() {
            Ok(ft) => ft,
            Err(e) => {
                if want {
                    out.push(Listed::Broken(path, format!("cannot read: {e}")));
                }
                continue;
            }
        };
        let meta = if ft.is_symlink() {
            match std::fs::metadata(&path) {
                Ok(m) => m,
                Err(e) => {
                    if want {
                        let why = if e.raw_os_error() == Some(libc::ELOOP) {
                            "a symlink loop".to_string()
                        } else {
                            format!("a dangling symlink ({e})")
                        };
                        out.push(Listed::Broken(path, format!("cannot read: {why}")));
                    }
                    continue;
                }
            }
        } else {
            match entry.metadata() {
                Ok(m) => m,
                Err(e) => {
                    if want {
                        out.push(Listed::Broken(path, format!("cannot read: {e}")));
                    }
                    continue;
                }
            }
        };
        if meta.is_dir() {
            let canonical = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
            if ancestors.contains(&canonical) {
                out.push(Listed::Broken(
                    path,
                    "symlink loop: points back to a folder that contains it".into(),
                ));
                continue;
            }
            match std::fs::read_dir(&path) {
                Ok(entries) => {
                    ancestors.push(canonical);
                    list_dir(&path, entries, extensions, ancestors, out);
                    ancestors.pop();
                }
                Err(e) => out.push(Listed::Broken(path, format!("cannot read folder: {e}"))),
            }
        } else if want {
            if meta.is_file() {
                out.push(Listed::File(path));
            } else {
                out.push(Listed::Broken(
                    path,
                    "not a regular file (a FIFO, socket or device); only files are read".into(),
                ));
            }
        }
    }
}

/// Whether a file is read as JSONL (`.jsonl` or `.ndjson`, any case).
fn is_jsonl(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("jsonl") || e.eq_ignore_ascii_case("ndjson"))
}

/// The path below `root` (or the file name when given directly).
fn relative<'a>(path: &'a Path, root: Option<&Path>) -> &'a Path {
    root.and_then(|r| path.strip_prefix(r).ok())
        .unwrap_or_else(|| Path::new(path.file_name().unwrap_or(path.as_os_str())))
}

fn slash_path(path: &Path) -> String {
    path.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// A file's id: its stem when given directly; the path below the directory,
/// without extension, when listed from one.
fn id_for(path: &Path, root: Option<&Path>) -> String {
    slash_path(&relative(path, root).with_extension(""))
}

fn source_for(path: &Path, root: Option<&Path>) -> Source {
    if is_jsonl(path) {
        return Source::Jsonl {
            path: path.to_path_buf(),
            name: slash_path(relative(path, root)),
        };
    }
    Source::Text {
        path: path.to_path_buf(),
        id: id_for(path, root),
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

/// Reads `{"id", "text"}` records, one per line. Blank lines and a UTF-8
/// byte-order mark before the first record are skipped; other fields are
/// ignored; a record without `id` gets `<id_name>:<line>`.
struct JsonlReader<R> {
    reader: R,
    /// The path as given, for `source`.
    name: String,
    /// The stable name in default ids (see [`Source::Jsonl`]).
    id_name: String,
    line: usize,
    max: u64,
    /// Set after a read error: the stream ends with the record saying so.
    ended: bool,
}

impl<R> JsonlReader<R> {
    fn new(reader: R, name: String, id_name: String, max: u64) -> Self {
        JsonlReader {
            reader,
            name,
            id_name,
            line: 0,
            max,
            ended: false,
        }
    }
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

impl<R: BufRead> Iterator for JsonlReader<R> {
    type Item = Doc;
    fn next(&mut self) -> Option<Doc> {
        while !self.ended {
            let mut buf = Vec::new();
            self.line += 1;
            let here = format!("{}:{}", self.name, self.line);
            match self.reader.read_until(b'\n', &mut buf) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(e) => {
                    // An unreadable stream ends here, with one record saying so.
                    self.ended = true;
                    let id = format!("{}:{}", self.id_name, self.line);
                    let mut d = Doc::failed(id, STAGE, format!("cannot read: {e}"));
                    d.source = Some(here);
                    return Some(d);
                }
            }
            if self.line == 1 && buf.starts_with(BOM) {
                buf.drain(..BOM.len());
            }
            if buf.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            return Some(self.parse(here, buf));
        }
        None
    }
}

impl<R> JsonlReader<R> {
    fn parse(&self, here: String, buf: Vec<u8>) -> Doc {
        let fail = |id: String, m: String| {
            let mut d = Doc::failed(id, STAGE, m);
            d.source = Some(here.clone());
            d
        };
        let line_id = format!("{}:{}", self.id_name, self.line);
        let value: serde_json::Value = match serde_json::from_slice(&buf) {
            Ok(v) => v,
            Err(e) => return fail(line_id, format!("invalid JSON record: {e}")),
        };
        let id = match value.get("id") {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(serde_json::Value::Number(n)) => n.to_string(),
            None | Some(serde_json::Value::Null) => line_id,
            Some(_) => return fail(line_id, "\"id\" must be a string or a number".into()),
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
            Source::Jsonl { path, name } => match File::open(&path) {
                Ok(f) => Box::new(JsonlReader::new(
                    BufReader::new(f),
                    path.display().to_string(),
                    name,
                    max,
                )),
                Err(e) => {
                    let mut d = Doc::failed(name, STAGE, format!("cannot read: {e}"));
                    d.source = Some(path.display().to_string());
                    Box::new(std::iter::once(d))
                }
            },
            Source::Broken { path, id, message } => {
                let mut d = Doc::failed(id, STAGE, message);
                d.source = Some(path.display().to_string());
                Box::new(std::iter::once(d))
            }
            Source::Stdin => {
                let mut reader = BufReader::new(std::io::stdin());
                let jsonl = match self.opts.stdin_format {
                    StdinFormat::Jsonl => true,
                    StdinFormat::Text => false,
                    StdinFormat::Auto => peek_is_json(&mut reader),
                };
                if jsonl {
                    Box::new(JsonlReader::new(reader, "-".into(), "-".into(), max))
                } else {
                    let mut bytes = Vec::new();
                    let doc = match reader.take(max + 1).read_to_end(&mut bytes) {
                        // Nothing was given: no document (not an empty one).
                        Ok(0) => {
                            tracing::warn!("stdin is empty: no document read from it");
                            return Box::new(std::iter::empty());
                        }
                        Ok(_) => doc_from_bytes("stdin".into(), "-".into(), bytes, max),
                        Err(e) => Doc::failed("stdin", STAGE, format!("cannot read stdin: {e}")),
                    };
                    Box::new(std::iter::once(doc))
                }
            }
        }
    }
}

/// Whether the first non-blank byte of a stream is `{`, without consuming it
/// (a leading UTF-8 byte-order mark is consumed).
fn peek_is_json<R: BufRead>(reader: &mut R) -> bool {
    if reader.fill_buf().is_ok_and(|b| b.starts_with(BOM)) {
        reader.consume(BOM.len());
    }
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
                Source::Text { .. } | Source::Broken { .. } => 1,
                Source::Stdin => return None,
                Source::Jsonl { path, .. } => {
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

impl Inputs {
    /// The files named or listed (text and JSONL), as given.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// Turns a repeat of an id already handed out into an error record.
    fn unique(&mut self, mut doc: Doc) -> Doc {
        let here = doc.source.clone().unwrap_or_else(|| doc.id.clone());
        match self.seen.get(&doc.id) {
            Some(first) => {
                let message = format!(
                    "duplicate id {:?}: already used by {first}; ids must be unique (this record is not processed)",
                    doc.id
                );
                doc.text.clear();
                doc.error = Some(stancepipe_core::DocError {
                    stage: STAGE.into(),
                    message,
                });
                doc
            }
            None => {
                self.seen.insert(doc.id.clone(), here);
                doc
            }
        }
    }
}

impl Iterator for Inputs {
    type Item = Doc;
    fn next(&mut self) -> Option<Doc> {
        loop {
            if let Some(doc) = self.current.as_mut().and_then(Iterator::next) {
                return Some(self.unique(doc));
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
        let docs: Vec<Doc> =
            JsonlReader::new(Cursor::new(data), "d/f.jsonl".into(), "f.jsonl".into(), MAX)
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
        let docs: Vec<Doc> =
            JsonlReader::new(Cursor::new(data), "f.jsonl".into(), "f.jsonl".into(), MAX).collect();
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

    fn opts(exts: &[&str]) -> InputOptions {
        InputOptions {
            max_doc_bytes: MAX,
            stdin_format: StdinFormat::Auto,
            dir_extensions: exts.iter().map(|e| e.to_string()).collect(),
        }
    }

    fn read(paths: &[&Path], exts: &[&str]) -> Vec<Doc> {
        let inputs: Vec<Input> = paths.iter().map(|p| Input::Path(p.to_path_buf())).collect();
        open_inputs(&inputs, opts(exts)).unwrap().collect()
    }

    #[test]
    fn a_bom_and_other_jsonl_extensions_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let record = "{\"id\":\"a\",\"text\":\"A\"}\n";
        for name in ["x.NDJSON", "y.JSONL", "z.ndjson"] {
            std::fs::write(dir.path().join(name), format!("\u{feff}{record}")).unwrap();
            let docs = read(&[&dir.path().join(name)], &[]);
            assert_eq!(docs.len(), 1, "{name}");
            assert!(docs[0].is_ok(), "{name}: {:?}", docs[0].error);
            assert_eq!(docs[0].text, "A");
        }
        // Listed from a folder, extensions match in any case.
        std::fs::write(dir.path().join("w.TXT"), "W").unwrap();
        let docs = read(&[dir.path()], &["txt"]);
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0].id, "w");
        // A BOM on stdin's first record does not hide the JSON.
        let mut r = Cursor::new(format!("\u{feff}{record}").into_bytes());
        assert!(peek_is_json(&mut r));
    }

    #[test]
    fn a_repeated_jsonl_id_becomes_an_error_record() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.jsonl");
        std::fs::write(
            &path,
            "{\"id\":\"a\",\"text\":\"one\"}\n{\"id\":\"a\",\"text\":\"two\"}\n{\"id\":\"b\",\"text\":\"B\"}\n",
        )
        .unwrap();
        let docs = read(&[&path], &[]);
        assert_eq!(docs.len(), 3);
        assert!(docs[0].is_ok() && docs[2].is_ok());
        assert_eq!(docs[1].id, "a");
        let e = docs[1].error.as_ref().unwrap();
        assert!(e.message.contains("duplicate id"), "{}", e.message);
        assert!(docs[1].text.is_empty());
    }

    #[test]
    fn files_that_give_one_id_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("x.txt"), "T").unwrap();
        std::fs::write(dir.path().join("x.md"), "M").unwrap();
        let e = open_inputs(&[Input::Path(dir.path().into())], opts(&["txt", "md"]))
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("x.md") && e.contains("x.txt") && e.contains("\"x\""),
            "{e}"
        );
        // Two folders with the same relative name.
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        for d in [&a, &b] {
            std::fs::create_dir(d).unwrap();
            std::fs::write(d.join("doc.txt"), "D").unwrap();
        }
        let inputs = [Input::Path(a), Input::Path(b)];
        assert!(open_inputs(&inputs, opts(&["txt"])).is_err());
    }

    #[test]
    fn default_jsonl_ids_do_not_depend_on_how_the_path_was_typed() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("in");
        std::fs::create_dir(&sub).unwrap();
        std::fs::write(sub.join("x.jsonl"), "{\"text\":\"A\"}\nnot json\n").unwrap();
        let plain = read(&[&sub.join("x.jsonl")], &[]);
        let odd = read(&[&sub.join("../in/./x.jsonl")], &[]);
        let ids = |d: &[Doc]| d.iter().map(|d| d.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&plain), ["x.jsonl:1", "x.jsonl:2"]);
        assert_eq!(ids(&plain), ids(&odd));
    }

    #[test]
    fn nothing_in_a_folder_disappears_silently() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        std::fs::write(p.join("ok.txt"), "fine").unwrap();
        symlink(p.join("missing.txt"), p.join("dangling.txt")).unwrap();
        symlink(p.join("loop2.txt"), p.join("loop1.txt")).unwrap();
        symlink(p.join("loop1.txt"), p.join("loop2.txt")).unwrap();
        symlink(p, p.join("up")).unwrap();
        let fifo = std::ffi::CString::new(p.join("pipe.txt").to_str().unwrap()).unwrap();
        // SAFETY: mkfifo reads a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
        std::fs::write(p.join("notes.md"), "not wanted").unwrap();
        let docs = read(&[p], &["txt"]);
        let summary: Vec<(String, bool)> = docs.iter().map(|d| (d.id.clone(), d.is_ok())).collect();
        assert_eq!(
            summary,
            [
                ("dangling".to_string(), false),
                ("loop1".to_string(), false),
                ("loop2".to_string(), false),
                ("ok".to_string(), true),
                ("pipe".to_string(), false),
                ("up".to_string(), false),
            ]
        );
        let message = |id: &str| {
            docs.iter()
                .find(|d| d.id == id)
                .and_then(|d| d.error.as_ref())
                .map(|e| e.message.clone())
                .unwrap()
        };
        assert!(message("dangling").contains("dangling symlink"));
        assert!(message("loop1").contains("symlink loop"));
        assert!(message("pipe").contains("not a regular file"));
        assert!(message("up").contains("symlink loop"));
    }
}
