//! How company names compare: one rule for the tokenize stage's grouping of
//! discovered names and for `eval`'s matching of gold companies to them.
//! A form's key is the form without a possessive ("Alipay's"), a leading
//! "the", enclosing punctuation and a trailing corporate word ("Inc.",
//! "Group", …), in lower case, word by word.

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

/// The grouping key of a cleaned form: lower-case words without a trailing
/// corporate word (never down to nothing).
pub fn key(form: &str) -> Vec<String> {
    let mut words: Vec<String> = form
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
        .map(|w| w.trim_end_matches('.').to_lowercase())
        .collect();
    while words.len() > 1
        && words
            .last()
            .is_some_and(|w| SUFFIXES.contains(&w.replace('.', "").as_str()))
    {
        words.pop();
    }
    words
}

/// Whether two names are one company: equal keys, or one key is the
/// other's first words ("Ant" and "Ant Group", "WeChat" and "WeChat Pay").
pub fn same_company(a: &str, b: &str) -> bool {
    same_key(&key(clean_form(a)), &key(clean_form(b)))
}

/// [`same_company`] on keys already made.
pub fn same_key(a: &[String], b: &[String]) -> bool {
    let prefix =
        |x: &[String], y: &[String]| !x.is_empty() && x.len() <= y.len() && y[..x.len()] == *x;
    prefix(a, b) || prefix(b, a)
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
        assert!(!same_company("Bank of America", "America"));
        assert!(!same_company("", "Acme"));
    }
}
