//! Unlabeled entity mentions in news (`train stance --transfer`): a
//! transfer set on which a teacher is distilled beyond the labeled
//! sentences. A teacher's readings of its own training examples are close to
//! their gold labels and carry little of what it knows; on text it was not
//! trained on they carry more.
//!
//! Two sources, their labels never read: the mentions of the tracked
//! entities in PerSenT's train part (found as `eval` finds them: the
//! tokenize stage with each article's main entity as a company), and the
//! organizations of FiNER-ORD's train part.

use crate::DataDir;
use stancepipe_core::{Doc, SentenceKind};
use stancepipe_eval::datasets::{self, StanceExample, TaggedSentence, FINER_TYPES};
use stancepipe_eval::Split;

/// The label the transfer examples carry; the teacher's aim replaces it.
const UNLABELED: &str = "neutral";

/// The transfer set: PerSenT's then FiNER-ORD's mentions, in file order.
pub fn news_mentions(data: &DataDir) -> Result<Vec<StanceExample>, String> {
    let mut out = persent_mentions(&data.file("persent/dev.csv")?)?;
    let finer =
        datasets::finer_ord(&data.file("finer_ord/train.csv")?).map_err(|e| e.to_string())?;
    out.extend(organizations(&finer));
    Ok(out)
}

/// Every name mention of a tracked entity in a content sentence of PerSenT's
/// train part (references are left out: half of them are wrong).
fn persent_mentions(file: &std::path::Path) -> Result<Vec<StanceExample>, String> {
    let (gold, tokenize) = crate::document::persent_part(
        file,
        Split::Train,
        &stancepipe_tokenize::TokenizeConfig::default(),
    )?;
    let mut docs: Vec<Doc> = gold.iter().map(crate::document::unread).collect();
    tokenize.process(&mut docs).map_err(|e| e.to_string())?;
    Ok(docs.iter().flat_map(doc_mentions).collect())
}

/// One example per name mention of `doc` in a content sentence: the
/// sentence's text, the mention's span inside it.
fn doc_mentions(doc: &Doc) -> Vec<StanceExample> {
    let mut out = Vec::new();
    for e in &doc.entities {
        for m in e.mentions.iter().filter(|m| !m.reference) {
            let Some(s) = doc.sentences.get(m.sentence) else {
                continue;
            };
            if s.kind != SentenceKind::Content || m.span.start < s.span.start {
                continue;
            }
            out.push(StanceExample {
                id: format!("{}:{}:{}", doc.id, m.sentence, m.span.start),
                text: doc.text[s.span.start..s.span.end].to_string(),
                target: doc.text[m.span.start..m.span.end].to_string(),
                span: Some((m.span.start - s.span.start, m.span.end - s.span.start)),
                label: UNLABELED.into(),
            });
        }
    }
    out
}

/// One example per organization of each sentence.
fn organizations(sentences: &[TaggedSentence]) -> Vec<StanceExample> {
    let org = FINER_TYPES.iter().position(|t| *t == "ORG");
    sentences
        .iter()
        .flat_map(|s| {
            s.entities
                .iter()
                .filter(move |(_, _, t)| Some(*t) == org)
                .map(move |&(start, end, _)| StanceExample {
                    id: format!("{}:{start}", s.id),
                    text: s.text.clone(),
                    target: s.text[start..end].to_string(),
                    span: Some((start, end)),
                    label: UNLABELED.into(),
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use stancepipe_core::{Entity, Mention, Span};

    #[test]
    fn mentions_are_cut_to_their_sentence() {
        let text = "Acme fell.\nThen Acme rose, it said.";
        let mut d = Doc::from_sentences(
            "d".to_string(),
            &[
                ("Acme fell.", SentenceKind::Content),
                ("Then Acme rose, it said.", SentenceKind::Content),
            ],
        );
        assert_eq!(d.text, text);
        let m = |start: usize, sentence: usize, reference: bool| Mention {
            span: Span::new(start, start + if reference { 2 } else { 4 }),
            sentence,
            alias: "Acme".into(),
            reference,
        };
        d.entities.push(Entity::new(
            "Acme",
            vec![m(0, 0, false), m(16, 1, false), m(27, 1, true)],
        ));
        let got = doc_mentions(&d);
        assert_eq!(got.len(), 2, "the reference is left out");
        assert_eq!(got[1].text, "Then Acme rose, it said.");
        let (a, b) = got[1].span.unwrap();
        assert_eq!(&got[1].text[a..b], "Acme");
    }

    #[test]
    fn only_organizations_are_taken() {
        let s = TaggedSentence {
            id: "0:0".into(),
            text: "Jane Doe left Acme Corp for Paris".into(),
            entities: vec![(0, 8, 0), (14, 23, 2), (28, 33, 1)],
        };
        let got = organizations(&[s]);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].target, "Acme Corp");
        assert_eq!(got[0].span, Some((14, 23)));
    }
}
