//! The `tokenize` stage: configuration and the running stage.

use crate::discover::{self, Found};
use crate::mentions::MentionFinder;
use crate::references::{check_reference_word, ReferenceFinder, DEFAULT_REFERENCE_WORDS};
use crate::segment::{Segmenter, DEFAULT_MAX_HEADING_WORDS};
use crate::subword::Subwords;
use serde::{Deserialize, Serialize};
use stancepipe_core::{
    merge_companies, par_each_doc, Annotation, BackendConfig, BuildContext, Company, Doc,
    OptionError, Origin, Sentence, Stage, StageConfig, StageError,
};
use stancepipe_encoder::tagger::Tagger;
use std::path::PathBuf;
use std::sync::Arc;

/// Options of the `tokenize` stage (backend `rules`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokenizeConfig {
    /// Hugging Face `tokenizer.json` for subword tokens, relative to the
    /// config file. Without it no subword tokens are produced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokenizer: Option<PathBuf>,
    /// Abbreviations added to the built-in list (`Rep`, `Rep.`).
    pub abbreviations: Vec<String>,
    /// Longest standalone line, in words, that counts as a heading.
    pub max_heading_words: usize,
    /// Attach pronouns and descriptions ("it", "the company") to the one
    /// company in focus, as mentions with `reference: true` (the rule:
    /// [`ReferenceFinder`]). Off by default: on PerSenT's train part about
    /// half of the attached references are wrong (precision 0.54, recall
    /// 0.61; `examples/references_persent.rs`).
    pub references: bool,
    /// The reference words and phrases (`*` = any one word); replaces the
    /// default list [`DEFAULT_REFERENCE_WORDS`].
    pub reference_words: Vec<String>,
    /// Track the organizations the recognizer finds in each document too
    /// ([`crate::discover`]), beside the configured companies.
    pub discover: bool,
    /// The organization recognizer (`stancepipe train entities`).
    pub recognizer: PathBuf,
    /// The base encoder the recognizer's adapters go on.
    pub encoder: String,
    /// A discovered company is kept when named at least this often.
    pub discover_min_mentions: usize,
    /// Bytes of content sentences the recognizer reads per document.
    pub read_bytes: usize,
}

impl Default for TokenizeConfig {
    fn default() -> Self {
        TokenizeConfig {
            tokenizer: None,
            abbreviations: Vec::new(),
            max_heading_words: DEFAULT_MAX_HEADING_WORDS,
            references: false,
            reference_words: DEFAULT_REFERENCE_WORDS
                .iter()
                .map(|w| w.to_string())
                .collect(),
            discover: false,
            recognizer: PathBuf::from("models/heads/entities"),
            encoder: "models/all-MiniLM-L6-v2".into(),
            discover_min_mentions: 1,
            read_bytes: stancepipe_encoder::READ_BYTES,
        }
    }
}

impl TokenizeConfig {
    fn tokenizer_path(&self, ctx: &BuildContext) -> Option<PathBuf> {
        self.tokenizer.as_deref().map(|p| ctx.resolve(p))
    }
}

impl StageConfig for TokenizeConfig {
    fn requires(&self) -> Vec<Annotation> {
        Vec::new()
    }

    fn provides(&self) -> Vec<Annotation> {
        let mut out = vec![Annotation::Sentences, Annotation::Mentions];
        if self.discover {
            out.push(Annotation::DiscoveredCompanies);
        }
        if self.tokenizer.is_some() {
            out.push(Annotation::Tokens);
        }
        out
    }

    fn model(&self) -> Option<String> {
        let tokenizer = self.tokenizer.as_ref().map(|p| p.display().to_string());
        match (tokenizer, self.discover) {
            (t, false) => t,
            (None, true) => Some(self.recognizer.display().to_string()),
            (Some(t), true) => Some(format!("{t} + {}", self.recognizer.display())),
        }
    }

    fn check(&self, ctx: &BuildContext) -> Result<(), OptionError> {
        for a in &self.abbreviations {
            let word = a.trim_end_matches('.');
            if word.is_empty() || word.contains(char::is_whitespace) {
                return Err(OptionError::new(
                    "abbreviations",
                    format!("abbreviation {a:?} must be one word, such as \"Rep\" or \"Rep.\""),
                ));
            }
        }
        for w in &self.reference_words {
            check_reference_word(w).map_err(|m| OptionError::new("reference_words", m))?;
        }
        if self.discover {
            if self.discover_min_mentions == 0 {
                return Err(OptionError::new(
                    "discover_min_mentions",
                    "must be at least 1",
                ));
            }
            if self.read_bytes == 0 {
                return Err(OptionError::new("read_bytes", "must be at least 1"));
            }
            stancepipe_encoder::stage::check_tagger(&self.recognizer, ctx)?;
        }
        if let Some(path) = self.tokenizer_path(ctx) {
            if !path.is_file() {
                return Err(OptionError::new(
                    "tokenizer",
                    format!("tokenizer file {} does not exist", path.display()),
                ));
            }
        }
        Ok(())
    }

    fn build(&self, ctx: &BuildContext) -> Result<Box<dyn Stage>, OptionError> {
        self.check(ctx)?;
        let (subwords, model) = match self.tokenizer_path(ctx) {
            Some(path) => {
                let subwords = Subwords::from_file(&path).map_err(|e| {
                    OptionError::new(
                        "tokenizer",
                        format!("cannot load tokenizer {}: {e}", path.display()),
                    )
                })?;
                (Some(subwords), Some(path.display().to_string()))
            }
            None => (None, None),
        };
        Ok(Box::new(TokenizeStage {
            segmenter: Segmenter::new(&self.abbreviations, self.max_heading_words),
            finder: MentionFinder::new(&ctx.companies).map_err(|e| {
                OptionError::new("", format!("cannot index the company aliases: {e}"))
            })?,
            companies: ctx.companies.clone(),
            references: match self.references {
                true => Some(
                    ReferenceFinder::new(&self.reference_words)
                        .map_err(|m| OptionError::new("reference_words", m))?,
                ),
                false => None,
            },
            discover: match self.discover {
                true => Some(Discover {
                    tagger: stancepipe_encoder::stage::load_tagger(
                        &self.encoder,
                        &self.recognizer,
                        ctx,
                    )?,
                    min_mentions: self.discover_min_mentions,
                    read_bytes: self.read_bytes,
                }),
                false => None,
            },
            model: match (model, self.discover) {
                (m, false) => m,
                (None, true) => Some(self.recognizer.display().to_string()),
                (Some(m), true) => Some(format!("{m} + {}", self.recognizer.display())),
            },
            subwords,
        }))
    }
}

impl BackendConfig for TokenizeConfig {
    const KIND: &'static str = "tokenize";
    const BACKEND: &'static str = "rules";
    const DESCRIPTION: &'static str =
        "Rule-based sentences and headings, company mentions (an alias with a capital letter matches as written or in all capitals, a lower-case alias in any case; a company's case_sensitive / case_insensitive = true overrides that), optional subword tokens";
    const OPTIONS: &'static [(&'static str, &'static str)] = &[
        (
            "tokenizer",
            "path to a Hugging Face tokenizer.json (relative to the config file); no subword tokens when unset",
        ),
        (
            "abbreviations",
            "extra abbreviations after which a period does not end a sentence (\"Rep\" or \"Rep.\")",
        ),
        (
            "max_heading_words",
            "longest standalone line without terminal punctuation, in words, that is a heading",
        ),
        (
            "references",
            "attach pronouns and descriptions (\"it\", \"the company\") to the one company named just before, as mentions with reference = true (off by default)",
        ),
        (
            "reference_words",
            "the reference words and phrases, case-insensitive whole words; \"*\" is any one word (\"the * giant\"); replaces the default list",
        ),
        (
            "discover",
            "also track the organizations a trained recognizer finds in each document (grouped into companies: \"Ant Group\", \"Ant Group's\", \"Ant\"), beside the configured ones; off by default",
        ),
        (
            "recognizer",
            "with discover: the organization recognizer's folder (`stancepipe train entities`; relative to the config file)",
        ),
        (
            "encoder",
            "with discover: the base sentence-transformers model the recognizer's adapters go on (directory or hub id)",
        ),
        (
            "discover_min_mentions",
            "with discover: keep a discovered company only when its names occur at least this often in the document (references not counted)",
        ),
        (
            "read_bytes",
            "with discover: most bytes of content sentences the recognizer reads per document (the rest is not searched, with a note)",
        ),
    ];
}

struct TokenizeStage {
    segmenter: Segmenter,
    /// The configured companies' finder, for documents without their own.
    finder: MentionFinder,
    /// The configured companies, to merge with a document's own.
    companies: Vec<Company>,
    references: Option<ReferenceFinder>,
    discover: Option<Discover>,
    subwords: Option<Subwords>,
    /// The resolved tokenizer path.
    model: Option<String>,
}

impl TokenizeStage {
    fn annotate(&self, doc: &mut Doc) -> Result<(), String> {
        let mut sentences: Vec<Sentence> = self
            .segmenter
            .segment(&doc.text)
            .into_iter()
            .map(|(span, kind)| Sentence::new(span, kind))
            .collect();
        doc.tokens = match &self.subwords {
            Some(subwords) => subwords.tokenize(&doc.text, &mut sentences)?,
            None => Vec::new(),
        };
        doc.sentences = sentences;
        let found = match &self.discover {
            Some(d) => d.find(doc)?,
            None => Vec::new(),
        };
        // A document with its own companies (`Doc::companies`) or discovered
        // ones gets a finder of the configured ones and those, merged by
        // name; a discovered company that is a tracked one is left out.
        let own;
        let finder = if doc.companies.is_empty() && found.is_empty() {
            &self.finder
        } else {
            let tracked = merge_companies(&self.companies, &doc.companies);
            let found: Vec<_> = found
                .iter()
                .filter(|f| !discover::is_tracked(f, &tracked))
                .map(Found::company)
                .collect();
            own = MentionFinder::new(&merge_companies(&tracked, &found))
                .map_err(|e| format!("cannot index the document's company aliases: {e}"))?;
            &own
        };
        let (mut entities, notes) = finder.find_noting(&doc.text, &doc.sentences);
        if let Some(d) = &self.discover {
            mark_discovered(
                &found,
                &mut entities,
                &[&self.companies, &doc.companies],
                d.min_mentions,
            );
        }
        doc.entities = entities;
        for note in notes {
            if !doc.notes.contains(&note) {
                doc.notes.push(note);
            }
        }
        if let Some(references) = &self.references {
            references.attach(&doc.text, &doc.sentences, &mut doc.entities);
        }
        Ok(())
    }
}

/// The `discover` option at run time.
struct Discover {
    tagger: Arc<Tagger>,
    min_mentions: usize,
    read_bytes: usize,
}

impl Discover {
    /// The organizations of the document's content sentences (up to
    /// `read_bytes`), grouped into companies; a note when text was left out.
    fn find(&self, doc: &mut Doc) -> Result<Vec<Found>, String> {
        let (read, cut) = stancepipe_encoder::read_budget(doc, self.read_bytes);
        let ranges: Vec<(usize, usize)> = read
            .iter()
            .map(|&(i, take)| {
                let start = doc.sentences[i].span.start;
                (start, start + take)
            })
            .collect();
        let text = doc.text.as_str();
        let texts: Vec<&str> = ranges.iter().map(|&(s, e)| &text[s..e]).collect();
        let spans = self.tagger.organizations(&texts)?;
        let forms: Vec<&str> = ranges
            .iter()
            .zip(&spans)
            .flat_map(|(&(s, _), v)| v.iter().map(move |&(a, b)| &text[s + a..s + b]))
            .collect();
        let found = discover::group(&forms);
        if cut > 0 {
            doc.notes.push(stancepipe_encoder::budget_note(
                "tokenize (discover)",
                self.read_bytes,
                cut,
            ));
        }
        Ok(found)
    }
}

/// Marks the discovered companies' entities (origin, forms) and drops
/// those named fewer than `min_mentions` times (references come later and
/// do not count). A company configured or of the document's own list is
/// never marked.
fn mark_discovered(
    found: &[Found],
    entities: &mut Vec<stancepipe_core::Entity>,
    tracked: &[&[Company]],
    min_mentions: usize,
) {
    let tracked: std::collections::HashSet<String> = tracked
        .iter()
        .flat_map(|t| t.iter())
        .map(|c| c.name.trim().to_ascii_lowercase())
        .collect();
    let is_tracked = |name: &str| tracked.contains(&name.to_ascii_lowercase());
    let by_name: std::collections::HashMap<&str, &Found> =
        found.iter().map(|f| (f.name.as_str(), f)).collect();
    for e in entities.iter_mut() {
        if is_tracked(&e.company) {
            continue;
        }
        if let Some(f) = by_name.get(e.company.as_str()) {
            e.origin = Origin::Discovered;
            e.forms = f.forms.clone();
        }
    }
    entities.retain(|e| e.origin == Origin::Configured || e.mentions.len() >= min_mentions);
}

impl Stage for TokenizeStage {
    fn backend(&self) -> &str {
        TokenizeConfig::BACKEND
    }

    fn model(&self) -> Option<&str> {
        self.model.as_deref()
    }

    fn process(&self, docs: &mut [Doc]) -> Result<(), StageError> {
        par_each_doc(docs, |doc| self.annotate(doc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(configured: &[Company], docs: &mut [Doc]) {
        let ctx = BuildContext {
            companies: configured.to_vec(),
            ..BuildContext::default()
        };
        let stage = TokenizeConfig::default().build(&ctx).unwrap();
        stage.process(docs).unwrap();
    }

    /// (company, mentioned text) of every mention of a document.
    fn mentions(doc: &Doc) -> Vec<(String, String)> {
        doc.entities
            .iter()
            .flat_map(|e| {
                e.mentions
                    .iter()
                    .map(|m| (e.company.clone(), doc.slice(m.span).to_string()))
            })
            .collect()
    }

    fn pair(c: &str, t: &str) -> (String, String) {
        (c.to_string(), t.to_string())
    }

    #[test]
    fn documents_track_their_own_companies_beside_the_configured_ones() {
        let mut a = Doc::new("a", "Ant Group fell. Ant said so. Alipay rose.");
        a.companies = vec![Company::new("Ant Group", &["Ant"])];
        let mut b = Doc::new("b", "Ant rose. Alipay too.");
        b.companies = vec![
            Company::new("Ant", &[]),
            Company::new("ALIPAY", &["alipay"]),
        ];
        let c = Doc::new("c", "Ant rose. Alipay too.");
        let mut docs = vec![a, b, c];
        run(&[Company::new("Alipay", &[])], &mut docs);
        let names = |d: &Doc| {
            d.entities
                .iter()
                .map(|e| e.company.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&docs[0]), ["Alipay", "Ant Group"]);
        assert_eq!(
            mentions(&docs[0]),
            [
                pair("Alipay", "Alipay"),
                pair("Ant Group", "Ant Group"),
                pair("Ant Group", "Ant")
            ]
        );
        // "Ant" here is the document's own "Ant", not another's "Ant Group";
        // a company named like a configured one merges into it.
        assert_eq!(names(&docs[1]), ["Alipay", "Ant"]);
        assert_eq!(
            mentions(&docs[1]),
            [pair("Alipay", "Alipay"), pair("Ant", "Ant")]
        );
        assert_eq!(names(&docs[2]), ["Alipay"]);
        assert!(docs.iter().all(|d| d.notes.is_empty()), "{docs:?}");
        assert_eq!(docs[1].company_names(&["Alipay".into()]), names(&docs[1]));
    }

    #[test]
    fn a_shared_alias_is_noted_with_both_companies() {
        let mut doc = Doc::new("a", "Ant rose. Then Ant fell.");
        doc.companies = vec![Company::new("Ant Financial", &["Ant"])];
        let mut docs = vec![doc];
        run(&[Company::new("Ant Group", &["Ant"])], &mut docs);
        assert_eq!(
            mentions(&docs[0]),
            [pair("Ant Group", "Ant"), pair("Ant Group", "Ant")]
        );
        assert_eq!(docs[0].notes.len(), 1, "{:?}", docs[0].notes);
        let note = &docs[0].notes[0];
        assert!(
            note.contains("\"Ant Group\"") && note.contains("\"Ant Financial\""),
            "{note}"
        );
        assert!(note.contains("2 mention(s)"), "{note}");
    }

    #[test]
    fn discovered_companies_are_marked_and_passing_ones_dropped() {
        use crate::discover::group;
        let text = "Acme rose. Globex fell. Acme's rival Initech waited. Acme won.";
        let mut doc = Doc::new("a", text);
        doc.sentences = crate::segment(text)
            .into_iter()
            .map(|(span, kind)| Sentence::new(span, kind))
            .collect();
        let configured = vec![Company::new("Globex", &[])];
        let found = group(&["Acme", "Globex", "Acme's", "Initech", "Acme"]);
        let all = merge_companies(
            &configured,
            &found.iter().map(Found::company).collect::<Vec<_>>(),
        );
        let (mut entities, _) = MentionFinder::new(&all)
            .unwrap()
            .find_noting(text, &doc.sentences);
        mark_discovered(&found, &mut entities, &[&configured, &[]], 2);
        let got: Vec<(&str, Origin, usize)> = entities
            .iter()
            .map(|e| (e.company.as_str(), e.origin, e.mentions.len()))
            .collect();
        // Globex is configured (kept whatever its count); Initech is named once.
        assert_eq!(
            got,
            [
                ("Globex", Origin::Configured, 1),
                ("Acme", Origin::Discovered, 3)
            ]
        );
        assert_eq!(entities[1].forms, ["Acme"]);
        doc.entities = entities;
        assert_eq!(doc.company_names(&["Globex".into()]), ["Globex", "Acme"]);
    }

    #[test]
    fn discover_options_are_checked_before_any_model_loads() {
        let ctx = BuildContext::default();
        let bad = |f: &dyn Fn(&mut TokenizeConfig)| {
            let mut c = TokenizeConfig {
                discover: true,
                ..TokenizeConfig::default()
            };
            f(&mut c);
            c.check(&ctx).unwrap_err()
        };
        let e = bad(&|c| c.recognizer = "no/such/folder".into());
        assert_eq!(e.key, "recognizer");
        assert!(
            e.message.contains("stancepipe train entities"),
            "{}",
            e.message
        );
        assert_eq!(
            bad(&|c| c.discover_min_mentions = 0).key,
            "discover_min_mentions"
        );
        assert_eq!(bad(&|c| c.read_bytes = 0).key, "read_bytes");
        // Off, the recognizer is not looked for.
        let off = TokenizeConfig {
            recognizer: "no/such/folder".into(),
            ..TokenizeConfig::default()
        };
        assert!(off.check(&ctx).is_ok());
        assert!(!off.provides().contains(&Annotation::DiscoveredCompanies));
    }
}
