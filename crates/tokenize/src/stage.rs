//! The `tokenize` stage: configuration and the running stage.

use crate::mentions::MentionFinder;
use crate::references::{check_reference_word, ReferenceFinder, DEFAULT_REFERENCE_WORDS};
use crate::segment::{Segmenter, DEFAULT_MAX_HEADING_WORDS};
use crate::subword::Subwords;
use serde::{Deserialize, Serialize};
use stancepipe_core::{
    merge_companies, par_each_doc, Annotation, BackendConfig, BuildContext, Company, Doc,
    OptionError, Sentence, Stage, StageConfig, StageError,
};
use std::path::PathBuf;

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
        if self.tokenizer.is_some() {
            out.push(Annotation::Tokens);
        }
        out
    }

    fn model(&self) -> Option<String> {
        self.tokenizer.as_ref().map(|p| p.display().to_string())
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
            subwords,
            model,
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
    ];
}

struct TokenizeStage {
    segmenter: Segmenter,
    /// The configured companies' finder, for documents without their own.
    finder: MentionFinder,
    /// The configured companies, to merge with a document's own.
    companies: Vec<Company>,
    references: Option<ReferenceFinder>,
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
        // A document with its own companies (`Doc::companies`) gets a finder
        // of the configured ones and its own, merged by name.
        let own;
        let finder = if doc.companies.is_empty() {
            &self.finder
        } else {
            own = MentionFinder::new(&merge_companies(&self.companies, &doc.companies))
                .map_err(|e| format!("cannot index the document's company aliases: {e}"))?;
            &own
        };
        let (entities, notes) = finder.find_noting(&doc.text, &sentences);
        doc.entities = entities;
        for note in notes {
            if !doc.notes.contains(&note) {
                doc.notes.push(note);
            }
        }
        if let Some(references) = &self.references {
            references.attach(&doc.text, &sentences, &mut doc.entities);
        }
        doc.sentences = sentences;
        Ok(())
    }
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
}
