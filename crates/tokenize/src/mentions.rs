//! Company mention detection: every alias of every tracked company, found in
//! one pass with an Aho-Corasick automaton.

use aho_corasick::{AhoCorasick, MatchKind};
use stancepipe_core::{Company, Entity, Mention, Sentence, Span};
use std::collections::{BTreeMap, BTreeSet};

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
/// - Case ([`CaseRule`]; the one place it is decided): an alias with an
///   ASCII capital letter ("Apple", "Ant", "JD") matches as written or in
///   all capitals ("APPLE", a shouted headline) but never otherwise, so
///   "apple pie" and "an ant" are not mentions; an alias written all in
///   lower case ("alipay") matches in any ASCII case. A company with
///   `case_sensitive = true` matches every alias only as written; one with
///   `case_insensitive = true` matches every alias in any ASCII case (a
///   lower-case brand or a ticker written any way). Aliases with a
///   non-ASCII char ("支付宝", "Zürich") always match exactly as written:
///   case folding here is ASCII only, so rather than fold half an alias,
///   they are left as they are.
/// - Two companies sharing an alias: the company listed first gets the
///   mention, and [`MentionFinder::find_noting`] says so in a note naming
///   both (the tokenize stage adds it to the document's `notes`).
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
    case: CaseRule,
}

/// Which spellings of an alias in the text are mentions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseRule {
    /// Only as written.
    Exact,
    /// As written or in all (ASCII) capitals.
    AsWrittenOrCapitals,
    /// In any ASCII case.
    Any,
}

impl CaseRule {
    /// The rule for one alias of `company` (see [`MentionFinder`]).
    pub fn of(company: &Company, alias: &str) -> CaseRule {
        if !alias.is_ascii() || company.case_sensitive {
            CaseRule::Exact
        } else if company.case_insensitive || !alias.bytes().any(|b| b.is_ascii_uppercase()) {
            CaseRule::Any
        } else {
            CaseRule::AsWrittenOrCapitals
        }
    }

    /// Whether `found` (equal to `alias` up to ASCII case) is a mention.
    fn accepts(self, alias: &str, found: &str) -> bool {
        match self {
            CaseRule::Any => true,
            CaseRule::Exact => found == alias,
            CaseRule::AsWrittenOrCapitals => {
                found == alias || !found.bytes().any(|b| b.is_ascii_lowercase())
            }
        }
    }
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
                    case: CaseRule::of(company, alias),
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
        self.find_noting(text, sentences).0
    }

    /// [`MentionFinder::find`], and one note per alias that two or more
    /// companies share and that the text holds: the mentions went to the
    /// company listed first, and the note names every company it could
    /// have been, e.g. `tokenize: "Ant" is a name of both "Ant Group" and
    /// "Ant Financial"; its 2 mention(s) went to "Ant Group" (listed
    /// first)`.
    pub fn find_noting(&self, text: &str, sentences: &[Sentence]) -> (Vec<Entity>, Vec<String>) {
        let mut entities: Vec<Entity> = self
            .companies
            .iter()
            .map(|c| Entity::new(c.clone(), Vec::new()))
            .collect();
        let Some(automaton) = &self.automaton else {
            return (entities, Vec::new());
        };
        // (start, end, pattern, sentence) of every acceptable match.
        let mut candidates: Vec<(usize, usize, usize, usize)> = Vec::new();
        for m in automaton.find_overlapping_iter(text) {
            let (start, end, pid) = (m.start(), m.end(), m.pattern().as_usize());
            let pattern = &self.patterns[pid];
            if !pattern.case.accepts(&pattern.alias, &text[start..end]) {
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
        // (winner, alias) -> (the other companies that matched, where).
        type Shared = BTreeMap<(usize, String), (BTreeSet<usize>, BTreeSet<usize>)>;
        let mut shared: Shared = BTreeMap::new();
        let mut winner: Option<(usize, usize, usize)> = None;
        for (start, end, pid, sentence) in candidates {
            let pattern = &self.patterns[pid];
            if start < taken_to {
                // The same text also names another company: the winner was
                // taken by list order, not by the text.
                if let Some((ws, we, wpid)) = winner {
                    let w = &self.patterns[wpid];
                    if (ws, we) == (start, end) && w.company != pattern.company {
                        let entry = shared.entry((w.company, w.alias.clone())).or_default();
                        entry.0.insert(pattern.company);
                        entry.1.insert(start);
                    }
                }
                continue;
            }
            taken_to = end;
            winner = Some((start, end, pid));
            entities[pattern.company].mentions.push(Mention {
                span: Span::new(start, end),
                sentence,
                alias: pattern.alias.clone(),
                reference: false,
            });
        }
        let notes = shared
            .into_iter()
            .map(|((company, alias), (others, at))| {
                let names: Vec<String> = std::iter::once(company)
                    .chain(others)
                    .map(|c| format!("{:?}", self.companies[c]))
                    .collect();
                let both = match names.as_slice() {
                    [a, b] => format!("both {a} and {b}"),
                    _ => format!("each of {}", names.join(", ")),
                };
                format!(
                    "tokenize: {alias:?} is a name of {both}; its {} mention(s) went to {:?} (listed first)",
                    at.len(),
                    self.companies[company]
                )
            })
            .collect();
        (entities, notes)
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
        Company::new(name, aliases)
    }

    fn sentences(text: &str) -> Vec<Sentence> {
        segment(text)
            .into_iter()
            .map(|(span, kind)| Sentence::new(span, kind))
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
    fn capitalized_names_match_as_written_or_in_capitals() {
        let cs = [
            company("Alipay", &[]),
            company("JD", &["JD Pay"]),
            company("Ant Group", &["Ant"]),
            company("Vipshop", &["vipshop"]),
        ];
        let text = "ALIPAY and alipay and Alipay. jd pay and JD Pay and JD. Jd is not. \
                    An ant is not Ant. VIPSHOP, vipshop, VipShop.";
        assert_eq!(
            found(&cs, text),
            vec![
                m("Alipay", "ALIPAY", "Alipay"),
                m("Alipay", "Alipay", "Alipay"),
                m("JD", "JD Pay", "JD Pay"),
                m("JD", "JD", "JD"),
                m("Ant Group", "Ant", "Ant"),
                // A lower-case alias matches in any case.
                m("Vipshop", "VIPSHOP", "Vipshop"),
                m("Vipshop", "vipshop", "vipshop"),
                m("Vipshop", "VipShop", "vipshop"),
            ]
        );
    }

    #[test]
    fn the_fruit_is_not_the_company() {
        let text = "Apple said its sales rose. Farmers tend apple orchards. \
                    We ate apple pie.";
        let got = found(&[company("Apple", &[])], text);
        assert_eq!(got, vec![m("Apple", "Apple", "Apple")]);
        // Said explicitly, any case goes (a lower-case brand, a ticker).
        let any = Company {
            case_insensitive: true,
            ..company("Apple", &["AAPL"])
        };
        let text = "Apple said so; apple orchards; APPLE; aapl rose.";
        assert_eq!(
            found(&[any], text),
            vec![
                m("Apple", "Apple", "Apple"),
                m("Apple", "apple", "Apple"),
                m("Apple", "APPLE", "Apple"),
                m("Apple", "aapl", "AAPL"),
            ]
        );
        // case_sensitive: not even in capitals.
        let exact = Company {
            case_sensitive: true,
            ..company("Apple", &[])
        };
        assert_eq!(
            found(&[exact], "APPLE and Apple."),
            vec![m("Apple", "Apple", "Apple")]
        );
        assert_eq!(
            CaseRule::of(&company("x", &[]), "JD"),
            CaseRule::AsWrittenOrCapitals
        );
        assert_eq!(CaseRule::of(&company("x", &[]), "Zürich"), CaseRule::Exact);
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
        let text = "Ant rose. Ant Group fell, and Ant rose again.";
        let (es, notes) = MentionFinder::new(&cs)
            .unwrap()
            .find_noting(text, &sentences(text));
        assert_eq!(es[0].mentions.len(), 3);
        assert!(es[1].mentions.is_empty());
        // Said, naming both: the two "Ant", not "Ant Group" (one company's).
        assert_eq!(
            notes,
            [
                r#"tokenize: "Ant" is a name of both "Ant Group" and "Ant Farm"; its 2 mention(s) went to "Ant Group" (listed first)"#
            ]
        );
        // No note when the shared alias is not in the text, or the
        // companies' aliases differ.
        let text = "Ant Group fell.";
        let (_, notes) = MentionFinder::new(&cs)
            .unwrap()
            .find_noting(text, &sentences(text));
        assert!(notes.is_empty(), "{notes:?}");
        let cs = [company("Ant Group", &["Ant"]), company("Antler", &[])];
        let (_, notes) = MentionFinder::new(&cs)
            .unwrap()
            .find_noting("Ant and Antler rose.", &sentences("Ant and Antler rose."));
        assert!(notes.is_empty(), "{notes:?}");
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
