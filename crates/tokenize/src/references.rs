//! Mentions by reference: pronouns ("it", "his") and descriptions ("the
//! company", "the payment giant") attached to the one tracked company in
//! focus, as extra [`Mention`]s with `reference: true`.
//!
//! The rule, applied after the name mentions are found:
//!
//! - **Reference words.** A list of words and phrases (option
//!   `reference_words`, default [`DEFAULT_REFERENCE_WORDS`]), matched
//!   case-insensitively on whole words. A phrase's words must be separated by
//!   whitespace only ("the company", not "the, company"). In a phrase, `*`
//!   stands for exactly one word of any kind except a few function words
//!   and the words that point at another company ([`NOT_A_WILDCARD`]: "the
//!   rival bank", "the parent company" are not references), so
//!   "the * giant" and "the * * giant" match "the payment giant" and "the
//!   Chinese tech giant". A word here is a run of letters and digits, joined
//!   by single `-`, `'`, `’`, `.` or `&` ("e-commerce", "U.S"). A reference's
//!   last word may carry a possessive or clitic ("its", "the company's",
//!   "it's"): the span then ends before the apostrophe. Matches are leftmost,
//!   then longest, and do not overlap.
//! - **Written in capitals.** A reference written all in capitals with two or
//!   more letters ("IT", "HIS") is not one: it is an acronym or a shouted
//!   headline.
//! - **Where.** Only in a content sentence (never a heading), and only when
//!   the reference overlaps no name mention ("the bank" inside the name "The
//!   Bank of China" is part of the name).
//! - **Which company.** Exactly one tracked company must be in focus: the
//!   companies named (by name, not by reference) in the same sentence before
//!   the reference; or, when none is named before it in this sentence, the
//!   companies named anywhere in the previous sentence, if that one is a
//!   content sentence (one sentence back at most; never across a heading).
//!   Two or more different companies in that window make the reference
//!   ambiguous: nothing is attached.
//!
//! The attached mention has the reference's span (into the original text),
//! its sentence, and as `alias` the list entry that matched, lowercase
//! ("the * giant"). It joins the company's name mentions in text order.
//!
//! Cost: one word scan over each content sentence, a hash lookup per word and
//! a few comparisons per candidate phrase (phrases are short), then one merge
//! per company: linear in the document.

use stancepipe_core::{Entity, Mention, Sentence, SentenceKind, Span};
use std::collections::HashMap;

/// The default reference words and phrases (`*` = any one word).
pub const DEFAULT_REFERENCE_WORDS: &[&str] = &[
    "it",
    "its",
    "he",
    "him",
    "his",
    "she",
    "her",
    "the company",
    "the firm",
    "the group",
    "the bank",
    "the platform",
    "the giant",
    "the * giant",
    "the * * giant",
    "the * company",
    "the * * company",
    "the * firm",
    "the * * firm",
    "the * group",
    "the * * group",
    "the * platform",
    "the * * platform",
    "the * service",
    "the * * service",
    "the * bank",
    "the * * bank",
    "the * app",
    "the * * app",
];

/// Words that `*` never matches: function words (so that "the company and
/// bank" is not "the * * bank") and words that point at a different company
/// ("the rival bank", "the parent company", "the other firm").
pub const NOT_A_WILDCARD: &[&str] = &[
    "a",
    "an",
    "the",
    "and",
    "or",
    "of",
    "to",
    "in",
    "on",
    "at",
    "for",
    "by",
    "with",
    "from",
    "that",
    "this",
    "which",
    "who",
    "as",
    "is",
    "was",
    "its",
    "his",
    "her",
    "their",
    "other",
    "another",
    "rival",
    "parent",
    "competing",
    "same",
];

/// Checks one entry of the `reference_words` option; the error says why it
/// is not usable.
pub fn check_reference_word(entry: &str) -> Result<(), String> {
    let words: Vec<&str> = entry.split_whitespace().collect();
    if words.is_empty() {
        return Err("a reference word must not be empty".into());
    }
    if words[0] == "*" || words[words.len() - 1] == "*" {
        return Err(format!(
            "reference phrase {entry:?} must begin and end with a word, not \"*\""
        ));
    }
    for w in &words {
        if *w != "*" && !is_one_word(w) {
            return Err(format!(
                "reference phrase {entry:?}: {w:?} is not a word (letters and digits, \
                 joined by single - ' ’ . &)"
            ));
        }
    }
    Ok(())
}

/// `w` is exactly one word as the scanner reads words.
fn is_one_word(w: &str) -> bool {
    let words = scan_words(w, 0);
    words.len() == 1 && words[0].0 == Span::new(0, w.len())
}

/// Attaches references to the company in focus (see the module doc).
#[derive(Debug, Clone)]
pub struct ReferenceFinder {
    /// Patterns by their first (literal, lowercase) word.
    by_first: HashMap<String, Vec<usize>>,
    patterns: Vec<Phrase>,
}

#[derive(Debug, Clone)]
struct Phrase {
    /// Lowercase words; `None` is `*`.
    words: Vec<Option<String>>,
    /// The entry as normalized: lowercase, single spaces.
    alias: String,
}

impl ReferenceFinder {
    /// A finder over `entries` (each checked with [`check_reference_word`]).
    /// Duplicate entries are kept once.
    pub fn new<S: AsRef<str>>(entries: &[S]) -> Result<Self, String> {
        let mut patterns: Vec<Phrase> = Vec::new();
        let mut by_first: HashMap<String, Vec<usize>> = HashMap::new();
        for entry in entries {
            let entry = entry.as_ref();
            check_reference_word(entry)?;
            let alias = entry
                .split_whitespace()
                .map(str::to_lowercase)
                .collect::<Vec<_>>()
                .join(" ");
            if patterns.iter().any(|p| p.alias == alias) {
                continue;
            }
            let words: Vec<Option<String>> = alias
                .split(' ')
                .map(|w| (w != "*").then(|| w.to_string()))
                .collect();
            let first = words[0]
                .clone()
                .expect("checked: a phrase starts with a word");
            by_first.entry(first).or_default().push(patterns.len());
            patterns.push(Phrase { words, alias });
        }
        // Longest phrase first at each start word.
        for ids in by_first.values_mut() {
            ids.sort_by_key(|&i| std::cmp::Reverse(patterns[i].words.len()));
        }
        Ok(ReferenceFinder { by_first, patterns })
    }

    /// Every reference in the content sentences of `text`: (span, sentence,
    /// alias), in text order, before any focus or name-overlap check.
    pub fn candidates(&self, text: &str, sentences: &[Sentence]) -> Vec<(Span, usize, String)> {
        let mut out = Vec::new();
        for (si, sentence) in sentences.iter().enumerate() {
            if sentence.kind != SentenceKind::Content {
                continue;
            }
            let Some(body) = text.get(sentence.span.start..sentence.span.end) else {
                continue;
            };
            let words = scan_words(body, sentence.span.start);
            let lower: Vec<String> = words
                .iter()
                .map(|(sp, _)| text[sp.start..sp.end].to_lowercase())
                .collect();
            let mut i = 0;
            while i < words.len() {
                match self.match_at(&words, &lower, i) {
                    Some((pid, n, end)) => {
                        let span = Span::new(words[i].0.start, end);
                        if !shouted(&text[span.start..span.end]) {
                            out.push((span, si, self.patterns[pid].alias.clone()));
                        }
                        i += n;
                    }
                    None => i += 1,
                }
            }
        }
        out
    }

    /// The longest phrase starting at word `i`: (pattern, words used, end of
    /// the span).
    fn match_at(
        &self,
        words: &[(Span, bool)],
        lower: &[String],
        i: usize,
    ) -> Option<(usize, usize, usize)> {
        let first = &lower[i];
        // The first word may itself be the whole phrase with a clitic
        // ("it's"): look it up by its part before the apostrophe too.
        let stem = first.split(['\'', '’']).next().unwrap_or(first);
        let mut keys = vec![first.as_str()];
        if stem != first {
            keys.push(stem);
        }
        let mut best: Option<(usize, usize, usize)> = None;
        for key in keys {
            let Some(ids) = self.by_first.get(key) else {
                continue;
            };
            'phrase: for &pid in ids {
                let phrase = &self.patterns[pid].words;
                let n = phrase.len();
                if i + n > words.len() {
                    continue;
                }
                let mut end = 0;
                for (k, want) in phrase.iter().enumerate() {
                    let (span, gap_is_space) = words[i + k];
                    if k > 0 && !gap_is_space {
                        continue 'phrase;
                    }
                    let got = &lower[i + k];
                    let last = k + 1 == n;
                    match want {
                        None => {
                            // A possessive inside the phrase belongs to
                            // another noun ("the firm's app").
                            if NOT_A_WILDCARD.contains(&got.as_str()) || got.contains(['\'', '’'])
                            {
                                continue 'phrase;
                            }
                            end = span.end;
                        }
                        Some(w) if got == w => end = span.end,
                        Some(w) if last && clitic_of(got, w) => end = span.start + w.len(),
                        Some(_) => continue 'phrase,
                    }
                }
                if best.is_none_or(|(_, bn, bend)| (n, end) > (bn, bend)) {
                    best = Some((pid, n, end));
                }
                // Sorted longest first: the first match at this key is the
                // longest one for it.
                break;
            }
        }
        best
    }

    /// Adds the references of `text` to `entities` (one per company, name
    /// mentions in text order, as [`crate::MentionFinder::find`] returns
    /// them), keeping each company's mentions in text order.
    pub fn attach(&self, text: &str, sentences: &[Sentence], entities: &mut [Entity]) {
        // Every name mention as (start, end, sentence, company), in text order.
        let mut names: Vec<(usize, usize, usize, usize)> = Vec::new();
        for (ci, e) in entities.iter().enumerate() {
            names.extend(
                e.mentions
                    .iter()
                    .filter(|m| !m.reference)
                    .map(|m| (m.span.start, m.span.end, m.sentence, ci)),
            );
        }
        if names.is_empty() {
            return;
        }
        names.sort_unstable();
        // Per sentence: index range into `names`.
        let mut first_name = vec![names.len(); sentences.len() + 1];
        for (k, n) in names.iter().enumerate().rev() {
            first_name[n.2] = k;
        }
        for s in (0..sentences.len()).rev() {
            first_name[s] = first_name[s].min(first_name[s + 1]);
        }
        // For each name: the one company named from the start of its
        // sentence up to it, or `None` once two differ.
        let mut single_so_far: Vec<Option<usize>> = Vec::with_capacity(names.len());
        for (k, n) in names.iter().enumerate() {
            let same_sentence = k > 0 && names[k - 1].2 == n.2;
            single_so_far.push(match (same_sentence, single_so_far.last()) {
                (true, Some(&prev)) => prev.filter(|&c| c == n.3),
                _ => Some(n.3),
            });
        }
        // The one company named in sentence `s` up to (not including) name
        // index `upto`; `Some(None)` when two differ, `None` when none.
        let focus = |s: usize, upto: usize| -> Option<Option<usize>> {
            (upto > first_name[s]).then(|| single_so_far[upto - 1])
        };

        let mut added: Vec<Vec<Mention>> = vec![Vec::new(); entities.len()];
        let mut nk = 0; // the first name mention that ends after the reference
        for (span, si, alias) in self.candidates(text, sentences) {
            while nk < names.len() && names[nk].1 <= span.start {
                nk += 1;
            }
            if nk < names.len() && names[nk].0 < span.end {
                continue; // overlaps a name mention
            }
            // Names of this sentence before the reference: those before `nk`.
            let upto = nk.min(first_name[si + 1]);
            let company = match focus(si, upto) {
                Some(here) => here,
                None if si > 0 && sentences[si - 1].kind == SentenceKind::Content => {
                    focus(si - 1, first_name[si]).flatten()
                }
                None => None,
            };
            let Some(company) = company else {
                continue;
            };
            added[company].push(Mention {
                span,
                sentence: si,
                alias,
                reference: true,
            });
        }
        for (e, refs) in entities.iter_mut().zip(added) {
            if !refs.is_empty() {
                e.mentions = merge(std::mem::take(&mut e.mentions), refs);
            }
        }
    }
}

/// Two lists in text order merged into one.
fn merge(a: Vec<Mention>, b: Vec<Mention>) -> Vec<Mention> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let mut a = a.into_iter().peekable();
    let mut b = b.into_iter().peekable();
    loop {
        let take_a = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => x.span.start <= y.span.start,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        out.push(if take_a { a.next() } else { b.next() }.expect("peeked"));
    }
    out
}

/// `got` is `word` followed by an apostrophe and a clitic ("its" is its own
/// entry; this is "company's", "it's", "it’ll").
fn clitic_of(got: &str, word: &str) -> bool {
    got.strip_prefix(word)
        .is_some_and(|rest| rest.starts_with('\'') || rest.starts_with('’'))
}

/// Written all in capitals with at least two letters ("IT", "THE FIRM").
fn shouted(s: &str) -> bool {
    let mut letters = s.chars().filter(|c| c.is_alphabetic());
    let mut n = 0;
    let all_upper = letters.all(|c| {
        n += 1;
        c.is_uppercase()
    });
    all_upper && n >= 2
}

/// The words of `body` (which starts at byte `offset` of the text): each a
/// run of letters and digits joined by single connectors (`-`, `'`, `’`,
/// `.`, `&`), with whether only whitespace separates it from the previous
/// word. Spans are into the whole text.
fn scan_words(body: &str, offset: usize) -> Vec<(Span, bool)> {
    let mut out: Vec<(Span, bool)> = Vec::new();
    let mut chars = body.char_indices().peekable();
    // Since the last word: nothing but whitespace seen (and at least one).
    let mut gap_is_space = true;
    while let Some((i, c)) = chars.next() {
        if !c.is_alphanumeric() {
            if !c.is_whitespace() {
                gap_is_space = false;
            }
            continue;
        }
        let start = i;
        let mut end = i + c.len_utf8();
        loop {
            match chars.peek() {
                Some(&(_, d)) if d.is_alphanumeric() => {
                    end += d.len_utf8();
                    chars.next();
                }
                Some(&(j, d)) if matches!(d, '-' | '\'' | '’' | '.' | '&') => {
                    // A connector joins only when a letter or digit follows.
                    let after = body[j + d.len_utf8()..].chars().next();
                    if after.is_some_and(char::is_alphanumeric) {
                        end = j + d.len_utf8();
                        chars.next();
                    } else {
                        break;
                    }
                }
                _ => break,
            }
        }
        out.push((Span::new(offset + start, offset + end), gap_is_space));
        gap_is_space = true;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mentions::MentionFinder;
    use crate::segment::segment;
    use stancepipe_core::Company;

    fn company(name: &str, aliases: &[&str]) -> Company {
        Company {
            name: name.into(),
            aliases: aliases.iter().map(|s| s.to_string()).collect(),
            case_sensitive: false,
            case_insensitive: false,
        }
    }

    fn sentences(text: &str) -> Vec<Sentence> {
        segment(text)
            .into_iter()
            .map(|(span, kind)| Sentence::new(span, kind))
            .collect()
    }

    fn entities(companies: &[Company], text: &str) -> Vec<Entity> {
        let ss = sentences(text);
        let mut es = MentionFinder::new(companies).unwrap().find(text, &ss);
        ReferenceFinder::new(DEFAULT_REFERENCE_WORDS)
            .unwrap()
            .attach(text, &ss, &mut es);
        es
    }

    /// (company, text at the span, alias) of every reference.
    fn refs(companies: &[Company], text: &str) -> Vec<(String, String, String)> {
        entities(companies, text)
            .into_iter()
            .flat_map(|e| {
                e.mentions
                    .into_iter()
                    .filter(|m| m.reference)
                    .map(|m| {
                        (
                            e.company.clone(),
                            text[m.span.start..m.span.end].to_string(),
                            m.alias,
                        )
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    fn r(c: &str, t: &str, a: &str) -> (String, String, String) {
        (c.into(), t.into(), a.into())
    }

    #[test]
    fn pronoun_after_a_named_company_is_attached_in_text_order() {
        let cs = [company("Alipay", &[])];
        let text = "Alipay fell. It lost users. Its rival rose.";
        let es = entities(&cs, text);
        let ms = &es[0].mentions;
        assert_eq!(ms.len(), 2, "{ms:?}");
        assert!(!ms[0].reference);
        assert!(ms[1].reference);
        assert_eq!(&text[ms[1].span.start..ms[1].span.end], "It");
        assert_eq!(ms[1].alias, "it");
        assert_eq!(ms[1].sentence, 1);
        // "Its" is two sentences after the name: not attached.
        // In the same sentence, after the name, in text order:
        let text = "It said Alipay fell and its users left; the company said he was wrong.";
        assert_eq!(
            refs(&cs, text),
            vec![
                r("Alipay", "its", "its"),
                r("Alipay", "the company", "the company"),
                r("Alipay", "he", "he"),
            ]
        );
        let es = entities(&cs, text);
        let starts: Vec<usize> = es[0].mentions.iter().map(|m| m.span.start).collect();
        assert!(starts.windows(2).all(|w| w[0] < w[1]), "{starts:?}");
    }

    #[test]
    fn descriptions_with_one_or_two_words_and_possessives() {
        let cs = [company("Alipay", &[])];
        let text = "Alipay fell. The payment giant's users and the Chinese tech company, \
                    THE FIRM and the rival bank said so.";
        assert_eq!(
            refs(&cs, text),
            vec![
                r("Alipay", "The payment giant", "the * giant"),
                r("Alipay", "the Chinese tech company", "the * * company"),
            ]
        );
        let text = "Alipay fell. It's down; the e-commerce platform’s app too.";
        assert_eq!(
            refs(&cs, text),
            vec![
                r("Alipay", "It", "it"),
                r("Alipay", "the e-commerce platform", "the * platform"),
            ]
        );
    }

    #[test]
    fn two_companies_in_focus_is_ambiguous() {
        let cs = [company("Alipay", &[]), company("WeChat", &[])];
        assert!(refs(&cs, "Alipay and WeChat fell. It lost users.").is_empty());
        assert!(refs(&cs, "Alipay fell after WeChat rose and it lost users.").is_empty());
        // A name before the reference in the same sentence wins over the
        // previous sentence.
        assert_eq!(
            refs(&cs, "Alipay fell. WeChat said it rose."),
            vec![r("WeChat", "it", "it")]
        );
        // Two mentions of the same company are not ambiguous.
        assert_eq!(
            refs(&cs, "Alipay fell and Alipay fell. It lost."),
            vec![r("Alipay", "It", "it")]
        );
    }

    #[test]
    fn heading_or_distance_breaks_the_chain() {
        let cs = [company("Alipay", &[])];
        // A heading between the name and the pronoun.
        assert!(refs(&cs, "Alipay fell.\n\nMarkets today\n\nIt lost users.").is_empty());
        // A pronoun in a heading is not attached.
        assert!(refs(&cs, "Alipay fell.\n\nIts big loss\n\nMore text.").is_empty());
        // A name in a heading does not put the company in focus.
        assert!(refs(&cs, "Alipay results\n\nIt lost users.").is_empty());
        // Two sentences back is too far.
        assert!(refs(&cs, "Alipay fell. Markets rose. It lost users.").is_empty());
    }

    #[test]
    fn reference_inside_a_name_is_not_a_reference() {
        let cs = [
            company("The Bank of It", &["Bank of It"]),
            company("X", &[]),
        ];
        let text = "The Bank of It fell. The Bank of It lost users.";
        assert!(refs(&cs, text).is_empty());
        // "the Alipay app" holds a name: the name counts, not a reference.
        let cs = [company("Alipay", &[])];
        let es = entities(&cs, "Alipay fell. Users left the Alipay app.");
        assert_eq!(es[0].mentions.len(), 2);
        assert!(es[0].mentions.iter().all(|m| !m.reference));
    }

    #[test]
    fn acronyms_and_word_boundaries() {
        let cs = [company("Alipay", &[])];
        assert!(refs(&cs, "Alipay fell. IT spending, itself, item, hers, Hesse.").is_empty());
    }

    #[test]
    fn offsets_point_into_non_ascii_text() {
        let cs = [company("Zürich Bank", &["Zürich"])];
        let text = "« Zürich » a chuté — “It lost”, said the Swiss bank. Ça va; ÉTÉ it.";
        let got = refs(&cs, text);
        assert_eq!(
            got,
            vec![
                r("Zürich Bank", "It", "it"),
                r("Zürich Bank", "the Swiss bank", "the * bank"),
                r("Zürich Bank", "it", "it"),
            ]
        );
        for e in entities(&cs, text) {
            for m in e.mentions {
                assert!(text.is_char_boundary(m.span.start) && text.is_char_boundary(m.span.end));
                if m.reference {
                    assert!(text[m.span.start..m.span.end]
                        .to_lowercase()
                        .starts_with(m.alias.split(' ').next().unwrap()));
                }
            }
        }
    }

    #[test]
    fn custom_list_and_bad_entries() {
        let cs = [company("Alipay", &[])];
        let text = "Alipay fell. The lender said it lost.";
        let ss = sentences(text);
        let mut es = MentionFinder::new(&cs).unwrap().find(text, &ss);
        ReferenceFinder::new(&["The  Lender"])
            .unwrap()
            .attach(text, &ss, &mut es);
        let m = &es[0].mentions[1];
        assert_eq!(
            (&text[m.span.start..m.span.end], m.alias.as_str()),
            ("The lender", "the lender")
        );
        assert_eq!(es[0].mentions.len(), 2);
        for bad in ["", "  ", "* giant", "the *", "the, firm", "it!"] {
            assert!(check_reference_word(bad).is_err(), "{bad:?}");
        }
        for good in ["it", "the * * giant", "e-commerce", "AT&T"] {
            check_reference_word(good).unwrap();
        }
    }

    #[test]
    fn huge_single_line_document_finishes() {
        let cs = [company("Alipay", &[]), company("WeChat", &[])];
        let unit = "Alipay fell and it said its users left, the payment giant said he \
                    was wrong while WeChat rose; it is the company ";
        let text = unit.repeat(2_000_000 / unit.len() + 1);
        assert!(text.len() >= 2_000_000);
        let ss = sentences(&text);
        let mut es = MentionFinder::new(&cs).unwrap().find(&text, &ss);
        let names: usize = es.iter().map(|e| e.mentions.len()).sum();
        ReferenceFinder::new(DEFAULT_REFERENCE_WORDS)
            .unwrap()
            .attach(&text, &ss, &mut es);
        let all: usize = es.iter().map(|e| e.mentions.len()).sum();
        assert!(names > 1000 && all > names, "{names} {all}");
    }
}
