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
/// train part ([`crate::persent::mentions`]), its label left unread.
fn persent_mentions(file: &std::path::Path) -> Result<Vec<StanceExample>, String> {
    Ok(crate::persent::mentions(file, Split::Train)?
        .into_iter()
        .map(|(e, _)| StanceExample {
            label: UNLABELED.into(),
            ..e
        })
        .collect())
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
