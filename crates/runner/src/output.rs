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

/// Bulky fields a user can leave out of the records (`run --omit`). The
/// fields `--resume` and the readers rely on (`schema_version`, `id`,
/// `error`) cannot be left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Omit {
    /// `tokens` and each sentence's `tokens` range (most of a record's size).
    pub tokens: bool,
    /// The document text (offsets still point into the input's text).
    pub text: bool,
    pub provenance: bool,
}

impl Omit {
    fn any(&self) -> bool {
        self.tokens || self.text || self.provenance
    }

    /// The record without the omitted fields.
    fn apply(&self, doc: &Doc) -> serde_json::Result<serde_json::Value> {
        let mut v = serde_json::to_value(doc)?;
        if let Some(map) = v.as_object_mut() {
            if self.tokens {
                map.remove("tokens");
                if let Some(sentences) = map.get_mut("sentences").and_then(|s| s.as_array_mut()) {
                    for s in sentences.iter_mut().filter_map(|s| s.as_object_mut()) {
                        s.remove("tokens");
                    }
                }
            }
            if self.text {
                map.remove("text");
            }
            if self.provenance {
                map.remove("provenance");
            }
        }
        Ok(v)
    }
}

/// Streams documents to a writer in the chosen format.
pub struct DocWriter<W: Write> {
    out: W,
    format: Format,
    pretty: bool,
    omit: Omit,
    written: usize,
}

impl<W: Write> DocWriter<W> {
    /// `pretty` indents JSON arrays for people; JSONL is always one line each.
    pub fn new(out: W, format: Format, pretty: bool) -> Self {
        DocWriter {
            out,
            format,
            pretty,
            omit: Omit::default(),
            written: 0,
        }
    }

    /// Leaves the given fields out of every record.
    pub fn omit(mut self, omit: Omit) -> Self {
        self.omit = omit;
        self
    }

    pub fn write(&mut self, doc: &Doc) -> std::io::Result<()> {
        if self.omit.any() {
            let value = self.omit.apply(doc)?;
            return self.write_value(&value);
        }
        self.write_value(doc)
    }

    fn write_value(&mut self, doc: &impl Serialize) -> std::io::Result<()> {
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

    #[test]
    fn omitted_fields_are_left_out_and_the_rest_kept() {
        let mut doc = Doc::new("a", "Some text.");
        doc.tokens.push(stancepipe_core::Token {
            span: stancepipe_core::Span::new(0, 4),
            id: 7,
        });
        doc.sentences.push(stancepipe_core::Sentence {
            span: stancepipe_core::Span::new(0, 10),
            kind: Default::default(),
            tokens: Some(stancepipe_core::Span::new(0, 1)),
            label: None,
        });
        let write = |omit: Omit| {
            let mut w = DocWriter::new(Vec::new(), Format::Jsonl, false).omit(omit);
            w.write(&doc).unwrap();
            let v: serde_json::Value = serde_json::from_slice(&w.finish().unwrap()).unwrap();
            v
        };
        let all = write(Omit::default());
        assert!(all.get("tokens").is_some() && all["sentences"][0].get("tokens").is_some());
        let slim = write(Omit {
            tokens: true,
            text: true,
            provenance: false,
        });
        assert!(slim.get("tokens").is_none() && slim.get("text").is_none());
        assert!(slim["sentences"][0].get("tokens").is_none());
        assert_eq!(slim["sentences"][0]["end"], 10);
        assert_eq!(
            (slim["id"].as_str(), slim["schema_version"].as_u64()),
            (Some("a"), Some(3))
        );
        assert!(slim.get("provenance").is_some());
    }
}
