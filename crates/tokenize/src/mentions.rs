//! Company mention detection: every alias of every tracked company, found in
//! one pass with an Aho-Corasick automaton.

use aho_corasick::{AhoCorasick, MatchKind};
use stancepipe_core::{Company, Entity, Mention, Sentence, Span};

/// Finds the mentions of a fixed list of companies.
///
/// Matching rules:
/// - An alias matches at word boundaries only: the chars just before and
///   after the match must not be letters or digits. "Alipays" is not a
///   mention of Alipay; "Alipay's" and "Alipay’s" are, with the span covering
///   "Alipay" only.
/// - Leftmost-longest: with aliases "WeChat" and "WeChat Pay", the text
///   "WeChat Pay" is one mention. A longer alias that fails the boundary
///   check leaves room for a shorter one at the same place ("WeChat
///   Payments" is a mention of WeChat via "WeChat").
/// - Case: aliases match ASCII case-insensitively, except (a) every alias of
///   a company with `case_sensitive = true`, (b) acronyms, aliases of at
///   most 4 chars all ASCII capital letters ("JD", "ANT"), which would
///   otherwise match ordinary words, and (c) aliases with any non-ASCII char
///   ("支付宝", "Zürich"): case folding here is ASCII only, so rather than
///   fold half an alias, such aliases match exactly as written.
/// - Two companies sharing an alias: the company listed first gets the
///   mention.
/// - A mention must lie inside one sentence; one that crosses a sentence
///   boundary is dropped.
#[derive(Debug, Clone)]
pub struct MentionFinder {
    /// `None` when no company has a non-empty alias.
    automaton: Option<AhoCorasick>,
    /// Indexed by the automaton's pattern id, in company then alias order, so
    /// that a lower id wins ties.
    patterns: Vec<Pattern>,
    companies: Vec<String>,
}

#[derive(Debug, Clone)]
struct Pattern {
    company: usize,
    alias: String,
    exact: bool,
}

/// An acronym such as "JD": matched exactly.
fn is_acronym(alias: &str) -> bool {
    alias.len() <= 4 && alias.bytes().all(|b| b.is_ascii_uppercase())
}

impl MentionFinder {
    /// Builds the automaton over every company's name and aliases (see
    /// [`Company::names`]); empty aliases are ignored. Fails only when the
    /// aliases are too large for the automaton (gigabytes of alias text).
    pub fn new(companies: &[Company]) -> Result<Self, aho_corasick::BuildError> {
        let mut patterns = Vec::new();
        for (ci, company) in companies.iter().enumerate() {
            for alias in company.names() {
                if alias.is_empty() {
                    continue;
                }
                patterns.push(Pattern {
                    company: ci,
                    alias: alias.to_string(),
                    exact: company.case_sensitive || is_acronym(alias) || !alias.is_ascii(),
                });
            }
        }
        let automaton = if patterns.is_empty() {
            None
        } else {
            Some(
                AhoCorasick::builder()
                    .match_kind(MatchKind::Standard)
                    .ascii_case_insensitive(true)
                    .build(patterns.iter().map(|p| p.alias.as_str()))?,
            )
        };
        Ok(MentionFinder {
            automaton,
            patterns,
            companies: companies.iter().map(|c| c.name.clone()).collect(),
        })
    }

    /// One [`Entity`] per company, in the order given to [`MentionFinder::new`],
    /// each with its mentions in text order (empty when not mentioned).
    /// `sentences` must be in text order; mentions outside every sentence
    /// are dropped.
    pub fn find(&self, text: &str, sentences: &[Sentence]) -> Vec<Entity> {
        let mut entities: Vec<Entity> = self
            .companies
            .iter()
            .map(|c| Entity {
                company: c.clone(),
                mentions: Vec::new(),
            })
            .collect();
        let Some(automaton) = &self.automaton else {
            return entities;
        };
        // (start, end, pattern, sentence) of every acceptable match.
        let mut candidates: Vec<(usize, usize, usize, usize)> = Vec::new();
        for m in automaton.find_overlapping_iter(text) {
            let (start, end, pid) = (m.start(), m.end(), m.pattern().as_usize());
            let pattern = &self.patterns[pid];
            if pattern.exact && text[start..end] != pattern.alias {
                continue;
            }
            if !at_word_boundaries(text, start, end) {
                continue;
            }
            let Some(sentence) = sentence_holding(sentences, Span::new(start, end)) else {
                continue;
            };
            candidates.push((start, end, pid, sentence));
        }
        // Leftmost first, then longest, then first company/alias.
        candidates.sort_unstable_by_key(|&(s, e, pid, _)| (s, std::cmp::Reverse(e), pid));
        let mut taken_to = 0;
        for (start, end, pid, sentence) in candidates {
            if start < taken_to {
                continue;
            }
            taken_to = end;
            let pattern = &self.patterns[pid];
            entities[pattern.company].mentions.push(Mention {
                span: Span::new(start, end),
                sentence,
                alias: pattern.alias.clone(),
                reference: false,
            });
        }
        entities
    }
}

/// Neither the char before `start` nor the one at `end` is alphanumeric.
fn at_word_boundaries(text: &str, start: usize, end: usize) -> bool {
    if !text.is_char_boundary(start) || !text.is_char_boundary(end) {
        return false;
    }
    let before = text[..start].chars().next_back();
    let after = text[end..].chars().next();
    !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
}

/// The index of the sentence that contains `span`, if any.
fn sentence_holding(sentences: &[Sentence], span: Span) -> Option<usize> {
    let i = sentences
        .partition_point(|s| s.span.start <= span.start)
        .checked_sub(1)?;
    sentences[i].span.contains(span).then_some(i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::segment;

    fn company(name: &str, aliases: &[&str]) -> Company {
        Company {
            name: name.into(),
            aliases: aliases.iter().map(|s| s.to_string()).collect(),
            case_sensitive: false,
        }
    }

    fn sentences(text: &str) -> Vec<Sentence> {
        segment(text)
            .into_iter()
            .map(|(span, kind)| Sentence {
                span,
                kind,
                tokens: None,
                label: None,
            })
            .collect()
    }

    /// (company, matched text, alias) of every mention, in company order.
    fn found(companies: &[Company], text: &str) -> Vec<(String, String, String)> {
        let finder = MentionFinder::new(companies).unwrap();
        finder
            .find(text, &sentences(text))
            .into_iter()
            .flat_map(|e| {
                e.mentions
                    .into_iter()
                    .map(move |m| {
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

    fn m(c: &str, t: &str, a: &str) -> (String, String, String) {
        (c.into(), t.into(), a.into())
    }

    #[test]
    fn one_entity_per_company_in_config_order() {
        let cs = [company("Vipshop", &[]), company("Alipay", &[])];
        let text = "Alipay rose.";
        let es = MentionFinder::new(&cs)
            .unwrap()
            .find(text, &sentences(text));
        assert_eq!(es.len(), 2);
        assert_eq!(es[0].company, "Vipshop");
        assert!(es[0].mentions.is_empty());
        assert_eq!(es[1].mentions.len(), 1);
        assert_eq!(es[1].mentions[0].span, Span::new(0, 6));
        assert_eq!(es[1].mentions[0].sentence, 0);
    }

    #[test]
    fn possessives_and_boundaries() {
        let cs = [company("Alipay", &[])];
        let text = "Alipay's rise. Alipay’s fall. Alipays are not. MyAlipay neither. (Alipay) yes; Alipay-based yes.";
        let got = found(&cs, text);
        assert_eq!(got.len(), 4, "{got:?}");
        assert!(got.iter().all(|(_, t, _)| t == "Alipay"));
    }

    #[test]
    fn longest_alias_wins_and_shorter_one_can_fall_back() {
        let cs = [company("WeChat", &["WeChat", "WeChat Pay"])];
        assert_eq!(
            found(&cs, "WeChat Pay grew."),
            vec![m("WeChat", "WeChat Pay", "WeChat Pay")]
        );
        assert_eq!(
            found(&cs, "WeChat Payments grew."),
            vec![m("WeChat", "WeChat", "WeChat")]
        );
    }

    #[test]
    fn case_insensitive_except_acronyms_and_case_sensitive_companies() {
        let cs = [
            company("Alipay", &[]),
            company("JD", &["JD Pay"]),
            Company {
                name: "Ant Group".into(),
                aliases: vec!["Ant".into()],
                case_sensitive: true,
            },
        ];
        let text = "ALIPAY and alipay. jd pay and JD. Jd is not. An ant is not Ant.";
        assert_eq!(
            found(&cs, text),
            vec![
                m("Alipay", "ALIPAY", "Alipay"),
                m("Alipay", "alipay", "Alipay"),
                m("JD", "jd pay", "JD Pay"),
                m("JD", "JD", "JD"),
                m("Ant Group", "Ant", "Ant"),
            ]
        );
    }

    #[test]
    fn non_ascii_aliases_match_exactly_and_in_non_ascii_context() {
        let cs = [company("Alipay", &["支付宝"]), company("Zürich", &[])];
        let text = "据报道，支付宝和Alipay—«Alipay» Zürich ZÜRICH zürich.";
        assert_eq!(
            found(&cs, text),
            vec![
                // CJK letters are alphanumeric, so "支付宝" inside a CJK run
                // is not at a word boundary.
                m("Alipay", "Alipay", "Alipay"),
                m("Zürich", "Zürich", "Zürich"),
            ]
        );
        let text = "报道： 支付宝, Alipay。";
        assert_eq!(
            found(&cs, text),
            vec![
                m("Alipay", "支付宝", "支付宝"),
                m("Alipay", "Alipay", "Alipay")
            ]
        );
    }

    #[test]
    fn shared_alias_goes_to_first_company() {
        let cs = [
            company("Ant Group", &["Ant"]),
            company("Ant Farm", &["Ant"]),
        ];
        let text = "Ant rose.";
        let es = MentionFinder::new(&cs)
            .unwrap()
            .find(text, &sentences(text));
        assert_eq!(es[0].mentions.len(), 1);
        assert!(es[1].mentions.is_empty());
    }

    #[test]
    fn mention_across_sentence_boundary_is_dropped() {
        let cs = [company("Pay", &["Pay. Then"]), company("Then", &[])];
        // "Pay. Then" crosses the boundary after "Pay.": the shorter "Pay"
        // and the overlapping "Then" count instead.
        assert_eq!(
            found(&cs, "We Pay. Then we go."),
            vec![m("Pay", "Pay", "Pay"), m("Then", "Then", "Then")]
        );
        // Mention on a heading line is kept with the heading's index.
        let cs = [company("Alipay", &[])];
        let text = "Alipay\nIt rose.";
        let es = MentionFinder::new(&cs)
            .unwrap()
            .find(text, &sentences(text));
        assert_eq!(es[0].mentions[0].sentence, 0);
    }

    #[test]
    fn no_companies_or_empty_aliases() {
        let finder = MentionFinder::new(&[]).unwrap();
        assert!(finder.find("Alipay.", &sentences("Alipay.")).is_empty());
        let cs = [company("", &[""])];
        let es = MentionFinder::new(&cs)
            .unwrap()
            .find("x y", &sentences("x y"));
        assert_eq!(es.len(), 1);
        assert!(es[0].mentions.is_empty());
    }
}
