//! Companies found in the text (`discover = true`): organization names the
//! recognizer tagged, grouped into companies.
//!
//! Grouping rule: two surface forms are one company when
//! [`stancepipe_core::names::same_company`] says so: their keys (the form
//! without a possessive, a leading "the", enclosing punctuation and a
//! trailing corporate word such as "Inc." or "Group", in lower case) are
//! equal, or one form's words are the other's first words. So "Ant
//! Group", "Ant Group's" and "Ant" are one company, and so are "WeChat" and
//! "WeChat Pay" (the shipped `pipeline.toml` also lists WeChat Pay as an
//! alias of WeChat: a product named after its company counts as the
//! company), while "Ant Group" and "Ant Forest" are two. The company's name is its most frequent form (ties: the
//! longer, then the first), and all its forms are matched as aliases,
//! exactly as written.
//!
//! [`capitalized_phrases`] is the baseline a user could write without a
//! model (runs of capitalized words); `train entities` scores it beside the
//! recognizer.

use stancepipe_core::names::{clean_form, NameKey};
use stancepipe_core::Company;
use std::collections::HashMap;

/// A company found in a document: its name and every form it was written in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub name: String,
    pub forms: Vec<String>,
}

impl Found {
    /// As a company to track: every form matched exactly as written.
    pub fn company(&self) -> Company {
        Company {
            name: self.name.clone(),
            aliases: self.forms.clone(),
            case_sensitive: true,
            case_insensitive: false,
        }
    }
}

/// Groups the recognized surface forms of one document (in text order,
/// repeats included) into companies, in order of first appearance. Forms
/// without a capital letter are left out.
pub fn group(forms: &[&str]) -> Vec<Found> {
    // (cleaned form, key, count), in first-appearance order.
    let mut seen: Vec<(String, NameKey, usize)> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for f in forms {
        let c = clean_form(f);
        // A name has a capital somewhere ("eBay" too): a lower-case word
        // the recognizer tagged is not taken for a company.
        if !c.chars().any(char::is_uppercase) {
            continue;
        }
        match index.get(c) {
            Some(&i) => seen[i].2 += 1,
            None => {
                index.insert(c, seen.len());
                seen.push((c.to_string(), NameKey::of(c), 1));
            }
        }
    }
    // Union by key equality or first-words prefix (NameKey::same_company),
    // by lookups rather than comparing every pair: linear in the forms.
    let n = seen.len();
    let mut parent: Vec<usize> = (0..n).collect();
    fn root(p: &mut [usize], mut i: usize) -> usize {
        while p[i] != i {
            p[i] = p[p[i]];
            i = p[i];
        }
        i
    }
    let union = |p: &mut Vec<usize>, a: usize, b: usize| {
        let (ra, rb) = (root(p, a), root(p, b));
        p[ra.max(rb)] = ra.min(rb);
    };
    let mut by_key: HashMap<&[String], usize> = HashMap::new();
    let mut by_words: HashMap<&[String], usize> = HashMap::new();
    for (i, (_, k, _)) in seen.iter().enumerate() {
        match by_key.get(k.key()) {
            Some(&j) => union(&mut parent, i, j),
            None => {
                by_key.insert(k.key(), i);
            }
        }
        by_words.entry(k.words()).or_insert(i);
    }
    for (i, (_, k, _)) in seen.iter().enumerate() {
        for end in 1..k.words().len() {
            if let Some(&j) = by_words.get(&k.words()[..end]) {
                union(&mut parent, i, j);
            }
        }
    }
    let mut groups: Vec<(usize, Vec<usize>)> = Vec::new();
    let mut group_of: HashMap<usize, usize> = HashMap::new();
    for i in 0..n {
        let r = root(&mut parent, i);
        match group_of.get(&r) {
            Some(&g) => groups[g].1.push(i),
            None => {
                group_of.insert(r, groups.len());
                groups.push((r, vec![i]));
            }
        }
    }
    groups
        .into_iter()
        .map(|(_, members)| {
            let best = members
                .iter()
                .copied()
                .max_by(|&a, &b| {
                    (seen[a].2, seen[a].0.len())
                        .cmp(&(seen[b].2, seen[b].0.len()))
                        .then(b.cmp(&a))
                })
                .unwrap_or(members[0]);
            let mut forms = vec![seen[best].0.clone()];
            forms.extend(
                members
                    .iter()
                    .filter(|&&m| m != best)
                    .map(|&m| seen[m].0.clone()),
            );
            Found {
                name: seen[best].0.clone(),
                forms,
            }
        })
        .collect()
}

/// Whether a found company is one of the tracked ones: one of its forms is
/// a tracked name or alias (ignoring case and corporate words). Tracked
/// companies win: their names and aliases are kept, the found one dropped.
pub fn is_tracked(found: &Found, tracked: &[Company]) -> bool {
    let keys: Vec<NameKey> = tracked
        .iter()
        .flat_map(|c| c.names().into_iter().map(NameKey::of))
        .collect();
    found
        .forms
        .iter()
        .any(|f| keys.iter().any(|k| k.same_name(&NameKey::of(f))))
}

/// The baseline without a model: maximal runs of capitalized words (a
/// capital first letter; "&" and "of" may join two of them), leaving out a
/// text's first word (capitalized anyway). Byte spans into `text`.
pub fn capitalized_phrases(text: &str) -> Vec<(usize, usize)> {
    let mut words: Vec<(usize, usize)> = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        let part = c.is_alphanumeric() || c == '&' || c == '.' || c == '-';
        match (part, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                words.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        words.push((s, text.len()));
    }
    let trim = |(s, e): (usize, usize)| {
        let w = text[s..e].trim_end_matches(['.', '-']);
        (s, s + w.len())
    };
    let cap = |w: &str| w.chars().next().is_some_and(char::is_uppercase);
    let joiner = |w: &str| matches!(w, "&" | "of");
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let (s, e) = trim(words[i]);
        if i == 0 || !cap(&text[s..e]) {
            i += 1;
            continue;
        }
        let mut last = i;
        let mut j = i + 1;
        while j < words.len() {
            let w = &text[trim(words[j]).0..trim(words[j]).1];
            if cap(w) {
                last = j;
                j += 1;
            } else if joiner(w)
                && words
                    .get(j + 1)
                    .is_some_and(|&n| cap(&text[trim(n).0..trim(n).1]))
            {
                j += 1;
            } else {
                break;
            }
        }
        out.push((s, trim(words[last]).1));
        i = last + 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(found: &[Found]) -> Vec<(&str, Vec<&str>)> {
        found
            .iter()
            .map(|f| {
                (
                    f.name.as_str(),
                    f.forms.iter().map(String::as_str).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn names_of_one_company_are_grouped() {
        let found = group(&[
            "WeChat",
            "Alipay's",
            "Ant Group",
            "WeChat Pay",
            "Alipay",
            "Ant",
            "WeChat",
            "Apple Inc.",
            "Apple",
            "Apple",
            "JD Pay",
            "Bank of America",
            "the company",
            "'s",
        ]);
        assert_eq!(
            names(&found),
            vec![
                ("WeChat", vec!["WeChat", "WeChat Pay"]),
                ("Alipay", vec!["Alipay"]),
                ("Ant Group", vec!["Ant Group", "Ant"]),
                ("Apple", vec!["Apple", "Apple Inc"]),
                ("JD Pay", vec!["JD Pay"]),
                ("Bank of America", vec!["Bank of America"]),
            ]
        );
        // A corporate word does not make a prefix: two companies.
        assert_eq!(group(&["Ant Forest", "Ant Group"]).len(), 2);
    }

    #[test]
    fn tracked_companies_win() {
        let tracked = vec![Company::new("Alphabet", &["Google"])];
        let g = group(&["Google Inc.", "Alphabet's", "Tesla"]);
        assert!(is_tracked(&g[0], &tracked));
        assert!(is_tracked(&g[1], &tracked));
        assert!(!is_tracked(&g[2], &tracked));
    }

    #[test]
    fn the_baseline_takes_runs_of_capitals() {
        let text = "Shares of Bank of America and Apple Inc. rose, Reuters said.";
        let got: Vec<&str> = capitalized_phrases(text)
            .iter()
            .map(|&(s, e)| &text[s..e])
            .collect();
        assert_eq!(got, vec!["Bank of America", "Apple Inc", "Reuters"]);
        assert!(capitalized_phrases("all lower case, NO").len() == 1);
        assert!(capitalized_phrases("").is_empty());
    }
}
