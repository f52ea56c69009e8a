//! The Porter stemmer exactly as nltk's `PorterStemmer()` runs it (its
//! default `NLTK_EXTENSIONS` mode), because that is what Google's
//! `rouge-score` uses with `use_stemmer=True`. It is neither the 1980 paper's
//! algorithm nor Snowball's Porter2 (`rust-stemmers`): NLTK adds an
//! irregular-forms table, special cases for `-ies`/`-ied` on 4-letter words,
//! `-alli`, `-fulli`, `-logi`, a 2-letter `*o` rule and a stricter `y -> i`.
//! Checked word by word against nltk in `tests/rouge_fixture.rs`.
//!
//! Words are ASCII lowercase here (rouge-score only stems `[a-z0-9]+`
//! tokens); other input is returned lowercased but otherwise unstemmed.

/// nltk's irregular forms: word -> stem, applied before any rule.
const POOL: [(&str, &str); 16] = [
    ("sky", "sky"),
    ("skies", "sky"),
    ("dying", "die"),
    ("lying", "lie"),
    ("tying", "tie"),
    ("news", "news"),
    ("innings", "inning"),
    ("inning", "inning"),
    ("outings", "outing"),
    ("outing", "outing"),
    ("cannings", "canning"),
    ("canning", "canning"),
    ("howe", "howe"),
    ("proceed", "proceed"),
    ("exceed", "exceed"),
    ("succeed", "succeed"),
];

fn is_vowel(c: u8) -> bool {
    matches!(c, b'a' | b'e' | b'i' | b'o' | b'u')
}

/// Consonant test of the paper: `y` is a consonant at the start or after a
/// vowel (nltk's `_is_consonant`).
fn is_consonant(w: &[u8], i: usize) -> bool {
    if is_vowel(w[i]) {
        return false;
    }
    if w[i] == b'y' {
        return i == 0 || !is_consonant(w, i - 1);
    }
    true
}

/// The measure m of `[C](VC){m}[V]`.
fn measure(stem: &[u8]) -> usize {
    let mut m = 0;
    let mut prev_vowel = false;
    for i in 0..stem.len() {
        let c = is_consonant(stem, i);
        if c && prev_vowel {
            m += 1;
        }
        prev_vowel = !c;
    }
    m
}

fn contains_vowel(stem: &[u8]) -> bool {
    (0..stem.len()).any(|i| !is_consonant(stem, i))
}

/// `*d`: ends with a double consonant.
fn ends_double_consonant(w: &[u8]) -> bool {
    let n = w.len();
    n >= 2 && w[n - 1] == w[n - 2] && is_consonant(w, n - 1)
}

/// `*o`: ends consonant-vowel-consonant, the last not w, x or y; NLTK also
/// accepts a 2-letter vowel-consonant word.
fn ends_cvc(w: &[u8]) -> bool {
    let n = w.len();
    (n >= 3
        && is_consonant(w, n - 3)
        && !is_consonant(w, n - 2)
        && is_consonant(w, n - 1)
        && !matches!(w[n - 1], b'w' | b'x' | b'y'))
        || (n == 2 && !is_consonant(w, 0) && is_consonant(w, 1))
}

type Cond<'a> = &'a dyn Fn(&[u8]) -> bool;

/// nltk's `_apply_rule_list`: the first rule whose suffix matches decides
/// (applied if its condition holds, else the word is returned unchanged).
fn apply_rules(word: Vec<u8>, rules: &[(&str, &str, Cond)]) -> Vec<u8> {
    for (suffix, replacement, cond) in rules {
        if word.ends_with(suffix.as_bytes()) {
            let stem = &word[..word.len() - suffix.len()];
            if cond(stem) {
                let mut out = stem.to_vec();
                out.extend_from_slice(replacement.as_bytes());
                return out;
            }
            return word;
        }
    }
    word
}

fn replace_suffix(word: &[u8], suffix: &str, replacement: &str) -> Vec<u8> {
    let mut out = word[..word.len() - suffix.len()].to_vec();
    out.extend_from_slice(replacement.as_bytes());
    out
}

fn step1a(word: Vec<u8>) -> Vec<u8> {
    if word.ends_with(b"ies") && word.len() == 4 {
        return replace_suffix(&word, "ies", "ie");
    }
    let always: Cond = &|_| true;
    apply_rules(
        word,
        &[
            ("sses", "ss", always),
            ("ies", "i", always),
            ("ss", "ss", always),
            ("s", "", always),
        ],
    )
}

fn step1b(word: Vec<u8>) -> Vec<u8> {
    if word.ends_with(b"ied") {
        return if word.len() == 4 {
            replace_suffix(&word, "ied", "ie")
        } else {
            replace_suffix(&word, "ied", "i")
        };
    }
    if word.ends_with(b"eed") {
        let stem = &word[..word.len() - 3];
        return if measure(stem) > 0 {
            replace_suffix(&word, "eed", "ee")
        } else {
            word
        };
    }
    let mut stem = None;
    for suffix in ["ed", "ing"] {
        if word.ends_with(suffix.as_bytes()) {
            let s = &word[..word.len() - suffix.len()];
            if contains_vowel(s) {
                stem = Some(s.to_vec());
                break;
            }
        }
    }
    let Some(stem) = stem else { return word };
    for (suffix, replacement) in [("at", "ate"), ("bl", "ble"), ("iz", "ize")] {
        if stem.ends_with(suffix.as_bytes()) {
            return replace_suffix(&stem, suffix, replacement);
        }
    }
    if ends_double_consonant(&stem) {
        let last = stem[stem.len() - 1];
        return if matches!(last, b'l' | b's' | b'z') {
            stem
        } else {
            stem[..stem.len() - 1].to_vec()
        };
    }
    if measure(&stem) == 1 && ends_cvc(&stem) {
        let mut out = stem;
        out.push(b'e');
        return out;
    }
    stem
}

fn step1c(word: Vec<u8>) -> Vec<u8> {
    let cond: Cond = &|stem| stem.len() > 1 && is_consonant(stem, stem.len() - 1);
    apply_rules(word, &[("y", "i", cond)])
}

fn step2(word: Vec<u8>) -> Vec<u8> {
    if word.ends_with(b"alli") && measure(&word[..word.len() - 4]) > 0 {
        return step2(replace_suffix(&word, "alli", "al"));
    }
    let pos: Cond = &|s| measure(s) > 0;
    // `logi`: nltk tests the measure of the word minus "ogi" (a quirk kept).
    let logi_ok = word.len() >= 3 && measure(&word[..word.len() - 3]) > 0;
    let logi: Cond = &|_| logi_ok;
    apply_rules(
        word,
        &[
            ("ational", "ate", pos),
            ("tional", "tion", pos),
            ("enci", "ence", pos),
            ("anci", "ance", pos),
            ("izer", "ize", pos),
            ("bli", "ble", pos),
            ("alli", "al", pos),
            ("entli", "ent", pos),
            ("eli", "e", pos),
            ("ousli", "ous", pos),
            ("ization", "ize", pos),
            ("ation", "ate", pos),
            ("ator", "ate", pos),
            ("alism", "al", pos),
            ("iveness", "ive", pos),
            ("fulness", "ful", pos),
            ("ousness", "ous", pos),
            ("aliti", "al", pos),
            ("iviti", "ive", pos),
            ("biliti", "ble", pos),
            ("fulli", "ful", pos),
            ("logi", "log", logi),
        ],
    )
}

fn step3(word: Vec<u8>) -> Vec<u8> {
    let pos: Cond = &|s| measure(s) > 0;
    apply_rules(
        word,
        &[
            ("icate", "ic", pos),
            ("ative", "", pos),
            ("alize", "al", pos),
            ("iciti", "ic", pos),
            ("ical", "ic", pos),
            ("ful", "", pos),
            ("ness", "", pos),
        ],
    )
}

fn step4(word: Vec<u8>) -> Vec<u8> {
    let gt1: Cond = &|s| measure(s) > 1;
    let ion: Cond = &|s| measure(s) > 1 && matches!(s.last(), Some(b's' | b't'));
    apply_rules(
        word,
        &[
            ("al", "", gt1),
            ("ance", "", gt1),
            ("ence", "", gt1),
            ("er", "", gt1),
            ("ic", "", gt1),
            ("able", "", gt1),
            ("ible", "", gt1),
            ("ant", "", gt1),
            ("ement", "", gt1),
            ("ment", "", gt1),
            ("ent", "", gt1),
            ("ion", "", ion),
            ("ou", "", gt1),
            ("ism", "", gt1),
            ("ate", "", gt1),
            ("iti", "", gt1),
            ("ous", "", gt1),
            ("ive", "", gt1),
            ("ize", "", gt1),
        ],
    )
}

fn step5a(word: Vec<u8>) -> Vec<u8> {
    if word.ends_with(b"e") {
        let stem = &word[..word.len() - 1];
        let m = measure(stem);
        if m > 1 || (m == 1 && !ends_cvc(stem)) {
            return stem.to_vec();
        }
    }
    word
}

fn step5b(word: Vec<u8>) -> Vec<u8> {
    let ok = word.ends_with(b"ll") && measure(&word[..word.len() - 1]) > 1;
    if ok {
        word[..word.len() - 1].to_vec()
    } else {
        word
    }
}

/// Stems one word as `nltk.stem.PorterStemmer().stem(word)` does.
pub fn stem(word: &str) -> String {
    let lower = word.to_lowercase();
    if let Some((_, s)) = POOL.iter().find(|(w, _)| *w == lower) {
        return s.to_string();
    }
    if lower.chars().count() <= 2 || !lower.is_ascii() {
        return lower;
    }
    let mut w = lower.into_bytes();
    for step in [step1a, step1b, step1c, step2, step3, step4, step5a, step5b] {
        w = step(w);
    }
    // Only ASCII bytes were moved, so this cannot fail.
    String::from_utf8(w).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::stem;

    #[test]
    fn paper_and_nltk_examples() {
        for (w, s) in [
            ("caresses", "caress"),
            ("ponies", "poni"),
            ("ties", "tie"),
            ("cats", "cat"),
            ("agreed", "agre"),
            ("plastered", "plaster"),
            ("motoring", "motor"),
            ("conflated", "conflat"),
            ("hopping", "hop"),
            ("falling", "fall"),
            ("filing", "file"),
            ("happy", "happi"),
            ("sky", "sky"),
            ("relational", "relat"),
            ("generously", "gener"),
            ("dying", "die"),
            ("spied", "spi"),
            ("died", "die"),
            ("controll", "control"),
            ("analogi", "analog"),
        ] {
            assert_eq!(stem(w), s, "{w}");
        }
    }
}
