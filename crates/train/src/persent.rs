//! PerSenT's articles as mention examples: every name mention of an
//! article's main entity in a content sentence (found by the tokenize stage
//! as `eval` finds them), with the label of the paragraph it stands in
//! (`Paragraph0..15`: the author's sentiment toward the entity there).
//!
//! Labeled, they are the `persent` source of `train stance`
//! (`--stance-sources ...,persent`): news prose and the author's view, the
//! kind of text the product is scored on. Unlabeled, the train part's
//! mentions are half of the transfer set ([`crate::transfer`]).

use crate::document::{persent_part, unread};
use stancepipe_core::{Doc, SentenceKind};
use stancepipe_eval::datasets::{self, StanceExample};
use stancepipe_eval::Split;
use std::collections::HashMap;
use std::path::Path;

/// A name mention of `split`'s articles and its paragraph's label (`None`
/// in the headline or in a paragraph without one), in file order.
pub fn mentions(file: &Path, split: Split) -> Result<Vec<(StanceExample, Option<String>)>, String> {
    let (gold, tokenize) =
        persent_part(file, split, &stancepipe_tokenize::TokenizeConfig::default())?;
    let raw: HashMap<String, datasets::PersentDoc> = datasets::persent(file, split)
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|d| (format!("persent:{}", d.id), d))
        .collect();
    let mut docs: Vec<Doc> = gold.iter().map(unread).collect();
    tokenize.process(&mut docs).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for doc in &docs {
        let article = raw.get(&doc.id);
        for (start, e) in doc_mentions(doc) {
            let label = article.and_then(|a| paragraph_label(&doc.text, a, start));
            out.push((e, label));
        }
    }
    Ok(out)
}

/// The label of the paragraph holding byte `start` of `text`, the article's
/// text as the pipeline reads it (the headline, a blank line, then the
/// paragraphs of `DOCUMENT`, one a line, so `DOCUMENT` is its suffix).
fn paragraph_label(text: &str, article: &datasets::PersentDoc, start: usize) -> Option<String> {
    let body = text.len().checked_sub(article.text.len())?;
    let within = start.checked_sub(body)?;
    let k = article.text.get(..within)?.matches('\n').count();
    article.paragraph_labels.get(k).cloned().flatten()
}

/// One example per name mention of `doc` in a content sentence (references
/// are left out: about half of them are wrong), with the mention's byte
/// start in the document: the sentence's text, the mention's span inside it.
fn doc_mentions(doc: &Doc) -> Vec<(usize, StanceExample)> {
    let mut out = Vec::new();
    for e in &doc.entities {
        for m in e.mentions.iter().filter(|m| !m.reference) {
            let Some(s) = doc.sentences.get(m.sentence) else {
                continue;
            };
            if s.kind != SentenceKind::Content || m.span.start < s.span.start {
                continue;
            }
            out.push((
                m.span.start,
                StanceExample {
                    id: format!("{}:{}:{}", doc.id, m.sentence, m.span.start),
                    text: doc.text[s.span.start..s.span.end].to_string(),
                    target: doc.text[m.span.start..m.span.end].to_string(),
                    span: Some((m.span.start - s.span.start, m.span.end - s.span.start)),
                    label: String::new(),
                },
            ));
        }
    }
    out
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
        let (start, e) = &got[1];
        assert_eq!(*start, 16);
        assert_eq!(e.text, "Then Acme rose, it said.");
        let (a, b) = e.span.unwrap();
        assert_eq!(&e.text[a..b], "Acme");
    }

    #[test]
    fn a_mention_takes_its_paragraphs_label() {
        let article = datasets::PersentDoc {
            id: "1".into(),
            title: "Acme news".into(),
            entity: "Acme".into(),
            text: "Acme rose.\n Acme fell.\n Acme waits.".into(),
            masked: String::new(),
            label: "neutral".into(),
            paragraph_labels: vec![Some("positive".into()), Some("negative".into()), None],
        };
        let text = format!("{}\n\n{}", article.title, article.text);
        let at = |needle: &str| text.find(needle).unwrap();
        let label = |start| paragraph_label(&text, &article, start);
        assert_eq!(label(0), None, "the headline has no paragraph");
        assert_eq!(label(at("Acme rose")).as_deref(), Some("positive"));
        assert_eq!(label(at("Acme fell")).as_deref(), Some("negative"));
        assert_eq!(label(at("Acme waits")), None, "an unlabeled paragraph");
    }
}
