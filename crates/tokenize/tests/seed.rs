//! The seed document: headings, sentence counts and mention counts, checked
//! against numbers counted by hand (sentences) and with a regex (mentions).

mod common;

use common::{seed_companies, sentences, SEED, SEED_MENTIONS};
use stancepipe_core::SentenceKind;
use stancepipe_tokenize::{segment, MentionFinder};

fn texts(kind: SentenceKind) -> Vec<&'static str> {
    segment(SEED)
        .into_iter()
        .filter(|(_, k)| *k == kind)
        .map(|(s, _)| &SEED[s.start..s.end])
        .collect()
}

#[test]
fn headings_are_the_dateline_and_section_titles() {
    assert_eq!(
        texts(SentenceKind::Heading),
        vec!["12/24 2024 417", "I", "II", "III", "Conclusion"]
    );
}

#[test]
fn content_sentence_count() {
    // 57 content lines; three of them hold more than one sentence
    // ("On December 23, ..." 3, "While WeChat steadfastly ..." 2,
    // "Ultimately, for Alipay to maintain ..." 2): 57 + 2 + 1 + 1.
    let content = texts(SentenceKind::Content);
    assert_eq!(content.len(), 61);
    assert_eq!(segment(SEED).len(), 66);
    // Every content sentence of the seed ends with terminal punctuation.
    for s in &content {
        assert!(s.ends_with(['.', '?']), "{s:?}");
    }
}

#[test]
fn headings_separate_their_neighbours() {
    let all: Vec<(&str, SentenceKind)> = segment(SEED)
        .into_iter()
        .map(|(s, k)| (&SEED[s.start..s.end], k))
        .collect();
    let i = all.iter().position(|(t, _)| *t == "I").unwrap();
    assert_eq!(
        all[i - 1],
        (
            "It is evident: Alipay's refusal to emulate WeChat's success formula dooms it to repeated failures.",
            SentenceKind::Content
        )
    );
    assert_eq!(
        all[i + 1],
        (
            "Since its inception, Alipay has been the final piece of Alibaba's e-commerce ecosystem puzzle.",
            SentenceKind::Content
        )
    );
    assert_eq!(all[0], ("12/24 2024 417", SentenceKind::Heading));
    assert!(all[1].0.starts_with("In 2018, WeChat's founder"));
    let c = all.iter().position(|(t, _)| *t == "Conclusion").unwrap();
    assert!(all[c - 1].0.starts_with("Conversely, if Alipay ceases"));
    assert!(all[c + 1]
        .0
        .starts_with("Ultimately, Alipay's core identity"));
}

#[test]
fn december_paragraph_holds_three_sentences() {
    let all: Vec<&str> = segment(SEED)
        .into_iter()
        .map(|(s, _)| &SEED[s.start..s.end])
        .collect();
    let i = all
        .iter()
        .position(|t| t.starts_with("On December 23, Ant Group issued"))
        .unwrap();
    assert!(all[i].ends_with("AI-First strategies."));
    assert!(all[i + 1].starts_with("These include forming"));
    assert!(all[i + 1].ends_with("commercialization processes."));
    assert_eq!(
        all[i + 2],
        "Both groups will implement a rotating president system."
    );
    assert!(all[i + 3].starts_with("Summarizing this restructuring"));
}

#[test]
fn seed_mention_counts() {
    let sents = sentences(SEED);
    let entities = MentionFinder::new(&seed_companies())
        .unwrap()
        .find(SEED, &sents);
    let counts: Vec<(&str, usize)> = entities
        .iter()
        .map(|e| (e.company.as_str(), e.mentions.len()))
        .collect();
    assert_eq!(counts, SEED_MENTIONS);
    let wechat = &entities[1];
    let pay = wechat
        .mentions
        .iter()
        .filter(|m| m.alias == "WeChat Pay")
        .count();
    assert_eq!(pay, 3);
    for e in &entities {
        for m in &e.mentions {
            assert!(sents[m.sentence].span.contains(m.span));
            assert_eq!(&SEED[m.span.start..m.span.end], m.alias);
        }
    }
    // The one "Ant Group" mention is in the December sentence.
    let ant = &entities[3].mentions[0];
    assert!(SEED[sents[ant.sentence].span.start..].starts_with("On December 23"));
}

#[test]
fn five_megabyte_document_scales() {
    let k = 5_000_000 / SEED.len() + 1;
    let text = vec![SEED; k].join("\n\n");
    assert!(text.len() >= 5_000_000);
    let spans = segment(&text);
    assert_eq!(spans.len(), k * 66);
    let headings = spans
        .iter()
        .filter(|(_, kind)| *kind == SentenceKind::Heading)
        .count();
    assert_eq!(headings, k * 5);
    let sents = sentences(&text);
    let entities = MentionFinder::new(&seed_companies())
        .unwrap()
        .find(&text, &sents);
    for (e, (name, n)) in entities.iter().zip(SEED_MENTIONS) {
        assert_eq!(e.company, name);
        assert_eq!(e.mentions.len(), k * n, "{name}");
    }
}
