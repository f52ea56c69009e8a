//! The user's own labels as training data: the gold JSONL format that
//! `stancepipe eval` reads (`docs/evaluation.md`, [`stancepipe_eval::gold`]).
//!
//! - **Sentence labels** (`sentences[]`: byte span and `positive` /
//!   `negative` / `neutral`) train the sentence head: the span's text is one
//!   labeled sentence.
//! - **Entity stances** (`entities[]` with `stance`) train the target head:
//!   the text is cut into sentences as the tokenize stage cuts it, the
//!   entity's name and aliases are found as the tokenize stage finds them
//!   ([`MentionFinder`]), and every content sentence that names the entity
//!   becomes one example per mention, labeled with the entity's stance
//!   (favor → positive, against → negative, none → neutral). A document's
//!   stance is thus given to each sentence that names the entity. Entities
//!   never found in their text are left out and counted.
//!
//! Split (by document, so that no document is in two parts): the project's
//! rule on the record index, index % 10 == 8 dev, == 9 test, else train; or,
//! with a separate dev file, every record of the file trains and the dev
//! file's records are the dev part (no test part).

use crate::LABELS;
use serde_json::json;
use stancepipe_core::{Company, Sentence, SentenceKind};
use stancepipe_eval::datasets::{LabeledText, Split, StanceExample};
use stancepipe_eval::gold::{read_gold, GoldDoc};
use stancepipe_tokenize::{segment, MentionFinder};
use std::path::Path;

/// One part (train, dev or test) of the user's data.
#[derive(Debug, Clone, Default)]
pub struct Part {
    /// Labeled sentences (for the sentence head).
    pub sentences: Vec<LabeledText>,
    /// Labeled mentions (for the target head), one per mention.
    pub targets: Vec<StanceExample>,
    /// Gold documents in this part.
    pub documents: usize,
    /// Entities with a stance that were never found in their text.
    pub entities_not_found: usize,
}

/// The user's labeled data, split.
#[derive(Debug, Clone)]
pub struct UserData {
    /// The gold file, as given.
    pub file: String,
    /// The dev file, when given.
    pub dev_file: Option<String>,
    pub train: Part,
    pub dev: Part,
    pub test: Part,
}

impl UserData {
    /// Reads `gold` (a gold JSONL file, or a folder with `gold.jsonl`) and
    /// splits it by the rule, or takes the dev part from `dev`.
    pub fn read(gold: &Path, dev: Option<&Path>) -> Result<UserData, String> {
        let docs = read_gold(gold).map_err(|e| e.to_string())?;
        let mut data = UserData {
            file: gold.display().to_string(),
            dev_file: dev.map(|d| d.display().to_string()),
            train: Part::default(),
            dev: Part::default(),
            test: Part::default(),
        };
        match dev {
            Some(d) => {
                for doc in &docs {
                    add(&mut data.train, doc)?;
                }
                for doc in &read_gold(d).map_err(|e| e.to_string())? {
                    add(&mut data.dev, doc)?;
                }
            }
            None => {
                for (i, doc) in docs.iter().enumerate() {
                    let part = match split_of(i) {
                        Split::Train => &mut data.train,
                        Split::Dev => &mut data.dev,
                        Split::Test => &mut data.test,
                    };
                    add(part, doc)?;
                }
            }
        }
        let labeled = |p: &Part| p.sentences.len() + p.targets.len();
        if labeled(&data.train) == 0 {
            return Err(format!(
                "{}: no labeled sentence or entity mention to train on",
                data.file
            ));
        }
        if labeled(&data.dev) == 0 {
            return Err(format!(
                "{}: the dev part (records whose index % 10 == 8) has no labeled sentence or entity mention; give a dev file with --dev",
                data.dev_file.as_deref().unwrap_or(&data.file)
            ));
        }
        Ok(data)
    }

    /// What the manifest records about this data.
    pub fn describe(&self) -> serde_json::Value {
        let part = |p: &Part| {
            json!({"documents": p.documents, "sentences": p.sentences.len(),
                   "mentions": p.targets.len(), "entities_not_found": p.entities_not_found})
        };
        json!({
            "file": self.file,
            "dev_file": self.dev_file,
            "split": match &self.dev_file {
                Some(_) => "every record of the file trains; the dev file is the dev part; no test part",
                None => "by record index: index % 10 == 8 dev, == 9 test, else train",
            },
            "train": part(&self.train), "dev": part(&self.dev), "test": part(&self.test),
            "note": "sentence labels train the sentence head; each content sentence naming an entity with a stance gives one example per mention, labeled with that stance (favor -> positive, against -> negative, none -> neutral)",
        })
    }
}

/// The project's split rule on a record index.
fn split_of(index: usize) -> Split {
    match index % 10 {
        9 => Split::Test,
        8 => Split::Dev,
        _ => Split::Train,
    }
}

/// Adds one gold document's labeled sentences and mentions to `part`.
fn add(part: &mut Part, doc: &GoldDoc) -> Result<(), String> {
    let text = doc.text.as_deref().unwrap_or("");
    part.documents += 1;
    for (k, s) in doc.sentences.iter().enumerate() {
        let piece = (s.start <= s.end)
            .then(|| text.get(s.start..s.end))
            .flatten()
            .ok_or_else(|| {
                format!(
                    "document {:?}: sentence {k}: {}..{} is not a span of its text (byte offsets on character boundaries)",
                    doc.id, s.start, s.end
                )
            })?;
        if !LABELS.contains(&s.label.as_str()) {
            return Err(format!(
                "document {:?}: sentence {k}: label {:?} (training needs positive, negative or neutral)",
                doc.id, s.label
            ));
        }
        part.sentences.push(LabeledText {
            id: format!("{}:s{k}", doc.id),
            text: piece.trim().to_string(),
            label: s.label.clone(),
        });
    }
    let labeled: Vec<_> = doc.entities.iter().filter(|e| e.stance.is_some()).collect();
    if labeled.is_empty() {
        return Ok(());
    }
    // Sentences and mentions as the tokenize stage finds them.
    let sentences: Vec<Sentence> = segment(text)
        .into_iter()
        .map(|(span, kind)| Sentence::new(span, kind))
        .collect();
    let companies: Vec<Company> = labeled
        .iter()
        .map(|e| Company {
            name: e.name.clone(),
            aliases: e.aliases.clone(),
            ..Company::default()
        })
        .collect();
    let finder = MentionFinder::new(&companies).map_err(|e| e.to_string())?;
    for (entity, gold) in finder.find(text, &sentences).iter().zip(&labeled) {
        let label = match gold.stance {
            Some(stancepipe_core::StanceLabel::Favor) => "positive",
            Some(stancepipe_core::StanceLabel::Against) => "negative",
            _ => "neutral",
        };
        let mut found = false;
        for m in &entity.mentions {
            let s = &sentences[m.sentence];
            if s.kind != SentenceKind::Content {
                continue;
            }
            found = true;
            let (start, end) = (m.span.start - s.span.start, m.span.end - s.span.start);
            let sentence = &text[s.span.start..s.span.end];
            part.targets.push(StanceExample {
                id: format!("{}:{}:{}", doc.id, gold.name, m.sentence),
                text: sentence.to_string(),
                target: sentence[start..end].to_string(),
                span: Some((start, end)),
                label: label.to_string(),
            });
        }
        if !found {
            part.entities_not_found += 1;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, lines: &[serde_json::Value]) -> std::path::PathBuf {
        let p = dir.join(name);
        let text: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        std::fs::write(&p, text.join("\n")).unwrap();
        p
    }

    fn doc(i: usize) -> serde_json::Value {
        json!({"id": format!("d{i}"),
               "text": "Acme Corp beat forecasts. Rivals lagged. Acme's shares rose.",
               "entities": [{"name": "Acme", "aliases": ["Acme Corp"], "stance": "favor"},
                            {"name": "Globex", "stance": "against"}],
               "sentences": [{"start": 0, "end": 8, "label": "positive"}]})
    }

    #[test]
    fn mentions_become_sentence_examples_split_by_record() {
        let dir = tempfile::tempdir().unwrap();
        let docs: Vec<_> = (0..10).map(doc).collect();
        let gold = write(dir.path(), "gold.jsonl", &docs);
        let data = UserData::read(&gold, None).unwrap();
        assert_eq!(
            (
                data.train.documents,
                data.dev.documents,
                data.test.documents
            ),
            (8, 1, 1)
        );
        // Two mentions of Acme per document ("Acme Corp", "Acme"), each in
        // its own sentence; Globex is never named.
        assert_eq!(data.train.targets.len(), 16);
        assert_eq!(data.train.entities_not_found, 8);
        let t = &data.dev.targets[0];
        assert_eq!(t.text, "Acme Corp beat forecasts.");
        assert_eq!(t.target, "Acme Corp");
        assert_eq!(t.span, Some((0, 9)));
        assert_eq!(t.label, "positive");
        let t = &data.dev.targets[1];
        assert_eq!(t.text, "Acme's shares rose.");
        assert_eq!(&t.text[t.span.unwrap().0..t.span.unwrap().1], "Acme");
        assert_eq!(data.test.sentences[0].text, "Acme Cor");
        assert_eq!(data.test.sentences[0].label, "positive");
    }

    #[test]
    fn too_few_records_need_a_dev_file_and_bad_labels_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let gold = write(dir.path(), "g.jsonl", &[doc(0), doc(1)]);
        let e = UserData::read(&gold, None).unwrap_err();
        assert!(e.contains("--dev"), "{e}");
        let dev = write(dir.path(), "dev.jsonl", &[doc(2)]);
        let data = UserData::read(&gold, Some(&dev)).unwrap();
        assert_eq!((data.train.documents, data.dev.documents), (2, 1));
        assert_eq!(data.test.documents, 0);
        let bad = write(
            dir.path(),
            "bad.jsonl",
            &[
                json!({"id": "x", "text": "Fine.", "sentences": [{"start": 0, "end": 5, "label": "favor"}]}),
            ],
        );
        let e = UserData::read(&bad, Some(&dev)).unwrap_err();
        assert!(e.contains("\"x\"") && e.contains("favor"), "{e}");
    }
}
