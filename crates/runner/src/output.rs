//! Writing documents as JSON (one array), JSONL (one document per line) or
//! one HTML page (`stancepipe_view::RunPage`: the document view shared with
//! eval's report.html).
//!
//! Each document is written as soon as its batch finishes, and flushed, so an
//! interrupted run keeps everything finished before the interruption (whole
//! records only, in JSONL; an HTML page then lacks its summary and script,
//! its documents all show).

use serde::Serialize;
use stancepipe_core::Doc;
use stancepipe_view::RunPage;
use std::io::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// A JSON array of documents.
    #[default]
    Json,
    /// One JSON document per line.
    Jsonl,
    /// One self-contained HTML page for people (not read back: `--resume`
    /// and `--omit` do not apply).
    Html,
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

/// The tag in the head of an HTML output page by which `run` knows the file
/// as its own (and may overwrite it).
pub const RUN_PAGE_GENERATOR: &str = stancepipe_view::GENERATOR_META;

/// Where the records go: a JSON stream, or the HTML page that wraps the writer.
enum Sink<W: Write> {
    Json(W),
    Html(RunPage<W>),
}

/// Streams documents to a writer in the chosen format.
pub struct DocWriter<W: Write> {
    out: Sink<W>,
    format: Format,
    pretty: bool,
    omit: Omit,
    written: usize,
}

impl<W: Write> DocWriter<W> {
    /// `pretty` indents JSON arrays for people; JSONL is always one line each.
    /// `Html` ignores `pretty` and [`DocWriter::omit`].
    pub fn new(out: W, format: Format, pretty: bool) -> Self {
        DocWriter {
            out: match format {
                Format::Html => Sink::Html(RunPage::new(out)),
                Format::Json | Format::Jsonl => Sink::Json(out),
            },
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
        if let Sink::Html(page) = &mut self.out {
            self.written += 1;
            return page.write(doc);
        }
        if self.omit.any() {
            let value = self.omit.apply(doc)?;
            return self.write_value(&value);
        }
        self.write_value(doc)
    }

    fn write_value(&mut self, doc: &impl Serialize) -> std::io::Result<()> {
        let Sink::Json(out) = &mut self.out else {
            unreachable!("HTML is written by the page");
        };
        match self.format {
            Format::Jsonl => {
                serde_json::to_writer(&mut *out, doc)?;
                out.write_all(b"\n")?;
            }
            Format::Json => {
                out.write_all(if self.written == 0 { b"[\n" } else { b",\n" })?;
                if self.pretty {
                    let mut ser = serde_json::Serializer::with_formatter(
                        &mut *out,
                        serde_json::ser::PrettyFormatter::with_indent(b"  "),
                    );
                    doc.serialize(&mut ser)?;
                } else {
                    serde_json::to_writer(&mut *out, doc)?;
                }
            }
            Format::Html => unreachable!("HTML is written by the page"),
        }
        self.written += 1;
        out.flush()
    }

    /// Closes the JSON array (an empty run gives `[]`) or the HTML page (its
    /// summary and script) and flushes.
    pub fn finish(self) -> std::io::Result<W> {
        match self.out {
            Sink::Html(page) => page.finish(),
            Sink::Json(mut out) => {
                if self.format == Format::Json {
                    out.write_all(if self.written == 0 { b"[]\n" } else { b"\n]\n" })?;
                }
                out.flush()?;
                Ok(out)
            }
        }
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
    fn html_is_one_page_with_every_document() {
        let mut w = DocWriter::new(Vec::new(), Format::Html, true);
        for d in docs() {
            w.write(&d).unwrap();
        }
        let page = String::from_utf8(w.finish().unwrap()).unwrap();
        assert!(page.starts_with("<!DOCTYPE html>"), "{page}");
        assert_eq!(page.matches("<div class=doc ").count(), 2);
        assert!(page.contains("error record: stage input: bad"), "{page}");
        assert!(page.trim_end().ends_with("</html>"));
        let empty = DocWriter::new(Vec::new(), Format::Html, false)
            .finish()
            .unwrap();
        let empty = String::from_utf8(empty).unwrap();
        assert!(empty.contains("0 documents"), "{empty}");
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
            (Some("a"), Some(u64::from(stancepipe_core::SCHEMA_VERSION)))
        );
        assert!(slim.get("provenance").is_some());
    }
}
