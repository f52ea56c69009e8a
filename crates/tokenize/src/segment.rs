//! Rule-based sentence segmentation; the rules are documented on
//! [`Segmenter`].

use stancepipe_core::{SentenceKind, Span};
use std::collections::HashSet;
use std::sync::OnceLock;

/// Abbreviations after which a period does not end a sentence, written
/// without the final period. Matched case-insensitively against the word
/// before the period. `No` counts only before a number ("No. 5"), so that
/// "He said no. Then" still splits.
pub const ABBREVIATIONS: &[&str] = &[
    "Mr", "Mrs", "Ms", "Messrs", "Dr", "Prof", "Gov", "Sen", "Inc", "Corp", "Co", "Ltd", "Bros",
    "Dept", "Jr", "Sr", "St", "Mt", "vs", "etc", "cf", "e.g", "i.e", "U.S", "U.K", "No", "Jan",
    "Feb", "Mar", "Apr", "Jun", "Jul", "Aug", "Sep", "Sept", "Oct", "Nov", "Dec", "Fig", "approx",
];

/// Abbreviations (lowercase) that only hold before a number.
const BEFORE_NUMBER_ONLY: &[&str] = &["no"];

/// Default for the longest line, in words, that can be a heading.
pub const DEFAULT_MAX_HEADING_WORDS: usize = 6;

/// How far (bytes) to look either side of a period for the `<` and `>` of a
/// ticker such as `<BABA.N>`.
const ANGLE_REACH: usize = 48;

/// Splits text into sentences with [`Segmenter::default`]: built-in
/// abbreviations and headings of at most [`DEFAULT_MAX_HEADING_WORDS`] words.
///
/// Spans are byte offsets into `text`, trimmed of whitespace, non-empty, in
/// order and non-overlapping; every non-whitespace char lies in exactly one.
pub fn segment(text: &str) -> Vec<(Span, SentenceKind)> {
    static DEFAULT: OnceLock<Segmenter> = OnceLock::new();
    DEFAULT.get_or_init(Segmenter::default).segment(text)
}

/// A sentence segmenter with its abbreviation list and heading length.
///
/// Hand-written rules rather than a model: the input is news-like prose with
/// hard-wrapped lines, section headings and datelines, and the rules below are
/// cheap, predictable and easy to extend with abbreviations from config.
///
/// 1. Lines are the unit of layout. A blank line always ends a sentence. A
///    line break ends a sentence too, unless the text is hard-wrapped: the
///    line has no terminal punctuation and the next line starts lowercase (or
///    the line ends with `,` or `;`), or the line ends with terminal
///    punctuation that rule 3 would not split at (`Mr.`, `e.g.`).
/// 2. A short line (at most `max_heading_words` words) without terminal
///    punctuation that is joined to neither neighbour is a
///    [`SentenceKind::Heading`] ("II", "Conclusion", "12/24 2024 417"), kept
///    whole and never merged into running text. A document of a single line
///    has no heading: that line is its content.
/// 3. Within running text a sentence ends after `.` `!` `?` `…` (a run of
///    them, plus closing quotes and brackets) followed by whitespace and then
///    an uppercase letter, a digit, a letter of a caseless script, or an
///    opening quote or bracket. It does not end after a known abbreviation
///    ([`ABBREVIATIONS`], plus configured ones), after capital initials
///    ("J. Smith", "J.R.R."), or inside a `<...>` ticker. Since whitespace
///    must follow, periods inside numbers ("0.20%", "$1.2bn"), tickers
///    ("<0700.HK>"), URLs and e-mail addresses never split. CJK full stops
///    (`。！？`) split without whitespace.
#[derive(Debug, Clone)]
pub struct Segmenter {
    /// Lowercased, without the final period.
    abbreviations: HashSet<String>,
    max_heading_words: usize,
}

impl Default for Segmenter {
    fn default() -> Self {
        Segmenter::new::<&str>(&[], DEFAULT_MAX_HEADING_WORDS)
    }
}

/// A non-blank line: its trimmed byte range.
#[derive(Debug, Clone, Copy)]
struct Line {
    start: usize,
    end: usize,
}

impl Segmenter {
    /// `extra_abbreviations` are added to [`ABBREVIATIONS`] (a final period
    /// is ignored: "Mr." and "Mr" are the same); `max_heading_words` is the
    /// longest line that can be a heading (0: no headings).
    pub fn new<S: AsRef<str>>(extra_abbreviations: &[S], max_heading_words: usize) -> Self {
        let abbreviations = ABBREVIATIONS
            .iter()
            .copied()
            .chain(extra_abbreviations.iter().map(|s| s.as_ref()))
            .map(|a| a.trim().trim_end_matches('.').to_lowercase())
            .filter(|a| !a.is_empty())
            .collect();
        Segmenter {
            abbreviations,
            max_heading_words,
        }
    }

    /// Splits `text` into sentences; see [`Segmenter`] for the rules
    /// and [`segment`] for the guarantees on the spans.
    pub fn segment(&self, text: &str) -> Vec<(Span, SentenceKind)> {
        // A lone line is the document's text, not a heading of nothing.
        let headings = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .nth(1)
            .is_some();
        let mut out = Vec::new();
        let mut paragraph: Vec<Line> = Vec::new();
        let mut pos = 0;
        for raw in text.split('\n') {
            let start = pos;
            pos += raw.len() + 1;
            let trimmed = raw.trim_start();
            if trimmed.is_empty() {
                self.paragraph(text, &paragraph, headings, &mut out);
                paragraph.clear();
                continue;
            }
            let start = start + (raw.len() - trimmed.len());
            let end = start + trimmed.trim_end().len();
            paragraph.push(Line { start, end });
        }
        self.paragraph(text, &paragraph, headings, &mut out);
        out
    }

    /// Segments consecutive non-blank lines.
    fn paragraph(
        &self,
        text: &str,
        lines: &[Line],
        headings: bool,
        out: &mut Vec<(Span, SentenceKind)>,
    ) {
        let heading: Vec<bool> = (0..lines.len())
            .map(|i| headings && self.is_heading(text, lines, i))
            .collect();
        let mut i = 0;
        while i < lines.len() {
            if heading[i] {
                out.push((
                    Span::new(lines[i].start, lines[i].end),
                    SentenceKind::Heading,
                ));
                i += 1;
                continue;
            }
            // Extend the block over the lines that run on.
            let mut j = i;
            while j + 1 < lines.len()
                && !heading[j + 1]
                && (ends_terminated(text, lines[j]) || runs_on(text, lines[j], lines[j + 1]))
            {
                j += 1;
            }
            self.split_block(text, lines[i].start, lines[j].end, out);
            i = j + 1;
        }
    }

    /// A short unterminated line that is joined to neither neighbour.
    fn is_heading(&self, text: &str, lines: &[Line], i: usize) -> bool {
        let line = lines[i];
        if ends_terminated(text, line)
            || text[line.start..line.end].split_whitespace().count() > self.max_heading_words
        {
            return false;
        }
        if let Some(&next) = lines.get(i + 1) {
            if runs_on(text, line, next) {
                return false;
            }
        }
        if i > 0 {
            let prev = lines[i - 1];
            let joined = match terminal_cluster_before(text, prev.end) {
                Some((p, strong)) => !self.breaks(text, p, first_char(text, line), strong),
                None => runs_on(text, prev, line),
            };
            if joined {
                return false;
            }
        }
        true
    }

    /// Splits running text `text[start..end]` (trimmed) at sentence ends.
    fn split_block(
        &self,
        text: &str,
        start: usize,
        end: usize,
        out: &mut Vec<(Span, SentenceKind)>,
    ) {
        let mut sent_start = start;
        let mut i = start;
        while i < end {
            let Some(c) = text[i..end].chars().next() else {
                break;
            };
            if !is_terminal(c) {
                i += c.len_utf8();
                continue;
            }
            let p = i;
            let mut q = p;
            let mut cjk = false;
            let mut terminals = 0;
            for ch in text[q..end].chars() {
                if !is_terminal(ch) {
                    break;
                }
                cjk |= is_cjk_terminal(ch);
                terminals += 1;
                q += ch.len_utf8();
            }
            for ch in text[q..end].chars() {
                if !is_closer(ch) {
                    break;
                }
                q += ch.len_utf8();
            }
            let rest = &text[q..end];
            let after = rest.trim_start();
            let ws = rest.len() - after.len();
            let Some(next) = after.chars().next() else {
                break; // the block ends here
            };
            let single_period = terminals == 1 && c == '.';
            if (ws > 0 || cjk) && self.breaks(text, p, next, cjk || !single_period) {
                out.push((Span::new(sent_start, q), SentenceKind::Content));
                sent_start = q + ws;
            }
            i = q;
        }
        if sent_start < end {
            out.push((Span::new(sent_start, end), SentenceKind::Content));
        }
    }

    /// Whether the terminal cluster starting at byte `p` (whitespace after
    /// it) ends a sentence, given the first char of what follows. `strong`
    /// clusters (`?`, `!`, `...`, CJK stops) skip the abbreviation and
    /// initial checks.
    fn breaks(&self, text: &str, p: usize, next: char, strong: bool) -> bool {
        if !starts_sentence(next) {
            return false;
        }
        if !strong {
            let word = word_before(text, p);
            if self.is_abbreviation(word, next) || is_initials(word) {
                return false;
            }
        }
        !in_angle_brackets(text, p)
    }

    fn is_abbreviation(&self, word: &str, next: char) -> bool {
        if word.is_empty() {
            return false;
        }
        let lower = word.to_lowercase();
        if BEFORE_NUMBER_ONLY.contains(&lower.as_str()) {
            return next.is_numeric();
        }
        self.abbreviations.contains(&lower)
    }
}

fn is_terminal(c: char) -> bool {
    matches!(c, '.' | '!' | '?' | '…') || is_cjk_terminal(c)
}

fn is_cjk_terminal(c: char) -> bool {
    matches!(c, '。' | '！' | '？')
}

/// Closing quotes and brackets that belong to the sentence before them.
fn is_closer(c: char) -> bool {
    matches!(
        c,
        '"' | '\'' | '”' | '’' | '»' | ')' | ']' | '}' | '」' | '』' | '）'
    )
}

fn is_opener(c: char) -> bool {
    matches!(
        c,
        '"' | '\'' | '“' | '‘' | '«' | '(' | '[' | '{' | '「' | '『' | '（'
    )
}

/// Chars that can start a sentence after a terminal cluster.
fn starts_sentence(c: char) -> bool {
    c.is_uppercase() || c.is_numeric() || is_opener(c) || (c.is_alphabetic() && !c.is_lowercase())
}

/// The line ends with terminal punctuation (closers aside).
fn ends_terminated(text: &str, line: Line) -> bool {
    terminal_cluster_before(text, line.end).is_some()
}

/// For a cluster of terminals + closers ending at `end`: where its terminals
/// start, and whether it is strong (anything but a single `.`).
fn terminal_cluster_before(text: &str, end: usize) -> Option<(usize, bool)> {
    let s = text[..end].trim_end_matches(is_closer);
    let t = s.trim_end_matches(is_terminal);
    if t.len() == s.len() {
        return None;
    }
    let cluster = &s[t.len()..];
    Some((t.len(), cluster != "."))
}

/// Line `a` (unterminated) continues on line `b`: `b` starts lowercase
/// (after any opening quote) or `a` ends with `,` or `;`.
fn runs_on(text: &str, a: Line, b: Line) -> bool {
    if text[a.start..a.end].ends_with([',', ';']) {
        return true;
    }
    text[b.start..b.end]
        .trim_start_matches(is_opener)
        .chars()
        .next()
        .is_some_and(char::is_lowercase)
}

fn first_char(text: &str, line: Line) -> char {
    text[line.start..line.end].chars().next().unwrap_or(' ')
}

/// The word right before byte `p`: letters, digits, periods, apostrophes.
fn word_before(text: &str, p: usize) -> &str {
    let before = &text[..p];
    let start = before
        .trim_end_matches(|c: char| c.is_alphanumeric() || matches!(c, '.' | '\'' | '’'))
        .len();
    &before[start..]
}

/// "J", "J.R.R", "U.S": capital letters separated by periods ("I" excluded,
/// the pronoun often ends a sentence).
fn is_initials(word: &str) -> bool {
    !word.is_empty()
        && word != "I"
        && word.split('.').all(|part| {
            let mut chars = part.chars();
            matches!((chars.next(), chars.next()), (Some(c), None) if c.is_uppercase())
        })
}

/// Byte `p` lies between a `<` and a `>` on the same line, close by.
fn in_angle_brackets(text: &str, p: usize) -> bool {
    let mut lo = p.saturating_sub(ANGLE_REACH);
    while !text.is_char_boundary(lo) {
        lo -= 1;
    }
    let mut hi = (p + ANGLE_REACH).min(text.len());
    while !text.is_char_boundary(hi) {
        hi += 1;
    }
    let before = &text[lo..p];
    let opened = match before.rfind(['<', '>', '\n']) {
        Some(k) => before[k..].starts_with('<'),
        None => false,
    };
    if !opened {
        return false;
    }
    let after = &text[p..hi];
    match after.find(['<', '>', '\n']) {
        Some(k) => after[k..].starts_with('>'),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sents(text: &str) -> Vec<&str> {
        segment(text)
            .into_iter()
            .map(|(s, _)| &text[s.start..s.end])
            .collect()
    }

    fn kinds(text: &str) -> Vec<(&str, SentenceKind)> {
        segment(text)
            .into_iter()
            .map(|(s, k)| (&text[s.start..s.end], k))
            .collect()
    }

    use SentenceKind::{Content, Heading};

    #[test]
    fn splits_after_terminal_punctuation() {
        assert_eq!(
            sents("Alipay fell. WeChat rose! Why? 2024 was hard… Then it ended."),
            vec![
                "Alipay fell.",
                "WeChat rose!",
                "Why?",
                "2024 was hard…",
                "Then it ended."
            ]
        );
    }

    #[test]
    fn no_split_before_lowercase() {
        assert_eq!(
            sents("It fell... then rose. Really? yes."),
            vec!["It fell... then rose.", "Really? yes."]
        );
    }

    #[test]
    fn blank_line_always_ends_a_sentence() {
        assert_eq!(
            sents("Alipay said that\n\nit would grow"),
            vec!["Alipay said that", "it would grow"]
        );
    }

    #[test]
    fn hard_wrapped_lines_are_joined() {
        let text = "Alipay has persistently sought to shed its identity as\nmerely a tool, unlike WeChat. It failed.\n";
        assert_eq!(
            sents(text),
            vec![
                "Alipay has persistently sought to shed its identity as\nmerely a tool, unlike WeChat.",
                "It failed."
            ]
        );
        // A line ending with a comma runs on even before a capital.
        assert_eq!(
            sents("Rivals include Alipay,\nWeChat Pay and JD Pay."),
            vec!["Rivals include Alipay,\nWeChat Pay and JD Pay."]
        );
        // Terminated line followed by a capital: a new sentence.
        assert_eq!(
            sents("Alipay fell.\nWeChat rose."),
            vec!["Alipay fell.", "WeChat rose."]
        );
        // Terminated line followed by a lowercase line: no split either.
        assert_eq!(
            sents("Alipay fell.\nbut WeChat rose."),
            vec!["Alipay fell.\nbut WeChat rose."]
        );
        // An abbreviation at the end of a line does not end the sentence.
        assert_eq!(
            sents("Yesterday Mr.\nMa said so."),
            vec!["Yesterday Mr.\nMa said so."]
        );
    }

    #[test]
    fn long_unterminated_line_ends_at_line_break() {
        let text = "Alipay Refuses to Be a Tool Like WeChat Again\nIt failed.";
        assert_eq!(
            kinds(text),
            vec![
                ("Alipay Refuses to Be a Tool Like WeChat Again", Content),
                ("It failed.", Content)
            ]
        );
    }

    #[test]
    fn short_standalone_lines_are_headings() {
        let text =
            "12/24 2024 417\nAlipay fell. It was bad.\nII\nWeChat rose.\n\nConclusion\nDone.";
        assert_eq!(
            kinds(text),
            vec![
                ("12/24 2024 417", Heading),
                ("Alipay fell.", Content),
                ("It was bad.", Content),
                ("II", Heading),
                ("WeChat rose.", Content),
                ("Conclusion", Heading),
                ("Done.", Content),
            ]
        );
    }

    #[test]
    fn heading_is_never_glued_or_split() {
        // Short, no terminal punctuation, next line starts uppercase.
        assert_eq!(
            kinds("Wow! Great News\nAlipay rose."),
            vec![("Wow! Great News", Heading), ("Alipay rose.", Content)]
        );
        // A short line that wraps into the next is content, not a heading.
        assert_eq!(
            kinds("Alipay said\nit would grow."),
            vec![("Alipay said\nit would grow.", Content)]
        );
        // A short line continuing the previous one is not a heading.
        assert_eq!(
            kinds("The company met with the\nboard\nYesterday it grew."),
            vec![
                ("The company met with the\nboard", Content),
                ("Yesterday it grew.", Content)
            ]
        );
        // Longer than the limit: content.
        assert_eq!(
            kinds("One two three four five six seven\nAlipay rose."),
            vec![
                ("One two three four five six seven", Content),
                ("Alipay rose.", Content)
            ]
        );
        // A document of one short line is content.
        assert_eq!(
            kinds("  Alipay rose 5%\n\n"),
            vec![("Alipay rose 5%", Content)]
        );
        assert_eq!(
            kinds("Alipay rose 5%\nII"),
            vec![("Alipay rose 5%", Heading), ("II", Heading)]
        );
        let seg = Segmenter::new::<&str>(&[], 0);
        assert_eq!(seg.segment("II\nAlipay rose.")[0].1, Content);
    }

    #[test]
    fn abbreviations_do_not_split() {
        assert_eq!(
            sents("Mr. Ma met Dr. Smith of Ant Group Co. Ltd. on Jan. 5. It went well."),
            vec![
                "Mr. Ma met Dr. Smith of Ant Group Co. Ltd. on Jan. 5.",
                "It went well."
            ]
        );
        assert_eq!(
            sents("Rivals (e.g. WeChat) grew in the U.S. Market share fell, i.e. Alipay lost."),
            vec!["Rivals (e.g. WeChat) grew in the U.S. Market share fell, i.e. Alipay lost."]
        );
        assert_eq!(
            sents("See Fig. 3 and No. 5. He said no. Then he left."),
            vec!["See Fig. 3 and No. 5.", "He said no.", "Then he left."]
        );
        assert_eq!(
            sents("WeChat vs. Alipay, approx. 3 times. Etc. Done."),
            vec!["WeChat vs. Alipay, approx. 3 times.", "Etc. Done."]
        );
    }

    #[test]
    fn extra_abbreviations_from_config() {
        let text = "Ask Rep. Smith. He knows.";
        assert_eq!(sents(text), vec!["Ask Rep.", "Smith.", "He knows."]);
        let seg = Segmenter::new(&["Rep.".to_string()], 6);
        let got: Vec<&str> = seg
            .segment(text)
            .into_iter()
            .map(|(s, _)| &text[s.start..s.end])
            .collect();
        assert_eq!(got, vec!["Ask Rep. Smith.", "He knows."]);
    }

    #[test]
    fn initials_do_not_split() {
        assert_eq!(
            sents("J. Smith and J.R.R. Tolkien met. So did I. Then they left."),
            vec![
                "J. Smith and J.R.R. Tolkien met.",
                "So did I.",
                "Then they left."
            ]
        );
    }

    #[test]
    fn numbers_never_split() {
        assert_eq!(
            sents("Fees fell 0.20% to $1.2bn. Revenue was 3.5 billion. 2024. Was good."),
            vec![
                "Fees fell 0.20% to $1.2bn.",
                "Revenue was 3.5 billion.",
                "2024.",
                "Was good."
            ]
        );
    }

    #[test]
    fn tickers_urls_and_emails_do_not_split() {
        assert_eq!(
            sents("Alibaba <BABA.N> and Tencent <0700.HK> rose. See https://example.com/a.b?c=d. Mail ir@alipay.com. Done."),
            vec![
                "Alibaba <BABA.N> and Tencent <0700.HK> rose.",
                "See https://example.com/a.b?c=d.",
                "Mail ir@alipay.com.",
                "Done."
            ]
        );
        // Even with a space inside the brackets.
        assert_eq!(
            sents("Shares of <Ant Grp. A.SS> rose. Done."),
            vec!["Shares of <Ant Grp. A.SS> rose.", "Done."]
        );
        // A lone "<" does not block splitting.
        assert_eq!(sents("If a < b. Then c."), vec!["If a < b.", "Then c."]);
    }

    #[test]
    fn quotes_and_brackets_close_the_sentence() {
        assert_eq!(
            sents("He said \"It failed.\" Then he left. (It did.) \u{201c}No.\u{201d} \u{2018}Yes.\u{2019} Ok."),
            vec![
                "He said \"It failed.\"",
                "Then he left.",
                "(It did.)",
                "\u{201c}No.\u{201d}",
                "\u{2018}Yes.\u{2019}",
                "Ok."
            ]
        );
        assert_eq!(
            sents("It was \"WeChat,\" he said. \"Why?\" she asked."),
            vec!["It was \"WeChat,\" he said.", "\"Why?\" she asked."]
        );
    }

    #[test]
    fn cjk_full_stops_split_without_space() {
        assert_eq!(
            sents("支付宝下跌。微信上涨！Alipay rose."),
            vec!["支付宝下跌。", "微信上涨！", "Alipay rose."]
        );
    }

    #[test]
    fn spans_are_trimmed_and_cover_text() {
        let text = "  \r\n  Alipay fell.   WeChat rose.  \r\n\r\n  II  \r\n";
        assert_eq!(
            kinds(text),
            vec![
                ("Alipay fell.", Content),
                ("WeChat rose.", Content),
                ("II", Heading)
            ]
        );
        assert!(segment("").is_empty());
        assert!(segment(" \n\t\n ").is_empty());
    }
}
