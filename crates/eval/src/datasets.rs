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

// ------------------------------------------------------------- stance sets

/// A text, a target (a phrase the stance is toward) and the stance toward it,
/// mapped to the project's polarity vocabulary: favor → "positive",
/// against → "negative", none → "neutral".
#[derive(Debug, Clone, PartialEq)]
pub struct StanceExample {
    pub id: String,
    pub text: String,
    pub target: String,
    /// Byte span of the target inside `text` when it occurs there (case-insensitive
    /// whole-word match of the target phrase, first occurrence), else None.
    /// [`multitarget`] also tries a few spellings of the name, and
    /// [`ibm_claim_stance`] takes the data's own span first (see each reader).
    pub span: Option<(usize, usize)>,
    pub label: String,
}

/// favor / against / none (any case) → positive / negative / neutral.
fn stance_polarity(raw: &str) -> Option<&'static str> {
    match raw.to_ascii_lowercase().as_str() {
        "favor" => Some("positive"),
        "against" => Some("negative"),
        "none" => Some("neutral"),
        _ => None,
    }
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn chars_eq_caseless(a: char, b: char) -> bool {
    a == b || a.to_lowercase().eq(b.to_lowercase())
}

/// Bytes of `s` that match `word` char by char, ignoring case.
fn caseless_prefix(s: &str, word: &str) -> Option<usize> {
    let mut it = s.char_indices();
    for wc in word.chars() {
        let (_, sc) = it.next()?;
        if !chars_eq_caseless(sc, wc) {
            return None;
        }
    }
    Some(it.next().map_or(s.len(), |(b, _)| b))
}

/// End of a match of `words` starting at byte `start` (one or more
/// whitespace chars between words), ending at a word boundary.
fn phrase_end_at(text: &str, start: usize, words: &[&str]) -> Option<usize> {
    let mut pos = start;
    for (k, w) in words.iter().enumerate() {
        if k > 0 {
            let rest = &text[pos..];
            let ws = rest.len() - rest.trim_start().len();
            if ws == 0 {
                return None;
            }
            pos += ws;
        }
        pos += caseless_prefix(&text[pos..], w)?;
    }
    (!text[pos..].chars().next().is_some_and(is_word_char)).then_some(pos)
}

/// Byte span of the first case-insensitive whole-word occurrence of
/// `phrase` in `text`: it neither starts right after nor ends right before a
/// letter, digit or `_`; whitespace between the phrase's words matches any
/// run of whitespace. `None` for an empty phrase or no occurrence.
pub fn find_phrase(text: &str, phrase: &str) -> Option<(usize, usize)> {
    let words: Vec<&str> = phrase.split_whitespace().collect();
    if words.is_empty() {
        return None;
    }
    let mut prev: Option<char> = None;
    for (b, c) in text.char_indices() {
        if !prev.is_some_and(is_word_char) {
            if let Some(end) = phrase_end_at(text, b, &words) {
                return Some((b, end));
            }
        }
        prev = Some(c);
    }
    None
}

// ---------------------------------------------------------------------- VAST

#[derive(Deserialize)]
struct VastRecord {
    text: String,
    topic: String,
    label: String,
}

fn parse_vast(text: &str, path: &str, name: &str) -> Result<Vec<StanceExample>, DataError> {
    records(text, path)?
        .into_iter()
        .enumerate()
        .map(|(i, line)| {
            let r: VastRecord =
                serde_json::from_str(line).map_err(|e| format_err(path, i + 1, e.to_string()))?;
            let label = stance_polarity(&r.label).ok_or_else(|| {
                format_err(
                    path,
                    i + 1,
                    format!("label `{}` is not favor, against or none", r.label),
                )
            })?;
            if r.text.trim().is_empty() || r.topic.trim().is_empty() {
                return Err(format_err(path, i + 1, "empty text or topic"));
            }
            Ok(StanceExample {
                id: format!("{name}:{i}"),
                span: find_phrase(&r.text, &r.topic),
                text: r.text,
                target: r.topic,
                label: label.to_string(),
            })
        })
        .collect()
}

/// VAST (`vast/{train,dev,test}.jsonl`, one `{"id","text","topic","label",
/// "seen","contains_topic"}` a line, labels favor / against / none): the
/// file is the split, so every record of `file` is returned, in file order,
/// ids `<file name>:<line index>`. The target is `topic`; `span` is its first
/// whole-word occurrence in the text ([`find_phrase`]), which is rarer than
/// the data's `contains_topic` flag (that counts lemma matches; `dev.jsonl`
/// has no such flag). `seen` and `contains_topic` are not kept.
pub fn vast(file: &Path) -> Result<Vec<StanceExample>, DataError> {
    let text = read_utf8(file)?;
    parse_vast(&text, &file.display().to_string(), &file_name(file))
}

// ------------------------------------------------------------ SemEval-2016

const SEMEVAL_HEADER: [&str; 6] = [
    "ID",
    "Target",
    "Tweet",
    "Stance",
    "Opinion towards",
    "Sentiment",
];

/// All records of a SemEval-2016 file (already decoded); record `i` is on
/// line `i + 2`, after the header.
fn parse_semeval(text: &str, path: &str, name: &str) -> Result<Vec<StanceExample>, DataError> {
    let lines = records(text, path)?;
    let Some((header, rows)) = lines.split_first() else {
        return Err(format_err(path, 1, "empty file (no header)"));
    };
    if header.split('\t').collect::<Vec<_>>() != SEMEVAL_HEADER {
        return Err(format_err(
            path,
            1,
            format!("header is not `{}`", SEMEVAL_HEADER.join("<tab>")),
        ));
    }
    rows.iter()
        .enumerate()
        .map(|(i, row)| {
            let line = i + 2;
            let fields: Vec<&str> = row.split('\t').collect();
            let [_id, target, tweet, stance, _towards, _sentiment] = fields[..] else {
                return Err(format_err(
                    path,
                    line,
                    format!("{} tab-separated fields, expected 6", fields.len()),
                ));
            };
            let label = stance_polarity(stance).ok_or_else(|| {
                format_err(
                    path,
                    line,
                    format!("stance `{stance}` is not FAVOR, AGAINST or NONE"),
                )
            })?;
            let text = tweet.replace("#SemST", "").trim().to_string();
            if text.is_empty() || target.trim().is_empty() {
                return Err(format_err(path, line, "empty tweet or target"));
            }
            Ok(StanceExample {
                id: format!("{name}:{i}"),
                span: find_phrase(&text, target),
                text,
                target: target.to_string(),
                label: label.to_string(),
            })
        })
        .collect()
}

fn read_semeval(file: &Path) -> Result<Vec<StanceExample>, DataError> {
    let text = decode_latin1(&read_bytes(file)?);
    parse_semeval(&text, &file.display().to_string(), &file_name(file))
}

/// SemEval-2016 Task 6, subtask A (`semeval2016/`, Latin-1, tab-separated,
/// header `ID Target Tweet Stance Opinion towards Sentiment`, stances FAVOR /
/// AGAINST / NONE). Test is `testdata-taskA-all-annotations.txt`, whole.
/// `trainingdata-all-annotations.txt` gives dev (record index `i % 10 == 8`)
/// and train (every other record); train also has all of
/// `trialdata-all-annotations.txt`, after the training records. The
/// `#SemST` hashtag every tweet ends with is removed. Ids are
/// `<file name>:<record index>` (the header is not a record); `span` is the
/// target phrase's first whole-word occurrence ([`find_phrase`]).
pub fn semeval2016(dir: &Path, split: Split) -> Result<Vec<StanceExample>, DataError> {
    if split == Split::Test {
        return read_semeval(&dir.join("testdata-taskA-all-annotations.txt"));
    }
    let training = read_semeval(&dir.join("trainingdata-all-annotations.txt"))?;
    let mut out: Vec<StanceExample> = training
        .into_iter()
        .enumerate()
        .filter(|(i, _)| (i % 10 == 8) == (split == Split::Dev))
        .map(|(_, x)| x)
        .collect();
    if split == Split::Train {
        out.extend(read_semeval(&dir.join("trialdata-all-annotations.txt"))?);
    }
    Ok(out)
}

// ---------------------------------------------------------------------- CSV

/// A CSV file's header and records, each with the 1-based line it starts on.
/// Quoted fields may span lines; a record with another number of fields than
/// the header is a format error.
type CsvRows = (Vec<String>, Vec<(usize, csv::StringRecord)>);

fn parse_csv(text: &str, path: &str) -> Result<CsvRows, DataError> {
    let csv_err = |e: csv::Error| {
        let line = e.position().map_or(0, |p| p.line() as usize);
        format_err(path, line, format!("CSV: {e}"))
    };
    let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(csv_err)?
        .iter()
        .map(str::to_string)
        .collect();
    let mut rows = Vec::new();
    for r in reader.records() {
        let r = r.map_err(csv_err)?;
        let line = r.position().map_or(0, |p| p.line() as usize);
        rows.push((line, r));
    }
    Ok((header, rows))
}

/// The index of column `name`, or a format error naming the header line.
fn column(header: &[String], name: &str, path: &str) -> Result<usize, DataError> {
    header
        .iter()
        .position(|h| h == name)
        .ok_or_else(|| format_err(path, 1, format!("no column `{name}` in the header")))
}

// -------------------------------------------------------------- multi-target

/// Ways a target name may be written in a tweet, besides the target as given:
/// its last word and first word (at least 3 chars), and each of these with
/// the data's "Hilary" spelled "Hillary".
fn name_spellings(target: &str) -> Vec<String> {
    let words: Vec<&str> = target.split_whitespace().collect();
    let mut forms = vec![target.to_string()];
    if words.len() > 1 {
        forms.extend(
            [words[words.len() - 1], words[0]]
                .into_iter()
                .filter(|w| w.chars().count() >= 3)
                .map(str::to_string),
        );
    }
    let fixed: Vec<String> = forms
        .iter()
        .filter(|f| f.contains("Hilary"))
        .map(|f| f.replace("Hilary", "Hillary"))
        .collect();
    forms.extend(fixed);
    forms
}

/// The earliest whole-word occurrence of any spelling (the longest on a tie).
fn find_name(text: &str, target: &str) -> Option<(usize, usize)> {
    name_spellings(target)
        .iter()
        .filter_map(|f| find_phrase(text, f))
        .min_by_key(|&(s, e)| (s, std::cmp::Reverse(e)))
}

const MULTITARGET_HEADER: [&str; 6] = [
    "Tweet",
    "Target 1",
    "Stance 1",
    "Target 2",
    "Stance 2",
    "Test/Train/Dev",
];

fn parse_multitarget(
    text: &str,
    path: &str,
    name: &str,
    split: Split,
) -> Result<Vec<StanceExample>, DataError> {
    let (header, rows) = parse_csv(text, path)?;
    if header != MULTITARGET_HEADER {
        return Err(format_err(
            path,
            1,
            format!("header is not `{}`", MULTITARGET_HEADER.join(",")),
        ));
    }
    let mut out = Vec::new();
    for (i, (line, r)) in rows.iter().enumerate() {
        let part = match &r[5] {
            "Train" => Split::Train,
            "Dev" => Split::Dev,
            "Test" => Split::Test,
            other => {
                return Err(format_err(
                    path,
                    *line,
                    format!("split `{other}` is not Train, Dev or Test"),
                ))
            }
        };
        let tweet = &r[0];
        if tweet.trim().is_empty() {
            return Err(format_err(path, *line, "empty tweet"));
        }
        for j in 0..2 {
            let (target, stance) = (&r[1 + 2 * j], &r[2 + 2 * j]);
            let label = stance_polarity(stance).ok_or_else(|| {
                format_err(
                    path,
                    *line,
                    format!("stance {} `{stance}` is not FAVOR, AGAINST or NONE", j + 1),
                )
            })?;
            if target.trim().is_empty() {
                return Err(format_err(path, *line, format!("empty target {}", j + 1)));
            }
            if part == split {
                out.push(StanceExample {
                    id: format!("{name}:{i}:{j}"),
                    text: tweet.to_string(),
                    target: target.to_string(),
                    span: find_name(tweet, target),
                    label: label.to_string(),
                });
            }
        }
    }
    Ok(out)
}

/// Multi-target stance (`multitarget/multi_target_stance.csv`, CSV with
/// quoted fields, columns `Tweet,Target 1,Stance 1,Target 2,Stance 2,
/// Test/Train/Dev`): two examples per tweet, ids `<file name>:<i>:0` and
/// `:<i>:1` (`i` the record index), in the split the last column names.
/// Targets are kept as given (the data spells "Hilary Clinton"). `span` is
/// the earliest whole-word occurrence ([`find_phrase`]) of the target, its
/// last word or its first word (at least 3 chars: "Trump", "Sanders",
/// "Bernie", "Cruz", "Ted", "Clinton"), each also with "Hilary" spelled
/// "Hillary"; on a tie the longest. Hashtags such as `#HillaryClinton` are
/// one word and do not match.
pub fn multitarget(file: &Path, split: Split) -> Result<Vec<StanceExample>, DataError> {
    let text = read_utf8(file)?;
    parse_multitarget(&text, &file.display().to_string(), &file_name(file), split)
}

// --------------------------------------------------------- IBM claim stance

/// The claim target's byte span: the data's character span when it slices
/// to the target (ignoring case), else the target's first whole-word
/// occurrence, else `None`.
fn claim_target_span(text: &str, target: &str, start: &str, end: &str) -> Option<(usize, usize)> {
    let given = start
        .parse::<usize>()
        .ok()
        .zip(end.parse::<usize>().ok())
        .and_then(|(s, e)| byte_span(&char_starts(text), s, e))
        .filter(|&(s, e)| text[s..e].to_lowercase() == target.to_lowercase());
    given.or_else(|| find_phrase(text, target))
}

fn parse_ibm(
    text: &str,
    path: &str,
    name: &str,
    split: Split,
) -> Result<Vec<StanceExample>, DataError> {
    let (header, rows) = parse_csv(text, path)?;
    let col = |n: &str| column(&header, n, path);
    let (c_split, c_text, c_target, c_start, c_end, c_sentiment) = (
        col("split")?,
        col("claims.claimCorrectedText")?,
        col("claims.claimTarget.text")?,
        col("claims.claimTarget.span.start")?,
        col("claims.claimTarget.span.end")?,
        col("claims.claimSentiment")?,
    );
    let mut out = Vec::new();
    let mut train_index = 0;
    for (i, (line, r)) in rows.iter().enumerate() {
        let part = match &r[c_split] {
            "test" => Split::Test,
            "train" => {
                train_index += 1;
                if (train_index - 1) % 10 == 8 {
                    Split::Dev
                } else {
                    Split::Train
                }
            }
            other => {
                return Err(format_err(
                    path,
                    *line,
                    format!("split `{other}` is not train or test"),
                ))
            }
        };
        let label = match &r[c_sentiment] {
            "1" => "positive",
            "-1" => "negative",
            // No sentiment toward the claim's target (the data marks these
            // claims' targets incompatible with the topic): no example.
            "" => continue,
            other => {
                return Err(format_err(
                    path,
                    *line,
                    format!("claimSentiment `{other}` is not 1, -1 or empty"),
                ))
            }
        };
        let (claim, target) = (&r[c_text], &r[c_target]);
        if claim.trim().is_empty() || target.trim().is_empty() {
            return Err(format_err(
                path,
                *line,
                "empty claim or target with a sentiment",
            ));
        }
        if part == split {
            out.push(StanceExample {
                id: format!("{name}:{i}"),
                text: claim.to_string(),
                target: target.to_string(),
                span: claim_target_span(claim, target, &r[c_start], &r[c_end]),
                label: label.to_string(),
            });
        }
    }
    Ok(out)
}

/// IBM Debater claim stance (`ibm_claim_stance/claim_stance_dataset_v1.csv`):
/// the claim's sentiment toward its *own* target, not its stance toward the
/// debate topic. Text = `claims.claimCorrectedText`, target =
/// `claims.claimTarget.text`, label from `claims.claimSentiment` (1 →
/// "positive", -1 → "negative"); claims without a sentiment (their target is
/// marked incompatible with the topic) are left out. `span` comes from
/// `claims.claimTarget.span.start/end` (character offsets into the corrected
/// text, made byte offsets) when that slice is the target ignoring case,
/// else from [`find_phrase`], else `None`. Split: column `split`; `test` rows
/// are test; among the `train` rows (counted in file order, with or without a
/// sentiment, so leaving some out shifts nothing) number `k % 10 == 8` is
/// dev and the others train. Ids are `<file name>:<record index>`.
pub fn ibm_claim_stance(file: &Path, split: Split) -> Result<Vec<StanceExample>, DataError> {
    let text = read_utf8(file)?;
    parse_ibm(&text, &file.display().to_string(), &file_name(file), split)
}

// ------------------------------------------------------------------ PerSenT

/// A PerSenT article: the author's sentiment toward its main entity, and
/// per paragraph (`None` where the paragraph has no label or does not exist).
/// Labels are "positive" | "neutral" | "negative".
#[derive(Debug, Clone, PartialEq)]
pub struct PersentDoc {
    /// The data's `DOCUMENT_INDEX`.
    pub id: String,
    pub title: String,
    /// `TARGET_ENTITY`, the article's main entity.
    pub entity: String,
    pub text: String,
    /// The text with the entity replaced by `[TGT]` (in 547 of the 578
    /// articles of `dev.csv`; in the other 31 it equals `text`).
    pub masked: String,
    pub label: String,
    /// `Paragraph0..Paragraph15`.
    pub paragraph_labels: Vec<Option<String>>,
}

const PERSENT_COLUMNS: [&str; 6] = [
    "DOCUMENT_INDEX",
    "TITLE",
    "TARGET_ENTITY",
    "DOCUMENT",
    "MASKED_DOCUMENT",
    "TRUE_SENTIMENT",
];
const PERSENT_PARAGRAPHS: usize = 16;

fn persent_label(raw: &str) -> Option<&'static str> {
    match raw {
        "Positive" => Some("positive"),
        "Neutral" => Some("neutral"),
        "Negative" => Some("negative"),
        _ => None,
    }
}

fn parse_persent(text: &str, path: &str, split: Split) -> Result<Vec<PersentDoc>, DataError> {
    let (header, rows) = parse_csv(text, path)?;
    let paragraphs = (0..PERSENT_PARAGRAPHS).map(|k| format!("Paragraph{k}"));
    let want: Vec<String> = PERSENT_COLUMNS
        .iter()
        .map(|c| c.to_string())
        .chain(paragraphs)
        .collect();
    if header != want {
        return Err(format_err(
            path,
            1,
            "header is not DOCUMENT_INDEX,TITLE,TARGET_ENTITY,DOCUMENT,MASKED_DOCUMENT,\
             TRUE_SENTIMENT,Paragraph0..Paragraph15",
        ));
    }
    let mut out = Vec::new();
    for (i, (line, r)) in rows.iter().enumerate() {
        let label = persent_label(&r[5]).ok_or_else(|| {
            format_err(
                path,
                *line,
                format!(
                    "TRUE_SENTIMENT `{}` is not Positive, Neutral or Negative",
                    &r[5]
                ),
            )
        })?;
        let paragraph_labels = (0..PERSENT_PARAGRAPHS)
            .map(|k| match &r[6 + k] {
                "" => Ok(None),
                l => persent_label(l)
                    .map(|l| Some(l.to_string()))
                    .ok_or_else(|| {
                        format_err(path, *line, format!("Paragraph{k} label `{l}` is unknown"))
                    }),
            })
            .collect::<Result<Vec<_>, _>>()?;
        if r[0].trim().is_empty() || r[2].trim().is_empty() || r[3].trim().is_empty() {
            return Err(format_err(
                path,
                *line,
                "empty DOCUMENT_INDEX, TARGET_ENTITY or DOCUMENT",
            ));
        }
        if Split::of_index(i) == split {
            out.push(PersentDoc {
                id: r[0].to_string(),
                title: r[1].to_string(),
                entity: r[2].to_string(),
                text: r[3].to_string(),
                masked: r[4].to_string(),
                label: label.to_string(),
                paragraph_labels,
            });
        }
    }
    Ok(out)
}

/// PerSenT (`persent/dev.csv`, CSV with multi-line quoted fields, columns
/// `DOCUMENT_INDEX, TITLE, TARGET_ENTITY, DOCUMENT, MASKED_DOCUMENT,
/// TRUE_SENTIMENT, Paragraph0..Paragraph15`): the articles of `split` under
/// the split rule on the row index, in file order. Labels Positive / Neutral
/// / Negative become "positive" / "neutral" / "negative"; an empty paragraph
/// label is `None`. Ids are the data's `DOCUMENT_INDEX`.
pub fn persent(file: &Path, split: Split) -> Result<Vec<PersentDoc>, DataError> {
    let text = read_utf8(file)?;
    parse_persent(&text, &file.display().to_string(), split)
}

// --------------------------------------------------------------- Perspectrum

#[derive(Deserialize)]
struct PerspClaim {
    #[serde(rename = "cId")]
    id: u64,
    text: String,
    perspectives: Vec<PerspCluster>,
}

#[derive(Deserialize)]
struct PerspCluster {
    pids: Vec<u64>,
    stance_label_3: String,
}

#[derive(Deserialize)]
struct PerspText {
    #[serde(rename = "pId")]
    id: u64,
    text: String,
}

fn parse_json<T: serde::de::DeserializeOwned>(text: &str, path: &str) -> Result<T, DataError> {
    serde_json::from_str(text).map_err(|e| format_err(path, e.line(), e.to_string()))
}

/// `(claims, split, pool)`: the texts of the three files and their paths.
fn parse_perspectrum(
    files: [(&str, &str); 3],
    split: Split,
) -> Result<Vec<StanceExample>, DataError> {
    let [(claims_text, claims_path), (split_text, split_path), (pool_text, pool_path)] = files;
    let claims: Vec<PerspClaim> = parse_json(claims_text, claims_path)?;
    let parts: std::collections::HashMap<String, String> = parse_json(split_text, split_path)?;
    let pool: std::collections::HashMap<u64, String> =
        parse_json::<Vec<PerspText>>(pool_text, pool_path)?
            .into_iter()
            .map(|p| (p.id, p.text))
            .collect();
    // These files are one JSON value each: a problem found after parsing
    // is reported at line 0, naming the claim.
    let mut out = Vec::new();
    for c in &claims {
        let part = match parts.get(&c.id.to_string()).map(String::as_str) {
            Some("train") => Split::Train,
            Some("dev") => Split::Dev,
            Some("test") => Split::Test,
            other => {
                return Err(format_err(
                    split_path,
                    0,
                    format!("claim {}: split {other:?} is not train, dev or test", c.id),
                ))
            }
        };
        for cluster in &c.perspectives {
            let label = match cluster.stance_label_3.as_str() {
                "SUPPORT" => "positive",
                "UNDERMINE" => "negative",
                other => {
                    return Err(format_err(
                        claims_path,
                        0,
                        format!(
                            "claim {}: stance_label_3 `{other}` is not SUPPORT or UNDERMINE",
                            c.id
                        ),
                    ))
                }
            };
            for pid in &cluster.pids {
                let text = pool.get(pid).ok_or_else(|| {
                    format_err(
                        pool_path,
                        0,
                        format!("claim {}: perspective {pid} is not in the pool", c.id),
                    )
                })?;
                if part == split {
                    out.push(StanceExample {
                        id: format!("perspectrum:{}:{pid}", c.id),
                        text: text.clone(),
                        target: c.text.clone(),
                        span: find_phrase(text, &c.text),
                        label: label.to_string(),
                    });
                }
            }
        }
    }
    Ok(out)
}

/// Perspectrum (`perspectrum/`): one example per claim–perspective pair,
/// text = the perspective (`perspective_pool_v1.0.json`), target = the claim
/// (`perspectrum_with_answers_v1.0.json`), label from the perspective
/// cluster's `stance_label_3` (SUPPORT → "positive", UNDERMINE →
/// "negative"); every perspective of a cluster (its paraphrases, `pids`) is
/// an example. The split is the claim's in `dataset_split_v1.0.json`. Ids are
/// `perspectrum:<cId>:<pId>`. A claim rarely occurs in its perspective, so
/// `span` is almost always `None`. The files are single JSON values: an
/// error found after parsing (unknown split, label or perspective id) is
/// reported at line 0 with the claim id.
pub fn perspectrum(dir: &Path, split: Split) -> Result<Vec<StanceExample>, DataError> {
    let paths = [
        dir.join("perspectrum_with_answers_v1.0.json"),
        dir.join("dataset_split_v1.0.json"),
        dir.join("perspective_pool_v1.0.json"),
    ];
    let texts = [
        read_utf8(&paths[0])?,
        read_utf8(&paths[1])?,
        read_utf8(&paths[2])?,
    ];
    let names = paths.each_ref().map(|p| p.display().to_string());
    parse_perspectrum(
        [
            (&texts[0], &names[0]),
            (&texts[1], &names[1]),
            (&texts[2], &names[2]),
        ],
        split,
    )
}

// ------------------------------------------------------------------ FiNER-ORD

/// The entity types of FiNER-ORD, in its label order (1, 2: PER; 3, 4: LOC;
/// 5, 6: ORG).
pub const FINER_TYPES: [&str; 3] = ["PER", "LOC", "ORG"];

/// A sentence with named entities: byte spans into `text` and their type
/// (an index into [`FINER_TYPES`]).
#[derive(Debug, Clone, PartialEq)]
pub struct TaggedSentence {
    pub id: String,
    pub text: String,
    pub entities: Vec<(usize, usize, usize)>,
}

/// Whether no space goes before this token when words are joined into text.
fn glued_left(tok: &str) -> bool {
    matches!(
        tok,
        "," | "." | ":" | ";" | "!" | "?" | "%" | ")" | "]" | "..." | "\u{2026}" | "\u{201d}"
    ) || ["'", "\u{2019}", "n't", "n\u{2019}t"]
        .iter()
        .any(|p| tok.starts_with(p))
}

/// Whether no space goes after this token.
fn glued_right(tok: &str) -> bool {
    matches!(tok, "(" | "[" | "$" | "\u{a3}" | "\u{20ac}" | "\u{201c}")
}

/// FiNER-ORD's token-a-row CSV (`gold_label,gold_token,doc_idx,sent_idx`)
/// as sentences: the tokens joined with spaces, except before punctuation
/// and clitics ("'s", "n't") and after opening brackets and currency signs,
/// so the text reads as the news did; entities are the B/I runs of each
/// type (an I without its B starts an entity, as seqeval reads it).
pub fn finer_ord(file: &Path) -> Result<Vec<TaggedSentence>, DataError> {
    let text = read_utf8(file)?;
    parse_finer_ord(&text, &file.display().to_string())
}

fn parse_finer_ord(text: &str, path: &str) -> Result<Vec<TaggedSentence>, DataError> {
    let (header, rows) = parse_csv(text, path)?;
    let col = |n: &str| column(&header, n, path);
    let (c_label, c_token, c_doc, c_sent) = (
        col("gold_label")?,
        col("gold_token")?,
        col("doc_idx")?,
        col("sent_idx")?,
    );
    let mut out: Vec<TaggedSentence> = Vec::new();
    let mut key = (String::new(), String::new());
    // The open entity of the sentence being built: (start, type).
    let mut open: Option<(usize, usize)> = None;
    let mut last_end = 0;
    let mut prev_glues = false;
    let close = |s: &mut TaggedSentence, open: &mut Option<(usize, usize)>, end: usize| {
        if let Some((start, t)) = open.take() {
            s.entities.push((start, end, t));
        }
    };
    for (line, r) in &rows {
        let k = (r[c_doc].to_string(), r[c_sent].to_string());
        if out.is_empty() || k != key {
            if let Some(s) = out.last_mut() {
                close(s, &mut open, last_end);
            }
            out.push(TaggedSentence {
                id: format!("{}:{}", k.0, k.1),
                text: String::new(),
                entities: Vec::new(),
            });
            key = k;
            prev_glues = true;
        }
        let label: usize = r[c_label]
            .trim()
            .parse()
            .ok()
            .filter(|l| *l <= 6)
            .ok_or_else(|| {
                format_err(path, *line, format!("label {:?} is not 0-6", &r[c_label]))
            })?;
        let tok = r[c_token].trim();
        if tok.is_empty() {
            continue;
        }
        let s = out.last_mut().expect("a sentence was pushed");
        if !(prev_glues || glued_left(tok)) {
            s.text.push(' ');
        }
        let start = s.text.len();
        s.text.push_str(tok);
        prev_glues = glued_right(tok);
        let kind = label.div_ceil(2); // 0: O, 1: PER, 2: LOC, 3: ORG
        let inside = label > 0 && label.is_multiple_of(2);
        match open {
            Some((_, t)) if inside && t + 1 == kind => {}
            _ => {
                close(s, &mut open, last_end);
                if kind > 0 {
                    open = Some((start, kind - 1));
                }
            }
        }
        last_end = s.text.len();
    }
    if let Some(s) = out.last_mut() {
        close(s, &mut open, last_end);
    }
    Ok(out)
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

    // ------------------------------------------------ stance sets, inline

    /// The span's text, which must be on char boundaries.
    fn span_text(x: &StanceExample) -> Option<&str> {
        x.span
            .map(|(s, e)| x.text.get(s..e).expect("span on char boundaries"))
    }

    #[test]
    fn find_phrase_is_caseless_whole_word_first_occurrence() {
        let t = "Économie: the Gun Control debate; gun  control again, guns.";
        assert_eq!(find_phrase(t, "gun control"), Some((15, 26)));
        assert_eq!(&t[15..26], "Gun Control");
        // Any whitespace run between words; a multi-byte char before.
        assert_eq!(
            find_phrase("É gun \n control", "gun control"),
            Some((3, 16))
        );
        assert_eq!(find_phrase(t, "ÉCONOMIE"), Some((0, 9)));
        // Not inside a word on either side.
        assert_eq!(find_phrase("guns and gunsmoke", "gun"), None);
        assert_eq!(find_phrase("shotgun", "gun"), None);
        assert_eq!(find_phrase("#HillaryClinton", "Hillary"), None);
        assert_eq!(
            find_phrase("#Hillary2016 Hillary's", "hillary"),
            Some((13, 20))
        );
        assert_eq!(find_phrase("anything", "  "), None);
        assert_eq!(find_phrase("gun", "gun control"), None);
    }

    #[test]
    fn vast_parsing_labels_spans_and_errors() {
        let text = concat!(
            r#"{"id": "1", "text": "Nuclear power is safe. I favor NUCLEAR  power.", "topic": "nuclear power", "label": "favor", "seen": true, "contains_topic": true}"#,
            "\n",
            r#"{"id": "2", "text": "Café owners hate it.", "topic": "café", "label": "against", "seen": false}"#,
            "\n",
            r#"{"id": "3", "text": "Taxes.", "topic": "tax", "label": "none", "seen": 1, "contains_topic": false}"#,
            "\n"
        );
        let r = parse_vast(text, "p", "dev.jsonl").unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].id, "dev.jsonl:0");
        assert_eq!(r[0].span, Some((0, 13)));
        assert_eq!(span_text(&r[1]), Some("Café"));
        assert_eq!(r[2].span, None, "tax is not a whole word of Taxes");
        let labels: Vec<&str> = r.iter().map(|x| x.label.as_str()).collect();
        assert_eq!(labels, ["positive", "negative", "neutral"]);
        assert_eq!(r[1].target, "café");

        let bad = text.replace("\"none\"", "\"neutral\"");
        let err = parse_vast(&bad, "p", "f").unwrap_err();
        assert!(err.to_string().starts_with("p:3:"), "{err}");
        let err = parse_vast("{\"text\": \"x\"}", "p", "f").unwrap_err();
        assert!(matches!(err, DataError::Format { line: 1, .. }), "{err}");
        let err = parse_vast(&format!("\n{text}"), "p", "f").unwrap_err();
        assert!(matches!(err, DataError::Format { line: 1, .. }), "{err}");
    }

    #[test]
    fn semeval_parsing_latin1_hashtag_and_errors() {
        let raw = b"ID\tTarget\tTweet\tStance\tOpinion towards\tSentiment\r\n\
            1\tHillary Clinton\tGo hillary  clinton! Caf\xe9 #SemST\tFAVOR\tTARGET\tPOSITIVE\r\n\
            2\tAtheism\tGod is great #SemST\tAGAINST\tOTHER\tPOSITIVE\r\n\
            3\tAtheism\tNothing here #SemST #x\tNONE\tOTHER\tNEITHER\r\n";
        let text = decode_latin1(raw);
        let r = parse_semeval(&text, "p", "t.txt").unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].text, "Go hillary  clinton! Caf\u{e9}");
        assert_eq!(span_text(&r[0]), Some("hillary  clinton"));
        assert_eq!(r[0].target, "Hillary Clinton");
        assert_eq!(r[1].span, None);
        assert_eq!(r[2].text, "Nothing here  #x");
        assert_eq!(r[2].id, "t.txt:2");
        let labels: Vec<&str> = r.iter().map(|x| x.label.as_str()).collect();
        assert_eq!(labels, ["positive", "negative", "neutral"]);

        let err = parse_semeval(&text.replace("\tNONE", "\tNEUTRAL"), "p", "f").unwrap_err();
        assert!(matches!(err, DataError::Format { line: 4, .. }), "{err}");
        let err = parse_semeval(&text.replace("\tAGAINST\t", "\tAGAINST "), "p", "f").unwrap_err();
        assert!(matches!(err, DataError::Format { line: 3, .. }), "{err}");
        let err = parse_semeval(&text.replace("ID\t", "Id\t"), "p", "f").unwrap_err();
        assert!(matches!(err, DataError::Format { line: 1, .. }), "{err}");
        assert!(parse_semeval("", "p", "f").is_err());
    }

    #[test]
    fn semeval_split_takes_dev_from_training_and_adds_trial_to_train() {
        let dir = std::env::temp_dir().join(format!("stancepipe-semeval-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let header = "ID\tTarget\tTweet\tStance\tOpinion towards\tSentiment\n";
        let file = |name: &str, n: usize, word: &str| {
            let rows: String = (0..n)
                .map(|i| format!("{i}\tAtheism\t{word} {i} #SemST\tNONE\tOTHER\tNEITHER\n"))
                .collect();
            std::fs::write(dir.join(name), format!("{header}{rows}")).unwrap();
        };
        file("trainingdata-all-annotations.txt", 20, "train");
        file("trialdata-all-annotations.txt", 3, "trial");
        file("testdata-taskA-all-annotations.txt", 4, "test");
        let dev = semeval2016(&dir, Split::Dev).unwrap();
        let texts: Vec<&str> = dev.iter().map(|x| x.text.as_str()).collect();
        assert_eq!(texts, ["train 8", "train 18"]);
        let train = semeval2016(&dir, Split::Train).unwrap();
        assert_eq!(train.len(), 18 + 3);
        assert!(train.iter().any(|x| x.text == "train 9"));
        assert_eq!(train[18].id, "trialdata-all-annotations.txt:0");
        assert_eq!(semeval2016(&dir, Split::Test).unwrap().len(), 4);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn multitarget_two_examples_per_tweet_split_by_column_and_spellings() {
        let text = "Tweet,Target 1,Stance 1,Target 2,Stance 2,Test/Train/Dev\n\
            \"Trump, not Hillary!\nvote #TedCruz\",Donald Trump,FAVOR,Hilary Clinton,AGAINST,Train\n\
            \"Bernie Sanders or nobody\",Hilary Clinton,NONE,Bernie Sanders,FAVOR,Test\n\
            \"Cruz missile\",Donald Trump,AGAINST,Ted Cruz,FAVOR,Dev\n";
        let r = parse_multitarget(text, "p", "m.csv", Split::Train).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].text, "Trump, not Hillary!\nvote #TedCruz");
        assert_eq!(
            (r[0].id.as_str(), r[1].id.as_str()),
            ("m.csv:0:0", "m.csv:0:1")
        );
        assert_eq!(span_text(&r[0]), Some("Trump"));
        assert_eq!(r[1].target, "Hilary Clinton", "kept as given");
        assert_eq!(span_text(&r[1]), Some("Hillary"));
        assert_eq!(
            (r[0].label.as_str(), r[1].label.as_str()),
            ("positive", "negative")
        );
        let r = parse_multitarget(text, "p", "m.csv", Split::Test).unwrap();
        assert_eq!(r[0].span, None);
        assert_eq!(r[0].label, "neutral");
        assert_eq!(
            span_text(&r[1]),
            Some("Bernie Sanders"),
            "longest at the same start"
        );
        assert_eq!(r[1].id, "m.csv:1:1");
        let r = parse_multitarget(text, "p", "m.csv", Split::Dev).unwrap();
        assert_eq!((span_text(&r[0]), span_text(&r[1])), (None, Some("Cruz")));

        // The multi-line record takes lines 2-3, so the third record is on line 5.
        let err =
            parse_multitarget(&text.replace(",Dev", ",Val"), "p", "m", Split::Dev).unwrap_err();
        assert!(matches!(err, DataError::Format { line: 5, .. }), "{err}");
        let err =
            parse_multitarget(&text.replace("NONE", "NEUTRAL"), "p", "m", Split::Dev).unwrap_err();
        assert!(matches!(err, DataError::Format { line: 4, .. }), "{err}");
        let err = parse_multitarget(&text.replace(",Dev", ""), "p", "m", Split::Dev).unwrap_err();
        assert!(err.to_string().starts_with("p:5:"), "{err}");
        let err =
            parse_multitarget(&text.replace("Tweet,", "Text,"), "p", "m", Split::Dev).unwrap_err();
        assert!(matches!(err, DataError::Format { line: 1, .. }), "{err}");
    }

    #[test]
    fn ibm_claim_target_spans_labels_and_split() {
        let header = "topicId,split,claims.claimCorrectedText,claims.claimTarget.text,\
            claims.claimTarget.span.start,claims.claimTarget.span.end,claims.claimSentiment\n";
        let mut rows = String::new();
        // Train rows 0..=9 (row 8 is dev); "é" makes char and byte offsets differ.
        for k in 0..10 {
            rows.push_str(&format!("1,train,Café {k} is good,Café {k},0,6,1\n"));
        }
        rows.push_str("1,test,\"Bad, the Plan is\",the plan,5,13,-1\n");
        rows.push_str("1,test,Rébus: plan X helps,Plan X,0,6,1\n");
        rows.push_str("1,test,No plan,Missing,,,-1\n");
        rows.push_str("1,test,No sentiment,x,,,\n");
        let text = format!("{header}{rows}");
        let train = parse_ibm(&text, "p", "c.csv", Split::Train).unwrap();
        assert_eq!(train.len(), 9);
        assert_eq!(span_text(&train[0]), Some("Café 0"));
        assert_eq!(train[0].span, Some((0, 7)));
        let dev = parse_ibm(&text, "p", "c.csv", Split::Dev).unwrap();
        assert_eq!((dev.len(), dev[0].id.as_str()), (1, "c.csv:8"));
        assert_eq!(dev[0].label, "positive");
        let test = parse_ibm(&text, "p", "c.csv", Split::Test).unwrap();
        assert_eq!(test.len(), 3, "the row without a sentiment is left out");
        // Given span, equal ignoring case.
        assert_eq!(span_text(&test[0]), Some("the Plan"));
        assert_eq!(test[0].label, "negative");
        // Wrong span: found by search instead.
        assert_eq!(span_text(&test[1]), Some("plan X"));
        assert_eq!(test[2].span, None);
        assert_eq!(test[2].id, "c.csv:12");

        let err = parse_ibm(&text.replace(",-1\n", ",0\n"), "p", "c", Split::Test).unwrap_err();
        assert!(matches!(err, DataError::Format { line: 12, .. }), "{err}");
        let err = parse_ibm(
            &text.replace("1,test,No", "1,dev,No"),
            "p",
            "c",
            Split::Test,
        )
        .unwrap_err();
        assert!(matches!(err, DataError::Format { line: 14, .. }), "{err}");
        let err = parse_ibm(
            &text.replace("claims.claimSentiment", "s"),
            "p",
            "c",
            Split::Test,
        )
        .unwrap_err();
        assert!(err.to_string().contains("claims.claimSentiment"), "{err}");
    }

    fn persent_csv(rows: &[(&str, &str, &str)]) -> String {
        let mut s = String::from(
            "DOCUMENT_INDEX,TITLE,TARGET_ENTITY,DOCUMENT,MASKED_DOCUMENT,TRUE_SENTIMENT",
        );
        for k in 0..16 {
            s.push_str(&format!(",Paragraph{k}"));
        }
        s.push('\n');
        for (i, (entity, label, p1)) in rows.iter().enumerate() {
            s.push_str(&format!(
                "{},T{i},{entity},\"{entity} won.\n \"\"Good\"\", he said.\",\"[TGT] won.\",{label},,{p1}{}\n",
                100 + i,
                ",".repeat(14)
            ));
        }
        s
    }

    #[test]
    fn persent_parsing_multiline_labels_split_and_errors() {
        let rows: Vec<(&str, &str, &str)> = (0..10)
            .map(|i| match i {
                8 => ("Ann Lee", "Negative", "Positive"),
                _ => ("Bo", "Neutral", ""),
            })
            .collect();
        let text = persent_csv(&rows);
        let dev = parse_persent(&text, "p", Split::Dev).unwrap();
        assert_eq!(dev.len(), 1);
        let d = &dev[0];
        assert_eq!((d.id.as_str(), d.title.as_str()), ("108", "T8"));
        assert_eq!(d.text, "Ann Lee won.\n \"Good\", he said.");
        assert_eq!(
            (d.entity.as_str(), d.masked.as_str()),
            ("Ann Lee", "[TGT] won.")
        );
        assert_eq!(d.label, "negative");
        assert_eq!(d.paragraph_labels.len(), 16);
        assert_eq!(d.paragraph_labels[0], None);
        assert_eq!(d.paragraph_labels[1].as_deref(), Some("positive"));
        assert_eq!(parse_persent(&text, "p", Split::Train).unwrap().len(), 8);
        assert_eq!(
            parse_persent(&text, "p", Split::Test).unwrap()[0].label,
            "neutral"
        );

        // Each record takes two lines: record 3 starts on line 8.
        let mut bad = rows.clone();
        bad[3].1 = "Mixed";
        let err = parse_persent(&persent_csv(&bad), "p", Split::Dev).unwrap_err();
        assert!(matches!(err, DataError::Format { line: 8, .. }), "{err}");
        let mut bad = rows.clone();
        bad[2].2 = "positive";
        let err = parse_persent(&persent_csv(&bad), "p", Split::Dev).unwrap_err();
        assert!(err.to_string().contains("Paragraph1"), "{err}");
        let err = parse_persent(&text.replace("TITLE", "HEADLINE"), "p", Split::Dev).unwrap_err();
        assert!(matches!(err, DataError::Format { line: 1, .. }), "{err}");
        let err = parse_persent(&format!("{text}1,\"open"), "p", Split::Dev).unwrap_err();
        assert!(matches!(err, DataError::Format { .. }), "{err}");
    }

    // ------------------------------------------------ stance sets, real files

    /// (total, negative, neutral, positive, with a span); checks every span
    /// slices to the target (ignoring case) or, for `name_forms`, to one of
    /// the spellings.
    fn stance_dist(r: &[StanceExample], name_forms: bool) -> (usize, usize, usize, usize, usize) {
        let (n, neg, neu, pos) = dist(r.iter().map(|x| x.label.as_str()));
        for x in r {
            let Some(s) = span_text(x) else { continue };
            let forms = if name_forms {
                name_spellings(&x.target)
            } else {
                vec![x.target.clone()]
            };
            let norm = |t: &str| {
                t.split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
                    .to_lowercase()
            };
            assert!(
                forms.iter().any(|f| norm(f) == norm(s)),
                "{}: span {s:?} is not {:?}",
                x.id,
                x.target
            );
        }
        (
            n,
            neg,
            neu,
            pos,
            r.iter().filter(|x| x.span.is_some()).count(),
        )
    }

    #[test]
    fn vast_counts_and_spans_vs_contains_topic() {
        let Some(dir) = data_dir() else { return };
        // (file, (total, negative, neutral, positive, with a span),
        //  [(contains_topic, has span) -> count]); verified independently
        // (Python, a `(?<!\w)...(?!\w)` case-insensitive regex).
        for (file, want, cross) in [
            (
                "train.jsonl",
                (13477, 5595, 2555, 5327, 3576),
                [8221, 2, 1680, 3574],
            ),
            ("dev.jsonl", (2062, 684, 697, 681, 336), [0, 0, 0, 0]),
            (
                "test.jsonl",
                (3006, 1018, 1044, 944, 545),
                [2245, 1, 216, 544],
            ),
        ] {
            let path = dir.join("vast").join(file);
            let r = vast(&path).unwrap();
            assert_eq!(stance_dist(&r, false), want, "{file}");
            let raw: Vec<serde_json::Value> = std::fs::read_to_string(&path)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            let mut got = [0; 4];
            for (x, v) in r.iter().zip(&raw) {
                assert_eq!(x.target, v["topic"].as_str().unwrap());
                if let Some(c) = v.get("contains_topic").and_then(|c| c.as_bool()) {
                    got[usize::from(c) * 2 + usize::from(x.span.is_some())] += 1;
                }
            }
            // [no flag & no span, no flag & span, flag & no span, flag & span]
            assert_eq!(got, cross, "{file}");
            eprintln!(
                "VAST {file}: {} with a whole-word span; contains_topic x span: {got:?}",
                want.4
            );
        }
    }

    #[test]
    fn semeval2016_counts_per_split() {
        let Some(dir) = data_dir() else { return };
        let dir = dir.join("semeval2016");
        for (split, want) in [
            (Split::Train, (2633, 1259, 699, 675, 26)),
            (Split::Dev, (281, 136, 67, 78, 3)),
            (Split::Test, (1249, 715, 230, 304, 12)),
        ] {
            let r = semeval2016(&dir, split).unwrap();
            assert_eq!(stance_dist(&r, false), want, "{split}");
            assert!(r.iter().all(|x| !x.text.contains("#SemST")));
        }
        let dev = semeval2016(&dir, Split::Dev).unwrap();
        assert!(dev.iter().all(|x| record_index(&x.id) % 10 == 8));
        let train = semeval2016(&dir, Split::Train).unwrap();
        let trial = train
            .iter()
            .filter(|x| x.id.starts_with("trialdata-"))
            .count();
        assert_eq!(trial, 100);
        // Latin-1: the training file has bytes above 0x7F (record 9, ID 110).
        let x = &train[8];
        assert_eq!(x.id, "trainingdata-all-annotations.txt:9");
        assert!(x.text.contains("\u{cd}\u{a2}"), "{}", x.text);
    }

    #[test]
    fn multitarget_counts_per_split() {
        let Some(dir) = data_dir() else { return };
        let file = dir.join("multitarget/multi_target_stance.csv");
        let mut tweets = 0;
        for (split, n_tweets, want) in [
            (Split::Train, 3119, (6238, 2571, 1380, 2287, 2228)),
            (Split::Dev, 446, (892, 383, 203, 306, 308)),
            (Split::Test, 890, (1780, 745, 481, 554, 615)),
        ] {
            let r = multitarget(&file, split).unwrap();
            assert_eq!(stance_dist(&r, true), want, "{split}");
            let ids: HashSet<usize> = r.iter().map(|x| record_index(&x.id)).collect();
            assert_eq!((ids.len(), r.len()), (n_tweets, 2 * n_tweets), "{split}");
            tweets += ids.len();
        }
        assert_eq!(tweets, 4455);
    }

    #[test]
    fn ibm_claim_stance_counts_per_split() {
        let Some(dir) = data_dir() else { return };
        let file = dir.join("ibm_claim_stance/claim_stance_dataset_v1.csv");
        // 1,035 train rows (65 without a sentiment), 1,351 test rows (68).
        for (split, want) in [
            (Split::Train, (871, 467, 0, 404, 871)),
            (Split::Dev, (99, 49, 0, 50, 99)),
            (Split::Test, (1283, 720, 0, 563, 1283)),
        ] {
            let r = ibm_claim_stance(&file, split).unwrap();
            assert_eq!(stance_dist(&r, false), want, "{split}");
        }
        // Non-ASCII before the target: byte and char offsets differ.
        let all: Vec<StanceExample> = [Split::Train, Split::Dev, Split::Test]
            .into_iter()
            .flat_map(|s| ibm_claim_stance(&file, s).unwrap())
            .collect();
        let shifted = all
            .iter()
            .filter(|x| !x.text[..x.span.unwrap().0].is_ascii())
            .count();
        assert_eq!(shifted, 3);
    }

    #[test]
    fn persent_counts_per_split() {
        let Some(dir) = data_dir() else { return };
        let file = dir.join("persent/dev.csv");
        let mut total = 0;
        for (split, want, paragraphs) in [
            (Split::Train, (464, 50, 178, 236), 3357),
            (Split::Dev, (57, 3, 15, 39), 368),
            (Split::Test, (57, 5, 23, 29), 444),
        ] {
            let r = persent(&file, split).unwrap();
            assert_eq!(dist(r.iter().map(|d| d.label.as_str())), want, "{split}");
            let labeled = r
                .iter()
                .flat_map(|d| &d.paragraph_labels)
                .filter(|l| l.is_some())
                .count();
            assert_eq!(labeled, paragraphs, "{split}");
            total += r.len();
        }
        assert_eq!(total, 578);
        let dev = persent(&file, Split::Dev).unwrap();
        assert_eq!(
            (
                dev[0].id.as_str(),
                dev[0].entity.as_str(),
                dev[0].label.as_str()
            ),
            ("3368", "Alex Ovechkin", "positive")
        );
        // Not every article has the entity masked (e.g. this one).
        assert!(!dev[0].masked.contains("[TGT]") && dev[0].masked.contains("Ovechkin"));
        let masked = [Split::Train, Split::Dev, Split::Test]
            .into_iter()
            .flat_map(|s| persent(&file, s).unwrap())
            .filter(|d| d.masked.contains("[TGT]"))
            .count();
        assert_eq!(masked, 547);
    }

    #[test]
    fn perspectrum_pairs_labels_split_and_errors() {
        let claims = r#"[{"cId": 1, "text": "School uniforms", "source": "x", "perspectives": [
            {"pids": [10, 11], "stance_label_3": "SUPPORT", "evidence": []},
            {"pids": [12], "stance_label_3": "UNDERMINE"}]},
            {"cId": 2, "text": "Tax", "perspectives": [{"pids": [13], "stance_label_3": "SUPPORT"}]}]"#;
        let split = r#"{"1": "dev", "2": "test"}"#;
        let pool = r#"[{"pId": 10, "text": "school uniforms save money"},
            {"pId": 11, "text": "They save money"}, {"pId": 12, "text": "Bad"},
            {"pId": 13, "text": "Fair", "source": "y"}]"#;
        let run = |c: &str, s: &str, p: &str, split| {
            parse_perspectrum([(c, "c"), (s, "s"), (p, "p")], split)
        };
        let dev = run(claims, split, pool, Split::Dev).unwrap();
        assert_eq!(dev.len(), 3);
        assert_eq!(dev[0].id, "perspectrum:1:10");
        assert_eq!(span_text(&dev[0]), Some("school uniforms"));
        assert_eq!(
            (dev[1].span, dev[1].target.as_str()),
            (None, "School uniforms")
        );
        let labels: Vec<&str> = dev.iter().map(|x| x.label.as_str()).collect();
        assert_eq!(labels, ["positive", "positive", "negative"]);
        assert_eq!(run(claims, split, pool, Split::Test).unwrap().len(), 1);
        assert!(run(claims, split, pool, Split::Train).unwrap().is_empty());

        let err = run(claims, r#"{"1": "dev"}"#, pool, Split::Dev).unwrap_err();
        assert!(err.to_string().contains("claim 2"), "{err}");
        let err = run(
            &claims.replace("UNDERMINE", "NEUTRAL"),
            split,
            pool,
            Split::Dev,
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("c:0:"), "{err}");
        let err = run(claims, split, &pool.replace("13", "14"), Split::Dev).unwrap_err();
        assert!(err.to_string().contains("perspective 13"), "{err}");
        let err = run(claims, split, "[\n{\"pId\": 1}]", Split::Dev).unwrap_err();
        assert!(matches!(err, DataError::Format { line: 2, .. }), "{err}");
    }

    #[test]
    fn perspectrum_counts_per_split() {
        let Some(dir) = data_dir() else { return };
        let dir = dir.join("perspectrum");
        let mut total = 0;
        for (split, claims, want) in [
            (Split::Train, 541, (6978, 3379, 0, 3599, 7)),
            (Split::Dev, 139, (2071, 1024, 0, 1047, 4)),
            (Split::Test, 227, (2773, 1302, 0, 1471, 6)),
        ] {
            let r = perspectrum(&dir, split).unwrap();
            let got = stance_dist(&r, false);
            assert_eq!(got, want, "{split}");
            let n = got.0;
            let ids: HashSet<&str> = r.iter().map(|x| x.id.rsplit_once(':').unwrap().0).collect();
            assert_eq!(ids.len(), claims, "{split}");
            total += n;
        }
        assert_eq!(total, 11822);
    }

    #[test]
    fn finer_ord_rows_become_sentences_with_spans() {
        let csv = "gold_label,gold_token,doc_idx,sent_idx\n\
                   5,Kenya,0,0\n6,Association,0,0\n0,(,0,0\n5,KAM,0,0\n0,),0,0\n0,'s,0,0\n\
                   1,Obama,0,0\n2,Otuki,0,0\n6,Bank,0,0\n0,.,0,0\n\
                   3,Africa,0,1\n0,$,0,1\n0,5,0,1\n";
        let s = parse_finer_ord(csv, "f").unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].text, "Kenya Association (KAM)'s Obama Otuki Bank.");
        let names: Vec<(&str, usize)> = s[0]
            .entities
            .iter()
            .map(|&(a, b, t)| (&s[0].text[a..b], t))
            .collect();
        assert_eq!(
            names,
            vec![
                ("Kenya Association", 2),
                ("KAM", 2),
                ("Obama Otuki", 0),
                ("Bank", 2)
            ]
        );
        assert_eq!(s[1].text, "Africa $5");
        assert_eq!(s[1].entities, vec![(0, 6, 1)]);
        let err =
            parse_finer_ord("gold_label,gold_token,doc_idx,sent_idx\n9,x,0,0\n", "f").unwrap_err();
        assert!(err.to_string().starts_with("f:2:"), "{err}");
    }
}
