//! The `tokenize` stage: configuration and the running stage.

use crate::mentions::MentionFinder;
use crate::references::{check_reference_word, ReferenceFinder, DEFAULT_REFERENCE_WORDS};
use crate::segment::{Segmenter, DEFAULT_MAX_HEADING_WORDS};
use crate::subword::Subwords;
use serde::{Deserialize, Serialize};
use stancepipe_core::{
    par_each_doc, Annotation, BackendConfig, BuildContext, Doc, OptionError, Sentence, Stage,
    StageConfig, StageError,
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
        "Rule-based sentences and headings, company mentions, optional subword tokens";
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
    finder: MentionFinder,
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
            .map(|(span, kind)| Sentence {
                span,
                kind,
                tokens: None,
                label: None,
            })
            .collect();
        doc.tokens = match &self.subwords {
            Some(subwords) => subwords.tokenize(&doc.text, &mut sentences)?,
            None => Vec::new(),
        };
        doc.entities = self.finder.find(&doc.text, &sentences);
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
