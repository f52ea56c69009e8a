//! Writing documents as JSON (one array) or JSONL (one document per line).
//!
//! Each document is written as soon as its batch finishes, and flushed, so an
//! interrupted run keeps everything finished before the interruption (whole
//! records only, in JSONL).

use serde::Serialize;
use stancepipe_core::Doc;
use std::io::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// A JSON array of documents.
    #[default]
    Json,
    /// One JSON document per line.
    Jsonl,
}

/// Streams documents to a writer in the chosen format.
pub struct DocWriter<W: Write> {
    out: W,
    format: Format,
    pretty: bool,
    written: usize,
}

impl<W: Write> DocWriter<W> {
    /// `pretty` indents JSON arrays for people; JSONL is always one line each.
    pub fn new(out: W, format: Format, pretty: bool) -> Self {
        DocWriter {
            out,
            format,
            pretty,
            written: 0,
        }
    }

    pub fn write(&mut self, doc: &Doc) -> std::io::Result<()> {
        match self.format {
            Format::Jsonl => {
                serde_json::to_writer(&mut self.out, doc)?;
                self.out.write_all(b"\n")?;
            }
            Format::Json => {
                self.out
                    .write_all(if self.written == 0 { b"[\n" } else { b",\n" })?;
                if self.pretty {
                    let mut ser = serde_json::Serializer::with_formatter(
                        &mut self.out,
                        serde_json::ser::PrettyFormatter::with_indent(b"  "),
                    );
                    doc.serialize(&mut ser)?;
                } else {
                    serde_json::to_writer(&mut self.out, doc)?;
                }
            }
        }
        self.written += 1;
        self.out.flush()
    }

    /// Closes the JSON array (an empty run gives `[]`) and flushes.
    pub fn finish(mut self) -> std::io::Result<W> {
        if self.format == Format::Json {
            self.out
                .write_all(if self.written == 0 { b"[]\n" } else { b"\n]\n" })?;
        }
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docs() -> Vec<Doc> {
        vec![Doc::new("a", "x"), Doc::failed("b", "input", "bad")]
    }

    #[test]
    fn json_array_parses_back() {
        for pretty in [false, true] {
            let mut w = DocWriter::new(Vec::new(), Format::Json, pretty);
            for d in docs() {
                w.write(&d).unwrap();
            }
            let bytes = w.finish().unwrap();
            let back: Vec<Doc> = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(back, docs());
        }
        let empty = DocWriter::new(Vec::new(), Format::Json, false)
            .finish()
            .unwrap();
        assert_eq!(serde_json::from_slice::<Vec<Doc>>(&empty).unwrap(), vec![]);
    }

    #[test]
    fn jsonl_is_one_record_per_line() {
        let mut w = DocWriter::new(Vec::new(), Format::Jsonl, true);
        for d in docs() {
            w.write(&d).unwrap();
        }
        let text = String::from_utf8(w.finish().unwrap()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        let b: Doc = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(b.error.unwrap().message, "bad");
    }
}
