//! Subword tokens through the stage, with the MiniLM WordPiece tokenizer.

mod common;

use common::{minilm_tokenizer, seed_companies, SEED};
use stancepipe_core::{BuildContext, Doc, StageConfig};
use stancepipe_tokenize::TokenizeConfig;
use tokenizers::Tokenizer;

fn run(texts: &[&str]) -> Vec<Doc> {
    let config = TokenizeConfig {
        tokenizer: Some(minilm_tokenizer()),
        ..TokenizeConfig::default()
    };
    let ctx = BuildContext {
        base_dir: std::env::temp_dir(),
        companies: seed_companies(),
    };
    let stage = config.build(&ctx).unwrap();
    let mut docs: Vec<Doc> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| Doc::new(i.to_string(), *t))
        .collect();
    stage.process(&mut docs).unwrap();
    docs
}

fn vocab() -> Tokenizer {
    Tokenizer::from_file(minilm_tokenizer()).unwrap()
}

/// (token string, span text) for every token of a doc.
fn pairs(doc: &Doc, vocab: &Tokenizer) -> Vec<(String, String)> {
    doc.tokens
        .iter()
        .map(|t| {
            (
                vocab.id_to_token(t.id).unwrap(),
                doc.slice(t.span).to_string(),
            )
        })
        .collect()
}

/// Token ranges tile `doc.tokens` in sentence order and every token lies, on
/// char boundaries, inside its sentence, in order.
fn check_structure(doc: &Doc) {
    let mut next = 0;
    for s in &doc.sentences {
        let range = s.tokens.expect("every sentence has a token range");
        assert_eq!(range.start, next);
        next = range.end;
        let mut prev_end = s.span.start;
        for t in &doc.tokens[range.start..range.end] {
            assert!(s.span.contains(t.span), "{:?} outside {:?}", t.span, s.span);
            assert!(doc.text.is_char_boundary(t.span.start));
            assert!(doc.text.is_char_boundary(t.span.end));
            assert!(t.span.start >= prev_end);
            assert!(!t.span.is_empty());
            prev_end = t.span.end;
        }
    }
    assert_eq!(next, doc.tokens.len());
}

#[test]
fn offsets_are_bytes_into_the_document_even_after_non_ascii() {
    let text = "Intro line here.\nZürich café — 0.20% fee. Alipay’s rise.";
    let docs = run(&[text]);
    let doc = &docs[0];
    check_structure(doc);
    let got = pairs(doc, &vocab());
    let second = doc.sentences[1].tokens.unwrap();
    let got_second: Vec<(&str, &str)> = got[second.start..second.end]
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    // BERT uncased lowercases and strips accents; the spans still point at
    // the original bytes ("é" is two bytes: char offsets would be off by one
    // for every token after "ü").
    assert_eq!(
        got_second,
        vec![
            ("zurich", "Zürich"),
            ("cafe", "café"),
            ("—", "—"),
            ("0", "0"),
            (".", "."),
            ("20", "20"),
            ("%", "%"),
            ("fee", "fee"),
            (".", "."),
        ]
    );
    let third = doc.sentences[2].tokens.unwrap();
    let spans: Vec<&str> = got[third.start..third.end]
        .iter()
        .map(|(_, s)| s.as_str())
        .collect();
    assert_eq!(spans, vec!["Ali", "pa", "y", "’", "s", "rise", "."]);
}

#[test]
fn seed_tokens_match_their_text() {
    let docs = run(&[SEED]);
    let doc = &docs[0];
    check_structure(doc);
    let vocab = vocab();
    let got = pairs(doc, &vocab);
    assert!(got.len() > 1000);
    for (i, (token, span)) in got.iter().enumerate() {
        // WordPiece: a `##` token continues the word of the token before it.
        let piece = match token.strip_prefix("##") {
            Some(rest) => {
                assert_eq!(doc.tokens[i - 1].span.end, doc.tokens[i].span.start);
                rest
            }
            None => token,
        };
        assert_eq!(piece, span.to_lowercase(), "token {i}");
    }
}

#[test]
fn long_sentences_are_not_truncated_or_padded() {
    // MiniLM's tokenizer.json truncates and pads to 128; the stage must not.
    let long = format!("{}.", vec!["WeChat rose"; 300].join(" "));
    let docs = run(&[&long, "WeChat rose."]);
    check_structure(&docs[0]);
    let per_phrase = docs[1].tokens.len() - 1;
    assert!(per_phrase >= 2);
    assert_eq!(docs[0].tokens.len(), 300 * per_phrase + 1);
    assert!(docs[0].tokens.len() > 128);
}
