//! How company names compare: one rule for the tokenize stage's grouping of
//! discovered names and for `eval`'s matching of gold companies to them.
//! A form's key ([`NameKey`]) is the form without a possessive ("Alipay's"),
//! a leading "the", enclosing punctuation and a trailing corporate word
//! ("Inc.", "Group", …), in lower case, word by word.

/// Trailing words that name a company's legal form or its group; a form
/// without them is the same company.
const SUFFIXES: [&str; 16] = [
    "inc",
    "incorporated",
    "corp",
    "corporation",
    "co",
    "company",
    "ltd",
    "limited",
    "llc",
    "plc",
    "group",
    "holdings",
    "holding",
    "ag",
    "sa",
    "nv",
];

/// A form as written, cleaned: possessive, enclosing punctuation and a
/// leading "the" removed. Empty when nothing is left.
pub fn clean_form(form: &str) -> &str {
    let mut f = form.trim();
    loop {
        let before = f;
        for p in ["'s", "\u{2019}s", "'", "\u{2019}"] {
            f = f.strip_suffix(p).unwrap_or(f);
        }
        f = f.trim_matches(|c: char| !(c.is_alphanumeric() || c == '.' || c == '&'));
        f = f.trim_end_matches(|c: char| {
            c == '.' && !f.contains(". ") && f.matches('.').count() == 1
        });
        for the in ["the ", "The ", "THE "] {
            f = f.strip_prefix(the).unwrap_or(f);
        }
        if f == before {
            return f;
        }
    }
}

/// How a cleaned form compares: its lower-case words, and its key (the
/// words without a trailing corporate word, never down to nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameKey {
    words: Vec<String>,
    key: Vec<String>,
}

impl NameKey {
    /// The key of a form as written (cleaned first, [`clean_form`]).
    pub fn of(form: &str) -> NameKey {
        let words: Vec<String> = clean_form(form)
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|w| !w.is_empty())
            .map(|w| w.trim_end_matches('.').to_lowercase())
            .collect();
        let mut key = words.clone();
        while key.len() > 1
            && key
                .last()
                .is_some_and(|w| SUFFIXES.contains(&w.replace('.', "").as_str()))
        {
            key.pop();
        }
        NameKey { words, key }
    }

    /// The lower-case words as written.
    pub fn words(&self) -> &[String] {
        &self.words
    }

    /// The words without a trailing corporate word.
    pub fn key(&self) -> &[String] {
        &self.key
    }

    /// The same name: equal keys ("Apple Inc." and "Apple").
    pub fn same_name(&self, other: &NameKey) -> bool {
        !self.key.is_empty() && self.key == other.key
    }

    /// One company: the same name, or one's words are the other's first
    /// words as written ("WeChat" and "WeChat Pay"; not "Ant Group" and
    /// "Ant Forest", whose keys are "ant" and "ant forest").
    pub fn same_company(&self, other: &NameKey) -> bool {
        let prefix =
            |x: &[String], y: &[String]| !x.is_empty() && x.len() <= y.len() && y[..x.len()] == *x;
        self.same_name(other)
            || prefix(&self.words, &other.words)
            || prefix(&other.words, &self.words)
    }
}

/// Whether two names are one company ([`NameKey::same_company`]).
pub fn same_company(a: &str, b: &str) -> bool {
    NameKey::of(a).same_company(&NameKey::of(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_are_cleaned() {
        assert_eq!(clean_form("Alipay's"), "Alipay");
        assert_eq!(clean_form("the Walt Disney Co."), "Walt Disney Co");
        assert_eq!(clean_form("\"Ant Group\","), "Ant Group");
        assert_eq!(clean_form("U.S. Steel"), "U.S. Steel");
        assert_eq!(clean_form("'s"), "");
    }

    #[test]
    fn names_compare_by_key_or_first_words() {
        assert!(same_company("Ant Group's", "ant"));
        assert!(same_company("Apple Inc.", "APPLE"));
        assert!(same_company("WeChat Pay", "WeChat"));
        assert!(same_company("Ant Group", "Ant"));
        assert!(!same_company("Ant Group", "Ant Forest"));
        assert!(NameKey::of("Apple Inc.").same_name(&NameKey::of("apple")));
        assert!(!NameKey::of("WeChat Pay").same_name(&NameKey::of("WeChat")));
        assert!(!same_company("Bank of America", "America"));
        assert!(!same_company("", "Acme"));
    }
}
