//! Sentence classification: one sentiment [`Label`] per content sentence.
//!
//! The stance stage reads these labels through [`Label::polarity`], so every
//! backend of this kind emits the shared vocabulary of
//! [`stancepipe_core::labels`] (positive / negative / neutral) with class
//! scores whose polarity is meaningful.
//!
//! The only backend so far is `lexicon`: a port of VADER (C.J. Hutto, MIT
//! license; see `data/LICENSE-VADER`), a rule-based scorer that needs no
//! model and runs anywhere. It sums word valences from a lexicon, adjusted
//! for negation ("not good"), degree adverbs ("very", "slightly"), the
//! contrastive "but", ALL-CAPS emphasis and `!`/`?` emphasis, and normalizes
//! the sum to a `compound` score in [-1, 1] (see [`vader`]). It was built for
//! social media and knows nothing about finance ("short", "bear"), so it is a
//! baseline; model backends come later.
//!
//! Heading sentences get no label (`label = None`): a section title carries
//! no opinion and would only dilute the stance average.

pub mod embedding;
pub mod nli;
pub mod vader;

use serde::{Deserialize, Serialize};
use stancepipe_core::{
    labels, par_each_doc, Annotation, BackendConfig, BuildContext, Doc, Label, OptionError,
    Registry, RegistryError, SentenceKind, Stage, StageConfig, StageError,
};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use vader::Lexicon;

/// Options of the `lexicon` backend.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LexiconConfig {
    /// A `word<TAB>valence` file replacing the built-in VADER lexicon.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lexicon: Option<PathBuf>,
    /// `compound >= positive_threshold` is positive (VADER's usual 0.05).
    pub positive_threshold: f64,
    /// `compound <= negative_threshold` is negative (VADER's usual -0.05).
    pub negative_threshold: f64,
}

impl Default for LexiconConfig {
    fn default() -> Self {
        LexiconConfig {
            lexicon: None,
            positive_threshold: 0.05,
            negative_threshold: -0.05,
        }
    }
}

impl StageConfig for LexiconConfig {
    fn requires(&self) -> Vec<Annotation> {
        vec![Annotation::Sentences]
    }

    fn provides(&self) -> Vec<Annotation> {
        vec![Annotation::SentenceLabels]
    }

    fn check(&self, ctx: &BuildContext) -> Result<(), OptionError> {
        let in_range = |v: f64, lo: f64, hi: f64| v.is_finite() && lo <= v && v <= hi;
        if !in_range(self.positive_threshold, 0.0, 1.0) {
            return Err(OptionError::new(
                "positive_threshold",
                format!(
                    "positive_threshold must be in [0, 1], got {}",
                    self.positive_threshold
                ),
            ));
        }
        if !in_range(self.negative_threshold, -1.0, 0.0) {
            return Err(OptionError::new(
                "negative_threshold",
                format!(
                    "negative_threshold must be in [-1, 0], got {}",
                    self.negative_threshold
                ),
            ));
        }
        if self.negative_threshold >= self.positive_threshold {
            return Err(OptionError::new(
                "negative_threshold",
                format!(
                    "negative_threshold ({}) must be below positive_threshold ({})",
                    self.negative_threshold, self.positive_threshold
                ),
            ));
        }
        if let Some(path) = &self.lexicon {
            let resolved = ctx.resolve(path);
            if !resolved.is_file() {
                return Err(OptionError::new(
                    "lexicon",
                    format!("lexicon file {} not found", resolved.display()),
                ));
            }
        }
        Ok(())
    }

    fn build(&self, ctx: &BuildContext) -> Result<Box<dyn Stage>, OptionError> {
        self.check(ctx)?;
        let lexicon = match &self.lexicon {
            None => Lexicon::builtin(),
            Some(path) => {
                let resolved = ctx.resolve(path);
                let text = std::fs::read_to_string(&resolved).map_err(|e| {
                    OptionError::new(
                        "lexicon",
                        format!("cannot read lexicon file {}: {e}", resolved.display()),
                    )
                })?;
                let lex = Lexicon::parse(&text).map_err(|e| {
                    OptionError::new(
                        "lexicon",
                        format!("{}:{}: {}", resolved.display(), e.line, e.message),
                    )
                })?;
                if lex.is_empty() {
                    return Err(OptionError::new(
                        "lexicon",
                        format!("lexicon file {} has no entries", resolved.display()),
                    ));
                }
                Arc::new(lex)
            }
        };
        Ok(Box::new(LexiconClassifier {
            lexicon,
            positive_threshold: self.positive_threshold,
            negative_threshold: self.negative_threshold,
        }))
    }
}

impl BackendConfig for LexiconConfig {
    const KIND: &'static str = "classify";
    const BACKEND: &'static str = "lexicon";
    const DESCRIPTION: &'static str =
        "VADER sentiment lexicon and rules (model-free): positive / negative / neutral per sentence";
    const OPTIONS: &'static [(&'static str, &'static str)] = &[
        (
            "lexicon",
            "`word<TAB>valence` file (-4..4) replacing the built-in VADER lexicon; relative to the config file",
        ),
        (
            "positive_threshold",
            "compound score at or above which a sentence is positive, in [0, 1]",
        ),
        (
            "negative_threshold",
            "compound score at or below which a sentence is negative, in [-1, 0]",
        ),
    ];
}

/// The running `lexicon` backend.
pub struct LexiconClassifier {
    lexicon: Arc<Lexicon>,
    positive_threshold: f64,
    negative_threshold: f64,
}

impl LexiconClassifier {
    /// Labels one sentence.
    ///
    /// The class scores are a deterministic function of VADER's compound
    /// score `c`, chosen so that [`Label::polarity`] returns `c` exactly:
    /// `positive = max(c, 0)`, `negative = max(-c, 0)`, `neutral = 1 - |c|`
    /// (they sum to 1). `score` is the chosen class's entry. The label itself
    /// comes from the thresholds, not from the largest class score: a
    /// sentence with `c = 0.3` is positive with score 0.3 although its
    /// neutral entry is 0.7. The scores are intensities, not calibrated
    /// probabilities.
    pub fn label(&self, text: &str) -> Label {
        let c = vader::polarity_scores(&self.lexicon, text).compound;
        let name = if c >= self.positive_threshold {
            labels::POSITIVE
        } else if c <= self.negative_threshold {
            labels::NEGATIVE
        } else {
            labels::NEUTRAL
        };
        let c = c as f32;
        let scores = BTreeMap::from([
            (labels::POSITIVE.to_string(), c.max(0.0)),
            (labels::NEGATIVE.to_string(), (-c).max(0.0)),
            (labels::NEUTRAL.to_string(), 1.0 - c.abs()),
        ]);
        Label {
            label: name.to_string(),
            score: scores[name],
            scores,
        }
    }
}

impl Stage for LexiconClassifier {
    fn backend(&self) -> &str {
        LexiconConfig::BACKEND
    }

    fn process(&self, docs: &mut [Doc]) -> Result<(), StageError> {
        par_each_doc(docs, |doc| {
            let Doc {
                text, sentences, ..
            } = doc;
            for (i, s) in sentences.iter_mut().enumerate() {
                s.label = match s.kind {
                    SentenceKind::Heading => None,
                    SentenceKind::Content => {
                        let sentence = text.get(s.span.start..s.span.end).ok_or_else(|| {
                            format!(
                                "sentence {i} has span {}..{} outside the text ({} bytes) or off a char boundary",
                                s.span.start,
                                s.span.end,
                                text.len()
                            )
                        })?;
                        Some(self.label(sentence))
                    }
                };
            }
            Ok(())
        })
    }
}

/// Registers every classify backend; `lexicon` (the kind's default, needing
/// no model) first.
pub fn register(registry: &mut Registry) -> Result<(), RegistryError> {
    registry.register::<LexiconConfig>()?;
    registry.register::<embedding::EmbeddingHeadConfig>()?;
    registry.register::<nli::NliClassifyConfig>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use stancepipe_core::Span;
    use std::path::Path;

    fn doc(parts: &[(&str, SentenceKind)]) -> Doc {
        Doc::from_sentences("d", parts)
    }

    fn content(parts: &[&str]) -> Doc {
        doc(&parts
            .iter()
            .map(|p| (*p, SentenceKind::Content))
            .collect::<Vec<_>>())
    }

    fn build(cfg: &LexiconConfig, ctx: &BuildContext) -> Box<dyn Stage> {
        cfg.build(ctx).unwrap()
    }

    fn run(cfg: &LexiconConfig, parts: &[&str]) -> Vec<Label> {
        let stage = build(cfg, &BuildContext::default());
        let mut docs = vec![content(parts)];
        stage.process(&mut docs).unwrap();
        docs.remove(0)
            .sentences
            .into_iter()
            .map(|s| s.label.unwrap())
            .collect()
    }

    fn names(labels: &[Label]) -> Vec<&str> {
        labels.iter().map(|l| l.label.as_str()).collect()
    }

    #[test]
    fn clear_sentences_get_the_obvious_label() {
        let l = run(
            &LexiconConfig::default(),
            &[
                "The company reported strong growth and an excellent quarter.",
                "Investors were worried about weak sales and mounting losses.",
                "WeChat remains defined as a social tool.",
            ],
        );
        assert_eq!(names(&l), ["positive", "negative", "neutral"]);
        assert!(l[0].score > 0.8, "{:?}", l[0]);
        assert!(l[1].score > 0.7, "{:?}", l[1]);
        assert_eq!(l[2].score, 1.0);
    }

    #[test]
    fn scores_sum_to_one_and_polarity_is_compound() {
        let stage = LexiconClassifier {
            lexicon: Lexicon::builtin(),
            positive_threshold: 0.05,
            negative_threshold: -0.05,
        };
        for text in [
            "The book was good.",
            "Unbelievably bad acting!!",
            "The board met on Tuesday.",
            "The merger was a disaster but the new products are impressive.",
        ] {
            let l = stage.label(text);
            let c = vader::polarity_scores(&Lexicon::builtin(), text).compound as f32;
            let sum: f32 = l.scores.values().sum();
            assert!((sum - 1.0).abs() < 1e-6, "{text}: {l:?}");
            assert_eq!(l.polarity(), c, "{text}");
            assert_eq!(l.score, l.scores[&l.label], "{text}");
            assert_eq!(l.scores.len(), 3);
        }
    }

    #[test]
    fn negation_flips_polarity() {
        let l = run(
            &LexiconConfig::default(),
            &["The results were good.", "The results were not good."],
        );
        assert_eq!(names(&l), ["positive", "negative"]);
        // VADER's negation scalar: -0.74 times the valence.
        let expected = vader::normalize(1.9 * -0.74) as f32;
        assert!((l[1].polarity() - expected).abs() < 1e-6, "{:?}", l[1]);
    }

    #[test]
    fn but_makes_the_second_clause_dominate() {
        let l = run(
            &LexiconConfig::default(),
            &[
                "The products are impressive but the merger was a disaster.",
                "The merger was a disaster but the new products are impressive.",
            ],
        );
        assert_eq!(names(&l), ["negative", "positive"]);
    }

    #[test]
    fn thresholds_move_the_neutral_band() {
        // "Revenue was slightly better than expected." scores about 0.38.
        let text = "Revenue was slightly better than expected.";
        let l = run(&LexiconConfig::default(), &[text]);
        assert_eq!(l[0].label, "positive");
        let strict = LexiconConfig {
            positive_threshold: 0.5,
            ..LexiconConfig::default()
        };
        let l = run(&strict, &[text]);
        assert_eq!(l[0].label, "neutral");
        assert!((l[0].score - (1.0 - l[0].polarity().abs())).abs() < 1e-6);
    }

    #[test]
    fn headings_get_no_label_and_stale_labels_are_replaced() {
        let mut d = doc(&[
            ("Excellent Results", SentenceKind::Heading),
            ("The quarter was terrible.", SentenceKind::Content),
        ]);
        // A stale label from an earlier run must not survive.
        d.sentences[0].label = Some(Label {
            label: "positive".into(),
            score: 1.0,
            scores: BTreeMap::new(),
        });
        let stage = build(&LexiconConfig::default(), &BuildContext::default());
        let mut docs = vec![d];
        stage.process(&mut docs).unwrap();
        stage.process(&mut docs).unwrap();
        assert_eq!(docs[0].sentences[0].label, None);
        assert_eq!(
            docs[0].sentences[1].label.as_ref().unwrap().label,
            "negative"
        );
    }

    #[test]
    fn bad_span_fails_only_that_document() {
        let stage = build(&LexiconConfig::default(), &BuildContext::default());
        let mut bad = content(&["Fine."]);
        bad.sentences[0].span = Span::new(0, 99);
        let mut docs = vec![content(&["Great."]), bad];
        match stage.process(&mut docs) {
            Err(StageError::Docs(errs)) => {
                assert_eq!(errs.len(), 1);
                assert_eq!(errs[0].0, 1);
                assert!(errs[0].1.contains("outside the text"), "{}", errs[0].1);
            }
            other => panic!("{other:?}"),
        }
        assert!(docs[0].sentences[0].label.is_some());
    }

    #[test]
    fn user_lexicon_replaces_the_builtin_one() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("fin.tsv"),
            "bullish\t2.5\nbearish\t-2.5\n\nShort\t-1.5\textra fields are ignored\n",
        )
        .unwrap();
        let ctx = BuildContext {
            base_dir: dir.path().to_path_buf(),
            companies: vec![],
        };
        let cfg = LexiconConfig {
            lexicon: Some(PathBuf::from("fin.tsv")),
            ..LexiconConfig::default()
        };
        cfg.check(&ctx).unwrap();
        let stage = build(&cfg, &ctx);
        let mut docs = vec![content(&[
            "Analysts are bullish on Alipay.",
            "Analysts are bearish on Alipay.",
            "Funds went short on WeChat.",
            // "great" is only in the built-in lexicon.
            "A great quarter.",
        ])];
        stage.process(&mut docs).unwrap();
        let got: Vec<&str> = docs[0]
            .sentences
            .iter()
            .map(|s| s.label.as_ref().unwrap().label.as_str())
            .collect();
        assert_eq!(got, ["positive", "negative", "negative", "neutral"]);
    }

    #[test]
    fn missing_user_lexicon_fails_check_with_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = BuildContext {
            base_dir: dir.path().to_path_buf(),
            companies: vec![],
        };
        let cfg = LexiconConfig {
            lexicon: Some(PathBuf::from("nope.tsv")),
            ..LexiconConfig::default()
        };
        let e = cfg.check(&ctx).unwrap_err();
        assert_eq!(e.key, "lexicon");
        assert!(e.message.contains("nope.tsv"), "{}", e.message);
        assert_eq!(cfg.build(&ctx).err().unwrap().key, "lexicon");
    }

    #[test]
    fn malformed_user_lexicon_names_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.tsv");
        std::fs::write(&path, "good\t2\nbad\t-2\ngreat 3\n").unwrap();
        let cfg = LexiconConfig {
            lexicon: Some(path.clone()),
            ..LexiconConfig::default()
        };
        let e = cfg.build(&BuildContext::default()).err().unwrap();
        assert_eq!(e.key, "lexicon");
        assert!(
            e.message.contains(&format!("{}:3:", path.display())),
            "{}",
            e.message
        );
        // An absolute path is used as is.
        assert!(Path::new(&path).is_absolute());
    }

    #[test]
    fn check_rejects_bad_thresholds_naming_the_key() {
        let ctx = BuildContext::default();
        let cfg = LexiconConfig {
            positive_threshold: 0.1,
            negative_threshold: 0.2,
            ..LexiconConfig::default()
        };
        assert_eq!(cfg.check(&ctx).unwrap_err().key, "negative_threshold");
        let cfg = LexiconConfig {
            positive_threshold: 1.5,
            ..LexiconConfig::default()
        };
        assert_eq!(cfg.check(&ctx).unwrap_err().key, "positive_threshold");
        let cfg = LexiconConfig {
            positive_threshold: 0.0,
            negative_threshold: 0.0,
            ..LexiconConfig::default()
        };
        assert_eq!(cfg.check(&ctx).unwrap_err().key, "negative_threshold");
        LexiconConfig::default().check(&ctx).unwrap();
    }

    #[test]
    fn every_option_is_documented() {
        let documented: Vec<&str> = LexiconConfig::OPTIONS.iter().map(|(k, _)| *k).collect();
        let full = LexiconConfig {
            lexicon: Some(PathBuf::from("x.tsv")),
            ..LexiconConfig::default()
        };
        for cfg in [LexiconConfig::default(), full] {
            let table = toml::Value::try_from(cfg).unwrap();
            for key in table.as_table().unwrap().keys() {
                assert!(documented.contains(&key.as_str()), "{key} not in OPTIONS");
            }
        }
        // And every documented option is a real field.
        let t: toml::Table = "lexicon = \"x\"\npositive_threshold = 0.1\nnegative_threshold = -0.1"
            .parse()
            .unwrap();
        assert_eq!(t.len(), documented.len());
        stancepipe_core::parse_options::<LexiconConfig>(t).unwrap();
    }

    #[test]
    fn registers_lexicon_as_the_default() {
        let mut r = Registry::new();
        register(&mut r).unwrap();
        assert_eq!(r.default_backend("classify"), Some("lexicon"));
        let f = r.factory("classify", None).unwrap();
        let cfg = f
            .parse("positive_threshold = 0.2".parse().unwrap())
            .unwrap();
        assert_eq!(cfg.requires(), vec![Annotation::Sentences]);
        assert_eq!(cfg.provides(), vec![Annotation::SentenceLabels]);
        assert_eq!(cfg.model(), None);
        let defaults: Vec<_> = f.options().into_iter().map(|o| o.default).collect();
        assert_eq!(
            defaults,
            [None, Some("0.05".to_string()), Some("-0.05".to_string())]
        );
        assert_eq!(
            f.parse("treshold = 1".parse().unwrap()).unwrap_err().key,
            "treshold"
        );
    }
}
