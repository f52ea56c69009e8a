//! Property tests: segmentation and mention finding never panic and always
//! return well-formed spans, on arbitrary text and on glued seed fragments.

mod common;

use common::{seed_companies, SEED};
use proptest::prelude::*;
use stancepipe_core::{Company, Entity, SentenceKind, Span};
use stancepipe_tokenize::{segment, MentionFinder, Segmenter};

/// In bounds, on char boundaries, non-empty, trimmed, ordered,
/// non-overlapping, and covering every non-whitespace char.
fn check_sentences(text: &str, spans: &[(Span, SentenceKind)]) -> Result<(), TestCaseError> {
    let mut prev_end = 0;
    for (s, _) in spans {
        prop_assert!(s.start < s.end && s.end <= text.len(), "{s:?}");
        prop_assert!(text.is_char_boundary(s.start) && text.is_char_boundary(s.end));
        prop_assert!(s.start >= prev_end, "overlap or disorder at {s:?}");
        let gap = &text[prev_end..s.start];
        prop_assert!(gap.trim().is_empty(), "uncovered text {gap:?}");
        let body = &text[s.start..s.end];
        prop_assert_eq!(body.trim(), body);
        prev_end = s.end;
    }
    prop_assert!(text[prev_end..].trim().is_empty());
    Ok(())
}

fn check_mentions(
    text: &str,
    spans: &[(Span, SentenceKind)],
    companies: &[Company],
    entities: &[Entity],
) -> Result<(), TestCaseError> {
    prop_assert_eq!(entities.len(), companies.len());
    let mut all: Vec<Span> = Vec::new();
    for (e, c) in entities.iter().zip(companies) {
        prop_assert_eq!(&e.company, &c.name);
        let mut prev = 0;
        for m in &e.mentions {
            prop_assert!(m.span.start < m.span.end && m.span.end <= text.len());
            prop_assert!(text.is_char_boundary(m.span.start) && text.is_char_boundary(m.span.end));
            prop_assert!(m.span.start >= prev);
            prev = m.span.end;
            prop_assert!(spans[m.sentence].0.contains(m.span));
            prop_assert!(text[m.span.start..m.span.end].eq_ignore_ascii_case(&m.alias));
            all.push(m.span);
        }
    }
    all.sort();
    for w in all.windows(2) {
        prop_assert!(w[0].end <= w[1].start, "overlapping mentions {w:?}");
    }
    Ok(())
}

fn run(text: &str) -> Result<(), TestCaseError> {
    let spans = segment(text);
    check_sentences(text, &spans)?;
    let sentences = common::sentences(text);
    let companies = seed_companies();
    let entities = MentionFinder::new(&companies)
        .unwrap()
        .find(text, &sentences);
    check_mentions(text, &spans, &companies, &entities)
}

/// Pieces of the seed, aliases and awkward punctuation.
fn fragment() -> impl Strategy<Value = String> {
    let lines: Vec<String> = SEED.lines().map(str::to_string).collect();
    let words: Vec<String> = SEED.split_whitespace().map(str::to_string).collect();
    let extras: Vec<String> = [
        "Alipay",
        "alipay",
        "Alipays",
        "WeChat",
        "WeChat Pay",
        "WECHAT PAY",
        "JD Pay",
        "JD",
        "Ant Group",
        "Alibaba",
        "Meituan",
        "Vipshop",
        "Mr.",
        "U.S.",
        "e.g.",
        "J.",
        "0.20%",
        "<BABA.N>",
        "<0700.HK>",
        "\"",
        "”",
        "’s",
        "...",
        "…",
        "?!",
        "。",
        "支付宝",
        "Zürich",
        "II",
        "Conclusion",
        "12/24 2024 417",
        "https://a.b/c?d=e.",
        "(",
        ")",
        "<",
        ">",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    prop_oneof![
        prop::sample::select(lines),
        prop::sample::select(words),
        prop::sample::select(extras),
    ]
}

fn separator() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        " ", "", "\n", "\n\n", ". ", ".\n", " \n ", "\r\n", "\t", "’", "'s ", ", ", "  ", "\u{a0}",
        "\u{3000}", "\n \n",
    ])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_strings(text in any::<String>()) {
        run(&text)?;
    }

    #[test]
    fn punctuation_heavy_strings(
        text in "[ \\n\\r\\t.!?…。\"'”’“‘()\\[\\]<>a-zA-Z0-9,;:%$/@éü支付宝\u{a0}-]{0,300}"
    ) {
        run(&text)?;
    }

    #[test]
    fn glued_seed_fragments(parts in prop::collection::vec((fragment(), separator()), 0..40)) {
        let text: String = parts.iter().flat_map(|(f, s)| [f.as_str(), *s]).collect();
        run(&text)?;
    }

    #[test]
    fn configured_segmenter(
        text in "[ \\n.!?\"”A-Za-z0-9]{0,200}",
        extra in prop::collection::vec("[A-Za-z.]{0,5}", 0..4),
        max_words in 0usize..10,
    ) {
        let spans = Segmenter::new(&extra, max_words).segment(&text);
        check_sentences(&text, &spans)?;
        for (s, kind) in &spans {
            if *kind == SentenceKind::Heading {
                prop_assert!(text[s.start..s.end].split_whitespace().count() <= max_words);
                prop_assert!(!text[s.start..s.end].contains('\n'));
            }
        }
    }
}
