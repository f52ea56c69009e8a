//! Readers for the labeled public data sets in `shared/data/` (see its
//! `README.md` for sources and licenses).
//!
//! Every reader applies the project's one split rule ([`Split::of_index`]) to
//! the record index in the file as given, so that no model is ever trained or
//! tuned on a record that another run reports as test. Records keep stable
//! ids, `<file name>:<record index>` (plus `:<entity index>` for per-target
//! examples), so predictions can be joined back to the data.
//!
//! A blank line inside a line-based file is a format error rather than being
//! skipped: skipping it would shift every later record into another split.

use serde::Deserialize;
use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Which part of a data set a record belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    Train,
    Dev,
    Test,
}

impl Split {
    /// The split rule: record `i` (0-based, in file order) is test when
    /// `i % 10 == 9`, dev when `i % 10 == 8`, train otherwise. One rule for
    /// every set keeps test records out of training and model selection.
    pub fn of_index(i: usize) -> Split {
        match i % 10 {
            9 => Split::Test,
            8 => Split::Dev,
            _ => Split::Train,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Dev => "dev",
            Split::Test => "test",
        }
    }
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Parses `train`, `dev` or `test` (command-line and config spelling).
impl FromStr for Split {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "train" => Ok(Split::Train),
            "dev" => Ok(Split::Dev),
            "test" => Ok(Split::Test),
            other => Err(format!(
                "unknown split `{other}` (expected train, dev or test)"
            )),
        }
    }
}

/// A data file could not be read or does not have the documented format.
/// Both variants name the file (and the 1-based line) so a broken record can
/// be found without re-running anything.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    Format {
        path: String,
        line: usize,
        message: String,
    },
}

/// A sentence with a sentence-level label in the pipeline's vocabulary:
/// "positive" | "negative" | "neutral".
#[derive(Debug, Clone, PartialEq)]
pub struct LabeledText {
    pub id: String,
    pub text: String,
    pub label: String,
}

/// A text with one marked target (byte offsets into `text`, on char
/// boundaries, `text[start..end] == target`) and the sentiment toward it,
/// mapped to "positive" | "negative" | "neutral". Byte offsets, because that
/// is how Rust slices `text`; the data sets give character offsets.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetExample {
    pub id: String,
    pub text: String,
    pub start: usize,
    pub end: usize,
    pub label: String,
}

const LABELS: [&str; 3] = ["positive", "negative", "neutral"];

fn format_err(path: &str, line: usize, message: impl Into<String>) -> DataError {
    DataError::Format {
        path: path.to_string(),
        line,
        message: message.into(),
    }
}

fn read_bytes(path: &Path) -> Result<Vec<u8>, DataError> {
    std::fs::read(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads a UTF-8 file; invalid UTF-8 is reported with its line.
fn read_utf8(path: &Path) -> Result<String, DataError> {
    let bytes = read_bytes(path)?;
    String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..valid]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1;
        format_err(&path.display().to_string(), line, "invalid UTF-8")
    })
}

/// The file name used in record ids (stable across checkouts, unlike paths).
fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// One record a line (`\n` or `\r\n`; a final newline ends the last record).
fn records<'a>(text: &'a str, path: &str) -> Result<Vec<&'a str>, DataError> {
    let lines: Vec<&str> = text.lines().collect();
    if let Some(i) = lines.iter().position(|l| l.trim().is_empty()) {
        return Err(format_err(
            path,
            i + 1,
            "blank line (it would shift the record indices the split rule uses)",
        ));
    }
    Ok(lines)
}

/// Byte offset of every char of `text`, plus `text.len()` for the end.
fn char_starts(text: &str) -> Vec<usize> {
    text.char_indices()
        .map(|(b, _)| b)
        .chain(std::iter::once(text.len()))
        .collect()
}

/// Byte span of the non-empty char span `start..end`, if in range.
fn byte_span(starts: &[usize], start: usize, end: usize) -> Option<(usize, usize)> {
    (start < end && end < starts.len()).then(|| (starts[start], starts[end]))
}

// ---------------------------------------------------------------- PhraseBank

/// Parses PhraseBank text (already decoded): `sentence@label` a line, the
/// label after the last `@` (sentences may contain `@`).
fn parse_phrasebank(text: &str, path: &str, name: &str) -> Result<Vec<LabeledText>, DataError> {
    records(text, path)?
        .into_iter()
        .enumerate()
        .map(|(i, line)| {
            let (sentence, label) = line
                .rsplit_once('@')
                .ok_or_else(|| format_err(path, i + 1, "no `@` before the label"))?;
            if !LABELS.contains(&label) {
                return Err(format_err(
                    path,
                    i + 1,
                    format!("label `{label}` is not positive, negative or neutral"),
                ));
            }
            if sentence.trim().is_empty() {
                return Err(format_err(path, i + 1, "empty sentence"));
            }
            Ok(LabeledText {
                id: format!("{name}:{i}"),
                text: sentence.to_string(),
                label: label.to_string(),
            })
        })
        .collect()
}

/// Latin-1 maps byte `b` to `U+00b`, so decoding cannot fail.
fn decode_latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

fn read_phrasebank(file: &Path) -> Result<Vec<LabeledText>, DataError> {
    let text = decode_latin1(&read_bytes(file)?);
    parse_phrasebank(&text, &file.display().to_string(), &file_name(file))
}

/// Financial PhraseBank (`Sentences_50Agree.txt` etc.): `sentence@label` a
/// line, Latin-1 encoded (each byte decoded as U+00XX). Returns the records
/// of `split` under the split rule, in file order.
pub fn phrasebank(file: &Path, split: Split) -> Result<Vec<LabeledText>, DataError> {
    let mut all = read_phrasebank(file)?;
    let mut i = 0;
    all.retain(|_| {
        i += 1;
        Split::of_index(i - 1) == split
    });
    Ok(all)
}

/// The AllAgree test set: the AllAgree sentences whose text is in the
/// 50Agree *test* part. AllAgree is a subset of 50Agree, so splitting it by
/// its own indices would put 50Agree training sentences into its test part.
/// Duplicated AllAgree lines are kept (file order, AllAgree ids).
pub fn phrasebank_allagree_test(
    all_agree: &Path,
    fifty_agree: &Path,
) -> Result<Vec<LabeledText>, DataError> {
    phrasebank_allagree(all_agree, fifty_agree, Split::Test)
}

/// The AllAgree sentences whose text is in the 50Agree `split` part (see
/// [`phrasebank_allagree_test`]).
pub fn phrasebank_allagree(
    all_agree: &Path,
    fifty_agree: &Path,
    split: Split,
) -> Result<Vec<LabeledText>, DataError> {
    let part: HashSet<String> = phrasebank(fifty_agree, split)?
        .into_iter()
        .map(|r| r.text)
        .collect();
    let mut all = read_phrasebank(all_agree)?;
    all.retain(|r| part.contains(&r.text));
    Ok(all)
}

// ----------------------------------------------------------------- FinEntity

#[derive(Deserialize)]
struct FinSnippet {
    content: String,
    annotations: Vec<FinAnnotation>,
}

#[derive(Deserialize)]
struct FinAnnotation {
    /// Character offsets into `content`.
    start: usize,
    end: usize,
    /// The entity string, when given; used to check (and repair) offsets.
    #[serde(default)]
    value: Option<String>,
    label: FinLabel,
}

#[derive(Deserialize, Clone, Copy)]
enum FinLabel {
    Positive,
    Negative,
    Neutral,
}

impl FinLabel {
    fn as_str(self) -> &'static str {
        match self {
            FinLabel::Positive => "positive",
            FinLabel::Negative => "negative",
            FinLabel::Neutral => "neutral",
        }
    }
}

/// The byte span of an entity. When `text[start..end]` is not `value`, the
/// occurrence of `value` nearest to `start` is taken: in FinEntity every
/// such case is a snippet where one non-ASCII character (e.g. `’`, `–`) was
/// stored as two characters (`\u{FFFD}\u{FFFD}` or `\u{FFFD}C`) after the
/// offsets were computed, shifting later spans left by one per character.
/// When `value` does not occur, the data's span is kept as given.
fn locate_entity(
    text: &str,
    starts: &[usize],
    start: usize,
    end: usize,
    value: Option<&str>,
) -> Option<(usize, usize)> {
    let (bs, be) = byte_span(starts, start, end)?;
    let Some(value) = value.filter(|v| !v.is_empty() && text[bs..be] != **v) else {
        return Some((bs, be));
    };
    text.match_indices(value)
        .map(|(b, _)| b)
        // Nearest by char distance; on a tie the later one (the known shift
        // is always to the right).
        .min_by_key(|&b| {
            let c = starts.partition_point(|&s| s < b);
            (c.abs_diff(start), std::cmp::Reverse(c))
        })
        .map_or(Some((bs, be)), |b| Some((b, b + value.len())))
}

fn parse_finentity(
    json: &str,
    path: &str,
    name: &str,
    split: Split,
) -> Result<Vec<TargetExample>, DataError> {
    let snippets: Vec<FinSnippet> =
        serde_json::from_str(json).map_err(|e| format_err(path, e.line(), e.to_string()))?;
    let mut out = Vec::new();
    for (i, s) in snippets.iter().enumerate() {
        if Split::of_index(i) != split {
            continue;
        }
        let starts = char_starts(&s.content);
        for (j, a) in s.annotations.iter().enumerate() {
            // Out-of-range or empty offsets: the entity is dropped (its id
            // index is not reused, so the tests can count the gaps).
            let Some((start, end)) =
                locate_entity(&s.content, &starts, a.start, a.end, a.value.as_deref())
            else {
                continue;
            };
            out.push(TargetExample {
                id: format!("{name}:{i}:{j}"),
                text: s.content.clone(),
                start,
                end,
                label: a.label.as_str().to_string(),
            });
        }
    }
    Ok(out)
}

/// FinEntity (`FinEntity.json`, a JSON array of `{content, annotations}`):
/// one example per annotated entity, split by the *snippet* index so that a
/// snippet's entities never straddle splits. Character offsets become byte
/// offsets; offsets that miss the given entity string are repaired (see the
/// module tests for the counts); out-of-range offsets drop the entity.
pub fn finentity(file: &Path, split: Split) -> Result<Vec<TargetExample>, DataError> {
    let json = read_utf8(file)?;
    parse_finentity(&json, &file.display().to_string(), &file_name(file), split)
}

// ------------------------------------------------------------------ NewsMTSC

#[derive(Deserialize)]
struct MtscRecord {
    sentence_normalized: String,
    targets: Vec<MtscTarget>,
}

#[derive(Deserialize)]
struct MtscTarget {
    /// Character offsets into `sentence_normalized`.
    from: usize,
    to: usize,
    mention: String,
    polarity: f64,
}

fn mtsc_label(polarity: f64) -> Option<&'static str> {
    // The data's codes are exact small integers stored as floats.
    [(2.0, "negative"), (4.0, "neutral"), (6.0, "positive")]
        .into_iter()
        .find(|&(code, _)| polarity == code)
        .map(|(_, label)| label)
}

fn parse_newsmtsc(
    text: &str,
    path: &str,
    name: &str,
    split: Option<Split>,
) -> Result<Vec<TargetExample>, DataError> {
    let mut out = Vec::new();
    for (i, line) in records(text, path)?.into_iter().enumerate() {
        // Every line is parsed, so a broken file fails whatever the split.
        let r: MtscRecord =
            serde_json::from_str(line).map_err(|e| format_err(path, i + 1, e.to_string()))?;
        let starts = char_starts(&r.sentence_normalized);
        let mut examples = Vec::with_capacity(r.targets.len());
        for (j, t) in r.targets.iter().enumerate() {
            let label = mtsc_label(t.polarity).ok_or_else(|| {
                format_err(
                    path,
                    i + 1,
                    format!("target {j}: polarity {} is not 2.0, 4.0 or 6.0", t.polarity),
                )
            })?;
            let (start, end) = byte_span(&starts, t.from, t.to)
                .filter(|&(s, e)| r.sentence_normalized[s..e] == t.mention)
                .ok_or_else(|| {
                    format_err(
                        path,
                        i + 1,
                        format!(
                            "target {j}: chars {}..{} are not the mention {:?}",
                            t.from, t.to, t.mention
                        ),
                    )
                })?;
            examples.push(TargetExample {
                id: format!("{name}:{i}:{j}"),
                text: r.sentence_normalized.clone(),
                start,
                end,
                label: label.to_string(),
            });
        }
        if split.is_none_or(|s| Split::of_index(i) == s) {
            out.extend(examples);
        }
    }
    Ok(out)
}

/// NewsMTSC JSONL (`sentence_normalized` plus `targets` with character
/// offsets `from`/`to`, `mention` and `polarity` 2.0 negative / 4.0 neutral /
/// 6.0 positive): one example per target. `Some(split)` applies the split
/// rule by line (for `train.jsonl`: train/dev; its test part is held out);
/// `None` takes the whole file (the official test sets `devtest_mt.jsonl`,
/// `devtest_rw.jsonl`). Offsets that miss the mention are a format error: the
/// data has none.
pub fn newsmtsc(file: &Path, split: Option<Split>) -> Result<Vec<TargetExample>, DataError> {
    let text = read_utf8(file)?;
    parse_newsmtsc(&text, &file.display().to_string(), &file_name(file), split)
}

// ---------------------------------------------------------------------- NeuS

/// NeuS (`{val,test}.{source,target}`, one example a line): `(source,
/// target)` pairs, source = three articles on one story, target = the
/// editor's neutral summary. `Dev` reads `val.*`, `Test` reads `test.*`;
/// `Train` is an error, as NeuS has no training part here.
pub fn neus(dir: &Path, split: Split) -> Result<Vec<(String, String)>, DataError> {
    let stem = match split {
        Split::Dev => "val",
        Split::Test => "test",
        Split::Train => {
            return Err(DataError::Io {
                path: dir.join("train.source"),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "NeuS has no train split here: use dev (val.*) or test (test.*)",
                ),
            })
        }
    };
    let (src_path, tgt_path) = (
        dir.join(format!("{stem}.source")),
        dir.join(format!("{stem}.target")),
    );
    let (src, tgt) = (read_utf8(&src_path)?, read_utf8(&tgt_path)?);
    let tgt_label = tgt_path.display().to_string();
    let (src, tgt) = (
        records(&src, &src_path.display().to_string())?,
        records(&tgt, &tgt_label)?,
    );
    if src.len() != tgt.len() {
        return Err(format_err(
            &tgt_label,
            src.len().min(tgt.len()) + 1,
            format!(
                "{} lines, but {} has {}",
                tgt.len(),
                src_path.display(),
                src.len()
            ),
        ));
    }
    Ok(src
        .into_iter()
        .zip(tgt)
        .map(|(s, t)| (s.to_string(), t.to_string()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// `shared/data` beside the repository, or `None` with a printed reason.
    fn data_dir() -> Option<PathBuf> {
        data_dir_at(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"))
    }

    fn data_dir_at(dir: PathBuf) -> Option<PathBuf> {
        if dir.is_dir() {
            Some(dir)
        } else {
            eprintln!(
                "SKIPPED: labeled data folder {} is missing (it lies beside the \
                 repository as shared/data; CI always has it)",
                dir.display()
            );
            None
        }
    }

    /// (total, negative, neutral, positive)
    fn dist<'a>(labels: impl Iterator<Item = &'a str>) -> (usize, usize, usize, usize) {
        let mut d = (0, 0, 0, 0);
        for l in labels {
            d.0 += 1;
            match l {
                "negative" => d.1 += 1,
                "neutral" => d.2 += 1,
                "positive" => d.3 += 1,
                other => panic!("label {other} outside the vocabulary"),
            }
        }
        d
    }

    /// The record (snippet / sentence) index of an id `name:i[:j]`.
    fn record_index(id: &str) -> usize {
        id.split(':').nth(1).unwrap().parse().unwrap()
    }

    fn entity_index(id: &str) -> usize {
        id.split(':').nth(2).unwrap().parse().unwrap()
    }

    #[test]
    fn split_rule_on_indices() {
        assert_eq!(Split::of_index(9), Split::Test);
        assert_eq!(Split::of_index(19), Split::Test);
        assert_eq!(Split::of_index(8), Split::Dev);
        assert_eq!(Split::of_index(4848), Split::Dev);
        for i in 0..8 {
            assert_eq!(Split::of_index(i), Split::Train, "index {i}");
            assert_eq!(Split::of_index(10 + i), Split::Train, "index {}", 10 + i);
        }
        assert_eq!("test".parse::<Split>(), Ok(Split::Test));
        assert_eq!("dev".parse::<Split>(), Ok(Split::Dev));
        assert_eq!("train".parse::<Split>(), Ok(Split::Train));
        assert!("val".parse::<Split>().is_err());
        assert_eq!(Split::Dev.to_string(), "dev");
    }

    #[test]
    fn missing_data_dir_skips_with_reason() {
        assert!(data_dir_at(PathBuf::from("/nonexistent/stancepipe/shared/data")).is_none());
        let err = phrasebank(Path::new("/nonexistent/x.txt"), Split::Test).unwrap_err();
        assert!(matches!(err, DataError::Io { .. }));
        assert!(err.to_string().contains("/nonexistent/x.txt"), "{err}");
    }

    #[test]
    fn phrasebank_parsing_latin1_last_at_and_errors() {
        let text = decode_latin1(b"Caf\xe9 @ noon , x .@positive\nA .@neutral\n");
        let r = parse_phrasebank(&text, "p", "f.txt").unwrap();
        assert_eq!(r[0].text, "Caf\u{e9} @ noon , x .");
        assert_eq!(r[0].label, "positive");
        assert_eq!(r[1].id, "f.txt:1");

        let err = parse_phrasebank("a@neutral\nno label here\n", "p", "f").unwrap_err();
        assert!(err.to_string().starts_with("p:2:"), "{err}");
        let err = parse_phrasebank("a@neutral\nb@Neutral\n", "p", "f").unwrap_err();
        assert!(matches!(err, DataError::Format { line: 2, .. }), "{err}");
        let err = parse_phrasebank("a@neutral\n\nb@neutral\n", "p", "f").unwrap_err();
        assert!(matches!(err, DataError::Format { line: 2, .. }), "{err}");
    }

    #[test]
    fn finentity_offsets_become_bytes_and_shifted_spans_are_repaired() {
        // "é" is 2 bytes; the second entity's offsets are one char left of
        // "Acme" (a mangled character before it), as in the real data.
        let json = r#"[{"content": "Café Acme \ufffd\ufffd Acme rose", "annotations": [
            {"start": 0, "end": 4, "value": "Café", "label": "Neutral", "tag": "Neutral"},
            {"start": 12, "end": 16, "value": "Acme", "label": "Positive"},
            {"start": 20, "end": 99, "value": "x", "label": "Negative"}]}]"#;
        let r = parse_finentity(json, "p", "F.json", Split::Train).unwrap();
        assert_eq!(r.len(), 2, "out-of-range entity dropped");
        assert_eq!(&r[0].text[r[0].start..r[0].end], "Café");
        assert_eq!((r[1].start, r[1].end), (18, 22));
        assert_eq!(&r[1].text[r[1].start..r[1].end], "Acme");
        assert_eq!(r[1].label, "positive");
        assert_eq!(r[1].id, "F.json:0:1");
        assert!(parse_finentity(json, "p", "F.json", Split::Test)
            .unwrap()
            .is_empty());

        // A tie goes to the later occurrence; an end one past the text is
        // out of range.
        let json = r#"[{"content": "Acme--Acme", "annotations": [
            {"start": 3, "end": 7, "value": "Acme", "label": "Neutral"},
            {"start": 6, "end": 11, "value": "Acme", "label": "Neutral"}]}]"#;
        let r = parse_finentity(json, "p", "F.json", Split::Train).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!((r[0].start, r[0].end), (6, 10));

        let bad = "[\n{\"content\": \"x\", \"annotations\": [\n{\"start\": 0, \"end\": 1, \"label\": \"Bullish\"}]}]";
        let err = parse_finentity(bad, "p", "F.json", Split::Train).unwrap_err();
        assert!(matches!(err, DataError::Format { line: 3, .. }), "{err}");
    }

    #[test]
    fn newsmtsc_offsets_labels_and_errors() {
        let line = r#"{"primary_gid": "g", "sentence_normalized": "“Trump” met Merkel.", "targets": [{"from": 1, "to": 6, "mention": "Trump", "polarity": 2.0}, {"from": 12, "to": 18, "mention": "Merkel", "polarity": 6.0}]}"#;
        let r = parse_newsmtsc(&format!("{line}\n"), "p", "n.jsonl", None).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!((r[0].start, r[0].end), (3, 8));
        assert_eq!(&r[1].text[r[1].start..r[1].end], "Merkel");
        assert_eq!(
            (r[0].label.as_str(), r[1].label.as_str()),
            ("negative", "positive")
        );
        assert_eq!(r[1].id, "n.jsonl:0:1");
        // Line 0 is train: nothing for dev.
        assert!(parse_newsmtsc(line, "p", "n", Some(Split::Dev))
            .unwrap()
            .is_empty());

        let wrong = line.replace("\"to\": 18", "\"to\": 17");
        let err = parse_newsmtsc(&format!("{line}\n{wrong}"), "p", "n", None).unwrap_err();
        assert!(matches!(err, DataError::Format { line: 2, .. }), "{err}");
        let odd = line.replace("6.0", "5.0");
        assert!(parse_newsmtsc(&odd, "p", "n", None).is_err());
    }

    #[test]
    fn neus_has_no_train_split() {
        let err = neus(Path::new("/nonexistent"), Split::Train).unwrap_err();
        assert!(err.to_string().contains("no train split"), "{err}");
    }

    // ------------------------------------------------ the real files

    #[test]
    fn phrasebank_counts_per_split() {
        let Some(dir) = data_dir() else { return };
        let fifty = dir.join("phrasebank/Sentences_50Agree.txt");
        let all = dir.join("phrasebank/Sentences_AllAgree.txt");
        // Verified independently (Python, same split arithmetic).
        for (split, want) in [
            (Split::Train, (3878, 483, 2302, 1093)),
            (Split::Dev, (484, 55, 288, 141)),
            (Split::Test, (484, 66, 289, 129)),
        ] {
            let r = phrasebank(&fifty, split).unwrap();
            assert_eq!(dist(r.iter().map(|x| x.label.as_str())), want, "{split}");
            assert!(r
                .iter()
                .all(|x| Split::of_index(record_index(&x.id)) == split));
        }
        let n_all: usize = [Split::Train, Split::Dev, Split::Test]
            .iter()
            .map(|&s| phrasebank(&all, s).unwrap().len())
            .sum();
        assert_eq!(n_all, 2264);

        let test = phrasebank_allagree_test(&all, &fifty).unwrap();
        assert_eq!(
            dist(test.iter().map(|x| x.label.as_str())),
            (236, 22, 152, 62)
        );
        // One AllAgree sentence is in the file twice (both copies kept).
        let distinct: HashSet<&str> = test.iter().map(|x| x.text.as_str()).collect();
        assert_eq!(distinct.len(), 235);
        assert!(test[0].id.starts_with("Sentences_AllAgree.txt:"));
        let fifty_test: HashSet<String> = phrasebank(&fifty, Split::Test)
            .unwrap()
            .into_iter()
            .map(|x| x.text)
            .collect();
        assert!(test.iter().all(|x| fifty_test.contains(&x.text)));
    }

    #[test]
    fn phrasebank_decodes_latin1_bytes() {
        let Some(dir) = data_dir() else { return };
        let file = dir.join("phrasebank/Sentences_50Agree.txt");
        let raw = std::fs::read(&file).unwrap();
        let line15 = raw.split(|&b| b == b'\n').nth(14).unwrap();
        assert!(
            line15.windows(2).any(|w| w == b"+\xf1"),
            "byte 0xF1 on line 15"
        );
        let r = phrasebank(&file, Split::Train).unwrap();
        let x = r
            .iter()
            .find(|x| x.id == "Sentences_50Agree.txt:14")
            .unwrap();
        // The data's own mojibake for "Seppälä", byte 0xF1 -> U+00F1.
        assert!(
            x.text.contains("Sepp+\u{f1}l+\u{f1} 's sales"),
            "{}",
            x.text
        );
        assert_eq!(x.label, "positive");
    }

    #[test]
    fn finentity_counts_and_offsets() {
        let Some(dir) = data_dir() else { return };
        let file = dir.join("finentity/FinEntity.json");
        // The raw annotations, to check the reader against.
        let raw: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let raw = raw.as_array().unwrap();
        assert_eq!(raw.len(), 979);
        let (mut raw_mismatch, mut raw_out_of_range) = (0, 0);
        for s in raw {
            let chars: Vec<char> = s["content"].as_str().unwrap().chars().collect();
            for a in s["annotations"].as_array().unwrap() {
                let (st, en) = (a["start"].as_u64().unwrap(), a["end"].as_u64().unwrap());
                let (st, en) = (st as usize, en as usize);
                if !(st < en && en <= chars.len()) {
                    raw_out_of_range += 1;
                } else if chars[st..en].iter().collect::<String>() != a["value"].as_str().unwrap() {
                    raw_mismatch += 1;
                }
            }
        }
        assert_eq!((raw_mismatch, raw_out_of_range), (70, 0));

        let mut repaired = 0;
        for (split, snippets, want) in [
            (Split::Train, 784, (1706, 382, 918, 406)),
            (Split::Dev, 98, (216, 64, 100, 52)),
            (Split::Test, 97, (209, 52, 112, 45)),
        ] {
            let r = finentity(&file, split).unwrap();
            assert_eq!(dist(r.iter().map(|x| x.label.as_str())), want, "{split}");
            let ids: HashSet<usize> = r.iter().map(|x| record_index(&x.id)).collect();
            assert_eq!(ids.len(), snippets, "{split}");
            assert!(ids.iter().all(|&i| Split::of_index(i) == split));
            for x in &r {
                let span = x.text.get(x.start..x.end);
                assert!(span.is_some_and(|s| !s.is_empty()), "{}", x.id);
                let a = &raw[record_index(&x.id)]["annotations"][entity_index(&x.id)];
                assert_eq!(span.unwrap(), a["value"].as_str().unwrap(), "{}", x.id);
                assert_eq!(x.label, a["label"].as_str().unwrap().to_lowercase());
                let char_start = x.text[..x.start].chars().count();
                let given = a["start"].as_u64().unwrap() as usize;
                if char_start != given {
                    repaired += 1;
                    // The repair moves right, by at most the number of U+FFFD
                    // before the entity (each mangled source character left
                    // one or two of them).
                    let mangled = x.text[..x.start].matches('\u{fffd}').count();
                    assert!(
                        char_start > given && char_start - given <= mangled,
                        "{}",
                        x.id
                    );
                }
            }
        }
        assert_eq!(repaired, raw_mismatch);
    }

    #[test]
    fn newsmtsc_counts_and_offsets() {
        let Some(dir) = data_dir() else { return };
        let dir = dir.join("newsmtsc");
        let check = |file: &str, split: Option<Split>, sentences: usize, want| {
            let path = dir.join(file);
            let r = newsmtsc(&path, split).unwrap();
            assert_eq!(
                dist(r.iter().map(|x| x.label.as_str())),
                want,
                "{file} {split:?}"
            );
            let ids: HashSet<usize> = r.iter().map(|x| record_index(&x.id)).collect();
            assert_eq!(ids.len(), sentences, "{file} {split:?}");
            if let Some(s) = split {
                assert!(ids.iter().all(|&i| Split::of_index(i) == s));
            }
            // Against the raw mention strings, parsed independently.
            let lines: Vec<serde_json::Value> = std::fs::read_to_string(&path)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            let mut mismatches = 0;
            for x in &r {
                let span = x.text.get(x.start..x.end);
                assert!(span.is_some_and(|s| !s.is_empty()), "{}", x.id);
                let t = &lines[record_index(&x.id)]["targets"][entity_index(&x.id)];
                if span.unwrap() != t["mention"].as_str().unwrap() {
                    mismatches += 1;
                }
            }
            assert_eq!(mismatches, 0, "{file}");
        };
        check(
            "train.jsonl",
            Some(Split::Train),
            6208,
            (7008, 2702, 2411, 1895),
        );
        check("train.jsonl", Some(Split::Dev), 775, (868, 322, 292, 254));
        check("train.jsonl", Some(Split::Test), 775, (863, 292, 325, 246));
        check("devtest_mt.jsonl", None, 721, (1476, 482, 748, 246));
        check("devtest_rw.jsonl", None, 1067, (1146, 429, 455, 262));
    }

    #[test]
    fn newsmtsc_non_ascii_offsets_are_bytes() {
        let Some(dir) = data_dir() else { return };
        let r = newsmtsc(&dir.join("newsmtsc/train.jsonl"), None).unwrap();
        // A target after a multi-byte char: byte and char offsets differ.
        let shifted = r
            .iter()
            .filter(|x| x.text[..x.start].len() != x.text[..x.start].chars().count())
            .count();
        assert!(shifted > 0);
        let mut per_line: BTreeMap<usize, usize> = BTreeMap::new();
        for x in &r {
            *per_line.entry(record_index(&x.id)).or_default() += 1;
        }
        assert_eq!((per_line.len(), r.len()), (7758, 8739));
    }

    #[test]
    fn neus_pairs() {
        let Some(dir) = data_dir() else { return };
        let dir = dir.join("neus");
        for split in [Split::Dev, Split::Test] {
            let r = neus(&dir, split).unwrap();
            assert_eq!(r.len(), 307, "{split}");
            assert!(r
                .iter()
                .all(|(s, t)| s.starts_with("TITLE=>") && !t.is_empty()));
        }
        assert!(neus(&dir, Split::Train).is_err());
    }
}
