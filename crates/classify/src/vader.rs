//! A port of VADER's sentence scorer (vaderSentiment 3.3.2, C.J. Hutto, MIT).
//!
//! The rules, constants and their quirks follow the reference
//! `SentimentIntensityAnalyzer.polarity_scores` so that scores can be compared
//! with the Python tool. Deliberate differences:
//!
//! - no emoji lexicon (emojis are not translated into words first);
//! - the contrastive "but" rule works by word position; the reference looks
//!   positions up by *value* (`list.index`), which mis-weights a sentence
//!   holding the same valence twice;
//! - typographic apostrophes (U+2018/U+2019) count as `'`, so the news
//!   spelling "isn’t" negates like "isn't", and typographic quotes, dashes
//!   and ellipses are stripped from words like ASCII punctuation;
//! - words are matched case-insensitively in a user lexicon too (keys are
//!   lowercased on load; an already lowercase key wins over a folded one,
//!   which keeps the built-in lexicon's behavior unchanged).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, OnceLock};

/// VADER's lexicon file, embedded so the binary needs no data directory.
const BUILTIN_LEXICON: &str = include_str!("../data/vader_lexicon.txt");

/// Booster words add this much intensity in the valence's direction.
const B_INCR: f64 = 0.293;
const B_DECR: f64 = -0.293;
/// An ALL-CAPS word in mixed-case text is this much more intense.
const C_INCR: f64 = 0.733;
/// A negated valence is multiplied by this.
const N_SCALAR: f64 = -0.74;
/// Each `!` (at most 4) adds this much intensity.
const EP_INCR: f64 = 0.292;
const EP_MAX: usize = 4;
/// Normalization constant of the compound score: `x / sqrt(x² + ALPHA)`.
const ALPHA: f64 = 15.0;

const NEGATE: &[&str] = &[
    "aint",
    "arent",
    "cannot",
    "cant",
    "couldnt",
    "darent",
    "didnt",
    "doesnt",
    "ain't",
    "aren't",
    "can't",
    "couldn't",
    "daren't",
    "didn't",
    "doesn't",
    "dont",
    "hadnt",
    "hasnt",
    "havent",
    "isnt",
    "mightnt",
    "mustnt",
    "neither",
    "don't",
    "hadn't",
    "hasn't",
    "haven't",
    "isn't",
    "mightn't",
    "mustn't",
    "neednt",
    "needn't",
    "never",
    "none",
    "nope",
    "nor",
    "not",
    "nothing",
    "nowhere",
    "oughtnt",
    "shant",
    "shouldnt",
    "uhuh",
    "wasnt",
    "werent",
    "oughtn't",
    "shan't",
    "shouldn't",
    "uh-uh",
    "wasn't",
    "weren't",
    "without",
    "wont",
    "wouldnt",
    "won't",
    "wouldn't",
    "rarely",
    "seldom",
    "despite",
];

/// Degree adverbs: boosters (positive) and dampeners (negative).
fn booster(word: &str) -> Option<f64> {
    let v = match word {
        "absolutely" | "amazingly" | "awfully" | "completely" | "considerable" | "considerably"
        | "decidedly" | "deeply" | "effing" | "enormous" | "enormously" | "entirely"
        | "especially" | "exceptional" | "exceptionally" | "extreme" | "extremely"
        | "fabulously" | "flipping" | "flippin" | "frackin" | "fracking" | "fricking"
        | "frickin" | "frigging" | "friggin" | "fully" | "fuckin" | "fucking" | "fuggin"
        | "fugging" | "greatly" | "hella" | "highly" | "hugely" | "incredible" | "incredibly"
        | "intensely" | "major" | "majorly" | "more" | "most" | "particularly" | "purely"
        | "quite" | "really" | "remarkably" | "so" | "substantially" | "thoroughly" | "total"
        | "totally" | "tremendous" | "tremendously" | "uber" | "unbelievably" | "unusually"
        | "utter" | "utterly" | "very" => B_INCR,
        "almost" | "barely" | "hardly" | "just enough" | "kind of" | "kinda" | "kindof"
        | "kind-of" | "less" | "little" | "marginal" | "marginally" | "occasional"
        | "occasionally" | "partly" | "scarce" | "scarcely" | "slight" | "slightly"
        | "somewhat" | "sort of" | "sorta" | "sortof" | "sort-of" => B_DECR,
        _ => return None,
    };
    Some(v)
}

/// Idioms whose valence replaces that of the lexicon word inside them.
fn special_case(phrase: &str) -> Option<f64> {
    let v = match phrase {
        "the shit" => 3.0,
        "the bomb" => 3.0,
        "bad ass" => 1.5,
        "badass" => 1.5,
        "bus stop" => 0.0,
        "yeah right" => -2.0,
        "kiss of death" => -1.5,
        "to die for" => 3.0,
        "beating heart" => 3.5,
        _ => return None,
    };
    Some(v)
}

/// A word-to-valence table (valences on VADER's -4..4 scale).
#[derive(Debug, Clone, Default)]
pub struct Lexicon {
    words: HashMap<String, f64>,
}

/// A line of a lexicon file that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexiconError {
    /// 1-based line number.
    pub line: usize,
    pub message: String,
}

impl fmt::Display for LexiconError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for LexiconError {}

impl Lexicon {
    /// Parses `word<TAB>valence` lines. Further tab-separated fields are
    /// ignored (VADER's own file carries the rating spread and raw ratings
    /// there), as are blank lines. Later duplicates replace earlier ones.
    pub fn parse(text: &str) -> Result<Lexicon, LexiconError> {
        let mut exact: Vec<(String, f64)> = Vec::new();
        let mut folded: Vec<(String, f64)> = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let err = |message: String| LexiconError {
                line: i + 1,
                message,
            };
            let mut fields = line.split('\t');
            let word = fields.next().unwrap_or("").trim();
            let Some(valence) = fields.next() else {
                return Err(err(format!(
                    "expected `word<TAB>valence`, found {:?}",
                    truncate(line)
                )));
            };
            if word.is_empty() {
                return Err(err("empty word before the tab".into()));
            }
            let valence: f64 = match valence.trim().parse() {
                Ok(v) if f64::is_finite(v) => v,
                _ => {
                    return Err(err(format!(
                        "valence {:?} of {word:?} is not a number",
                        truncate(valence)
                    )))
                }
            };
            let lower = word.to_lowercase();
            if lower == word {
                exact.push((lower, valence));
            } else {
                folded.push((lower, valence));
            }
        }
        let mut words: HashMap<String, f64> = exact.into_iter().collect();
        for (w, v) in folded {
            words.entry(w).or_insert(v);
        }
        Ok(Lexicon { words })
    }

    /// VADER's lexicon, parsed on first use and shared afterwards.
    pub fn builtin() -> Arc<Lexicon> {
        static BUILTIN: OnceLock<Arc<Lexicon>> = OnceLock::new();
        BUILTIN
            .get_or_init(|| {
                Arc::new(Lexicon::parse(BUILTIN_LEXICON).expect("the embedded lexicon parses"))
            })
            .clone()
    }

    /// The valence of a lowercase word.
    pub fn get(&self, word: &str) -> Option<f64> {
        self.words.get(word).copied()
    }

    fn contains(&self, word: &str) -> bool {
        self.words.contains_key(word)
    }

    pub fn len(&self) -> usize {
        self.words.len()
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }
}

fn truncate(s: &str) -> String {
    const MAX: usize = 60;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(MAX).collect();
        t.push('…');
        t
    }
}

/// VADER's scores of one text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scores {
    /// Normalized sum of the word valences, in [-1, 1].
    pub compound: f64,
    /// Proportions of positive, negative and neutral intensity (sum to 1,
    /// or all 0 for a text without words).
    pub pos: f64,
    pub neg: f64,
    pub neu: f64,
}

/// Python's `str.isupper`: has a cased character and no lowercase one.
fn is_upper(word: &str) -> bool {
    let mut cased = false;
    for c in word.chars() {
        if c.is_lowercase() {
            return false;
        }
        cased |= c.is_uppercase();
    }
    cased
}

fn is_punct(c: char) -> bool {
    c.is_ascii_punctuation()
        || matches!(
            c,
            '\u{201C}'
                | '\u{201D}'
                | '\u{201E}'
                | '\u{00AB}'
                | '\u{00BB}'
                | '\u{2013}'
                | '\u{2014}'
                | '\u{2026}'
        )
}

/// Strips leading and trailing punctuation unless that leaves at most two
/// characters (then the token is likely an emoticon such as `:)` and is kept).
fn strip_punc_if_word(token: &str) -> String {
    let token: String = token
        .chars()
        .map(|c| match c {
            '\u{2018}' | '\u{2019}' => '\'',
            c => c,
        })
        .collect();
    let stripped = token.trim_matches(is_punct);
    if stripped.chars().count() <= 2 {
        token
    } else {
        stripped.to_string()
    }
}

fn negated(word: &str) -> bool {
    NEGATE.contains(&word) || word.contains("n't")
}

/// Normalizes a valence sum into [-1, 1].
pub fn normalize(score: f64) -> f64 {
    (score / (score * score + ALPHA).sqrt()).clamp(-1.0, 1.0)
}

struct Words<'a> {
    lexicon: &'a Lexicon,
    words: Vec<String>,
    lower: Vec<String>,
    is_cap_diff: bool,
}

impl Words<'_> {
    fn scalar_inc_dec(&self, j: usize, valence: f64) -> f64 {
        let Some(mut scalar) = booster(&self.lower[j]) else {
            return 0.0;
        };
        if valence < 0.0 {
            scalar = -scalar;
        }
        if is_upper(&self.words[j]) && self.is_cap_diff {
            if valence > 0.0 {
                scalar += C_INCR;
            } else {
                scalar -= C_INCR;
            }
        }
        scalar
    }

    fn negation_check(&self, valence: f64, start_i: usize, i: usize) -> f64 {
        let l = &self.lower;
        match start_i {
            0 if negated(&l[i - 1]) => valence * N_SCALAR,
            1 => {
                if l[i - 2] == "never" && (l[i - 1] == "so" || l[i - 1] == "this") {
                    valence * 1.25
                } else if l[i - 2] == "without" && l[i - 1] == "doubt" {
                    valence
                } else if negated(&l[i - 2]) {
                    valence * N_SCALAR
                } else {
                    valence
                }
            }
            2 => {
                // Operator precedence as in the reference: `(never and (so or
                // this)) or (so or this)`.
                if (l[i - 3] == "never" && (l[i - 2] == "so" || l[i - 2] == "this"))
                    || (l[i - 1] == "so" || l[i - 1] == "this")
                {
                    valence * 1.25
                } else if l[i - 3] == "without" && (l[i - 2] == "doubt" || l[i - 1] == "doubt") {
                    valence
                } else if negated(&l[i - 3]) {
                    valence * N_SCALAR
                } else {
                    valence
                }
            }
            _ => valence,
        }
    }

    /// Only called with `i >= 3`.
    fn special_idioms_check(&self, mut valence: f64, i: usize) -> f64 {
        let l = &self.lower;
        let onezero = format!("{} {}", l[i - 1], l[i]);
        let twoonezero = format!("{} {} {}", l[i - 2], l[i - 1], l[i]);
        let twoone = format!("{} {}", l[i - 2], l[i - 1]);
        let threetwoone = format!("{} {} {}", l[i - 3], l[i - 2], l[i - 1]);
        let threetwo = format!("{} {}", l[i - 3], l[i - 2]);
        for seq in [&onezero, &twoonezero, &twoone, &threetwoone, &threetwo] {
            if let Some(v) = special_case(seq) {
                valence = v;
                break;
            }
        }
        if l.len() - 1 > i {
            if let Some(v) = special_case(&format!("{} {}", l[i], l[i + 1])) {
                valence = v;
            }
        }
        if l.len() - 1 > i + 1 {
            if let Some(v) = special_case(&format!("{} {} {}", l[i], l[i + 1], l[i + 2])) {
                valence = v;
            }
        }
        for ngram in [&threetwoone, &threetwo, &twoone] {
            if let Some(b) = booster(ngram) {
                valence += b;
            }
        }
        valence
    }

    fn least_check(&self, valence: f64, i: usize) -> f64 {
        let l = &self.lower;
        if i > 1 && !self.lexicon.contains(&l[i - 1]) && l[i - 1] == "least" {
            if l[i - 2] != "at" && l[i - 2] != "very" {
                return valence * N_SCALAR;
            }
        } else if i > 0 && !self.lexicon.contains(&l[i - 1]) && l[i - 1] == "least" {
            return valence * N_SCALAR;
        }
        valence
    }

    fn sentiment_valence(&self, i: usize) -> f64 {
        let l = &self.lower;
        let n = l.len();
        let Some(base) = self.lexicon.get(&l[i]) else {
            return 0.0;
        };
        let mut valence = base;
        // "no" before a lexicon word negates that word instead of counting itself.
        if l[i] == "no" && i != n - 1 && self.lexicon.contains(&l[i + 1]) {
            valence = 0.0;
        }
        if (i > 0 && l[i - 1] == "no")
            || (i > 1 && l[i - 2] == "no")
            || (i > 2 && l[i - 3] == "no" && (l[i - 1] == "or" || l[i - 1] == "nor"))
        {
            valence = base * N_SCALAR;
        }
        if is_upper(&self.words[i]) && self.is_cap_diff {
            if valence > 0.0 {
                valence += C_INCR;
            } else {
                valence -= C_INCR;
            }
        }
        for start_i in 0..3 {
            // Modifiers up to three words back; ones that are lexicon words
            // themselves carry their own valence instead.
            if i > start_i && !self.lexicon.contains(&l[i - (start_i + 1)]) {
                let mut s = self.scalar_inc_dec(i - (start_i + 1), valence);
                if start_i == 1 {
                    s *= 0.95;
                } else if start_i == 2 {
                    s *= 0.9;
                }
                valence += s;
                valence = self.negation_check(valence, start_i, i);
                if start_i == 2 {
                    valence = self.special_idioms_check(valence, i);
                }
            }
        }
        self.least_check(valence, i)
    }
}

fn punctuation_emphasis(text: &str) -> f64 {
    let ep = text.matches('!').count().min(EP_MAX) as f64 * EP_INCR;
    let qm_count = text.matches('?').count();
    let qm = match qm_count {
        0 | 1 => 0.0,
        2 | 3 => qm_count as f64 * 0.18,
        _ => 0.96,
    };
    ep + qm
}

/// Scores one sentence with VADER's rules.
pub fn polarity_scores(lexicon: &Lexicon, text: &str) -> Scores {
    let words: Vec<String> = text.split_whitespace().map(strip_punc_if_word).collect();
    let lower: Vec<String> = words.iter().map(|w| w.to_lowercase()).collect();
    let allcaps = words.iter().filter(|w| is_upper(w)).count();
    let cap_differential = words.len() - allcaps;
    let w = Words {
        lexicon,
        is_cap_diff: 0 < cap_differential && cap_differential < words.len(),
        words,
        lower,
    };

    let n = w.lower.len();
    let mut sentiments: Vec<f64> = Vec::with_capacity(n);
    for i in 0..n {
        let item = &w.lower[i];
        if booster(item).is_some() || (i + 1 < n && item == "kind" && w.lower[i + 1] == "of") {
            sentiments.push(0.0);
        } else {
            sentiments.push(w.sentiment_valence(i));
        }
    }

    // Contrastive "but": what follows it dominates.
    if let Some(bi) = w.lower.iter().position(|x| x == "but") {
        for (si, s) in sentiments.iter_mut().enumerate() {
            if si < bi {
                *s *= 0.5;
            } else if si > bi {
                *s *= 1.5;
            }
        }
    }

    if sentiments.is_empty() {
        return Scores {
            compound: 0.0,
            pos: 0.0,
            neg: 0.0,
            neu: 0.0,
        };
    }
    let amplifier = punctuation_emphasis(text);
    let mut sum: f64 = sentiments.iter().sum();
    if sum > 0.0 {
        sum += amplifier;
    } else if sum < 0.0 {
        sum -= amplifier;
    }
    let compound = normalize(sum);

    let mut pos_sum = 0.0;
    let mut neg_sum = 0.0;
    let mut neu_count = 0.0;
    for &s in &sentiments {
        if s > 0.0 {
            pos_sum += s + 1.0;
        } else if s < 0.0 {
            neg_sum += s - 1.0;
        } else {
            neu_count += 1.0;
        }
    }
    if pos_sum > neg_sum.abs() {
        pos_sum += amplifier;
    } else if pos_sum < neg_sum.abs() {
        neg_sum -= amplifier;
    }
    let total = pos_sum + neg_sum.abs() + neu_count;
    Scores {
        compound,
        pos: (pos_sum / total).abs(),
        neg: (neg_sum / total).abs(),
        neu: (neu_count / total).abs(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scores(text: &str) -> Scores {
        polarity_scores(&Lexicon::builtin(), text)
    }

    /// Values printed by the reference implementation (vaderSentiment 3.3.2,
    /// `SentimentIntensityAnalyzer().polarity_scores`), rounded as it rounds.
    #[test]
    fn matches_reference_implementation() {
        let cases: &[(&str, f64, f64, f64, f64)] = include!("../tests/vader_reference.in");
        assert!(cases.len() >= 10);
        for &(text, compound, neg, neu, pos) in cases {
            let s = scores(text);
            let close = |a: f64, b: f64, tol: f64| (a - b).abs() <= tol;
            assert!(
                close(s.compound, compound, 1e-4)
                    && close(s.neg, neg, 1e-3)
                    && close(s.neu, neu, 1e-3)
                    && close(s.pos, pos, 1e-3),
                "{text:?}: got {s:?}, reference compound {compound} neg {neg} neu {neu} pos {pos}"
            );
        }
    }

    #[test]
    fn builtin_lexicon_is_complete() {
        let lex = Lexicon::builtin();
        // 7,517 entries in the file, a few of them duplicates.
        assert!(lex.len() > 7400, "{}", lex.len());
        assert_eq!(lex.get("good"), Some(1.9));
        assert_eq!(lex.get("bad"), Some(-2.5));
        // Later duplicates win, as in the reference.
        assert_eq!(lex.get("ok"), Some(1.2));
    }

    #[test]
    fn parse_reports_the_bad_line() {
        let e = Lexicon::parse("good\t2\n\nawful -3\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.message.contains("word<TAB>valence"), "{}", e.message);
        let e = Lexicon::parse("good\tvery\n").unwrap_err();
        assert_eq!(e.line, 1);
        assert!(e.message.contains("not a number"), "{}", e.message);
        let e = Lexicon::parse("good\tNaN\n").unwrap_err();
        assert_eq!(e.line, 1);
    }

    #[test]
    fn parse_folds_case_but_prefers_lowercase_keys() {
        let lex = Lexicon::parse("Alipay\t2\r\nok\t1\r\nOK\t3\r\n").unwrap();
        assert_eq!(lex.get("alipay"), Some(2.0));
        assert_eq!(lex.get("ok"), Some(1.0));
        assert_eq!(lex.len(), 2);
    }

    #[test]
    fn empty_text_scores_zero() {
        let s = scores("   ");
        assert_eq!(s.compound, 0.0);
        assert_eq!(s.pos + s.neg + s.neu, 0.0);
    }

    #[test]
    fn typographic_apostrophe_negates() {
        let ascii = scores("The results isn't good.");
        let curly = scores("The results isn\u{2019}t good.");
        assert!(ascii.compound < 0.0, "{ascii:?}");
        assert_eq!(ascii, curly);
        let quoted = scores("\u{201C}Excellent\u{201D} results.");
        assert!(quoted.compound > 0.5, "{quoted:?}");
    }

    #[test]
    fn but_weights_by_position_not_value() {
        // Two equal valences before "but": the reference would halve the
        // first one twice. Both are halved once here.
        let s = scores("good good but bad");
        let expected = normalize(0.5 * 1.9 + 0.5 * 1.9 + 1.5 * -2.5);
        assert!((s.compound - expected).abs() < 1e-12, "{s:?} vs {expected}");
    }
}
