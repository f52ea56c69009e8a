//! Scoring one pipeline's output against a gold corpus: stance per gold
//! entity, sentence labels per gold sentence, ROUGE per reference summary,
//! each headline figure with a bootstrap interval over documents.
//!
//! Nothing is skipped: a gold document the pipeline did not return, or
//! returned as an error record, counts as wrong for every entity and
//! sentence it holds ([`MISSING`]) and scores 0 on every ROUGE variant.

use crate::bootstrap::{Bootstrap, Estimate};
use crate::gold::GoldDoc;
use crate::metrics::ClassReport;
use crate::rouge;
use crate::MISSING;
use serde::Serialize;
use stancepipe_core::{labels, CompanyStance, Doc, SentenceKind, Span, StanceLabel, SummaryMethod};
use std::collections::{BTreeMap, HashMap};

/// Class metrics of one task, with intervals for the headline figures.
#[derive(Debug, Clone, Serialize)]
pub struct ClassScores {
    /// Scored items (gold entities or gold sentences).
    pub items: usize,
    pub macro_f1: Estimate,
    pub accuracy: Estimate,
    /// SemEval-2016 F_avg (favor and against F1); stance only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub f_avg: Option<Estimate>,
    pub report: ClassReport,
}

/// Per-company counts for the stance chart.
#[derive(Debug, Clone, Serialize)]
pub struct CompanyRow {
    pub company: String,
    /// Gold label -> count.
    pub gold: BTreeMap<String, usize>,
    /// Predicted label (or `missing`) -> count.
    pub predicted: BTreeMap<String, usize>,
    pub correct: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct StanceScores {
    #[serde(flatten)]
    pub scores: ClassScores,
    /// Gold entities of returned documents that the pipeline found no
    /// mention of (their stance is then `none` by the document rule): what
    /// mention finding costs.
    pub not_found: usize,
    /// Companies by number of gold entities, most first.
    pub companies: Vec<CompanyRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SentenceScores {
    #[serde(flatten)]
    pub scores: ClassScores,
    /// Gold sentences of returned documents that the pipeline's segmenter
    /// cut into two or more content sentences (the piece overlapping most is
    /// scored): what segmentation costs.
    pub split: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct SummaryScores {
    /// Documents with a reference summary.
    pub documents: usize,
    /// Mean F1 over documents of each variant, by rouge-score name
    /// (`rouge1`, `rouge2`, `rougeL`, `rougeLsum`).
    pub fmeasure: BTreeMap<String, Estimate>,
    /// Mean precision and recall (no intervals).
    pub precision: BTreeMap<String, f64>,
    pub recall: BTreeMap<String, f64>,
    /// How the summaries were made: `abstractive`, `extractive`, `missing`
    /// -> documents; a fallback shows up here.
    pub methods: BTreeMap<String, usize>,
    /// Distinct fallback notes written by the summarizer.
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct DocCounts {
    pub gold: usize,
    /// Returned without error.
    pub ok: usize,
    /// Returned as error records.
    pub failed: usize,
    /// Not returned at all.
    pub missing: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct PipelineScores {
    pub documents: DocCounts,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stance: Option<StanceScores>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sentences: Option<SentenceScores>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<SummaryScores>,
    /// With a pipeline that discovers companies: how well it found them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discovery: Option<DiscoveryScores>,
}

/// Pairs grouped per document (the bootstrap unit).
type Units = Vec<Vec<(String, String)>>;

fn class_scores(labels: &[&str], units: &Units, with_f_avg: bool, boot: Bootstrap) -> ClassScores {
    let units: Vec<&Vec<(String, String)>> = units.iter().filter(|u| !u.is_empty()).collect();
    let gather = |idx: &[usize]| -> Vec<(String, String)> {
        idx.iter().flat_map(|&i| units[i].iter().cloned()).collect()
    };
    let all: Vec<usize> = (0..units.len()).collect();
    let report = ClassReport::new(labels, &gather(&all));
    let est = boot.estimate(units.len(), |idx| {
        let r = ClassReport::new(labels, &gather(idx));
        vec![r.macro_f1, r.accuracy, r.f_avg().unwrap_or(0.0)]
    });
    ClassScores {
        items: report.support,
        macro_f1: est[0],
        accuracy: est[1],
        f_avg: with_f_avg.then_some(est[2]),
        report,
    }
}

/// The stance a document gives the company `name` (exact, else ASCII
/// case-insensitive, as mention matching is).
pub fn find_stance<'a>(doc: &'a Doc, name: &str) -> Option<&'a CompanyStance> {
    doc.stance
        .iter()
        .find(|s| s.company == name)
        .or_else(|| {
            doc.stance
                .iter()
                .find(|s| s.company.eq_ignore_ascii_case(name))
        })
        .or_else(|| {
            // A discovered company goes by the text's name for it.
            let e = discovered_match(doc, &[name])?;
            doc.stance.iter().find(|s| s.company == e.company)
        })
}

/// The first discovered company of `doc` that one of `names` names
/// ([`stancepipe_core::names::same_company`] with its name or a form).
fn discovered_match<'a>(doc: &'a Doc, names: &[&str]) -> Option<&'a stancepipe_core::Entity> {
    use stancepipe_core::names::same_company;
    doc.entities
        .iter()
        .filter(|e| e.origin == stancepipe_core::Origin::Discovered && !e.mentions.is_empty())
        .find(|e| {
            names
                .iter()
                .any(|n| same_company(n, &e.company) || e.forms.iter().any(|f| same_company(n, f)))
        })
}

/// How well a pipeline that discovers companies (`tokenize.discover`)
/// found the gold entities, which `eval` then does not hand it: a gold
/// entity is found when a discovered company has its name or an alias
/// ([`stancepipe_core::names::same_company`]); a discovered company that
/// is no gold entity is spurious (gold files may list only some of a
/// text's companies: read precision with that in mind).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DiscoveryScores {
    pub gold: usize,
    pub found: usize,
    pub missed: usize,
    pub discovered: usize,
    pub spurious: usize,
    /// found / gold.
    pub recall: f64,
    /// (discovered - spurious) / discovered.
    pub precision: f64,
    /// Documents with gold entities, and those where every one was found.
    pub documents: usize,
    pub documents_all_found: usize,
}

/// Scores discovery over the gold documents (failed or missing ones: every
/// entity missed).
pub fn discovery(gold: &[GoldDoc], predicted: &[Doc]) -> DiscoveryScores {
    let by_id: HashMap<&str, &Doc> = predicted.iter().rev().map(|d| (d.id.as_str(), d)).collect();
    let mut out = DiscoveryScores {
        gold: 0,
        found: 0,
        missed: 0,
        discovered: 0,
        spurious: 0,
        recall: 0.0,
        precision: 0.0,
        documents: 0,
        documents_all_found: 0,
    };
    for g in gold.iter().filter(|g| !g.entities.is_empty()) {
        let doc = by_id.get(g.id.as_str()).copied().filter(|d| d.is_ok());
        let names: Vec<Vec<&str>> = g
            .entities
            .iter()
            .map(|e| {
                std::iter::once(e.name.as_str())
                    .chain(e.aliases.iter().map(String::as_str))
                    .collect()
            })
            .collect();
        let found = names
            .iter()
            .filter(|n| doc.is_some_and(|d| discovered_match(d, n).is_some()))
            .count();
        out.documents += 1;
        out.documents_all_found += usize::from(found == names.len());
        out.gold += names.len();
        out.found += found;
        if let Some(d) = doc {
            for e in d.entities.iter().filter(|e| {
                e.origin == stancepipe_core::Origin::Discovered && !e.mentions.is_empty()
            }) {
                out.discovered += 1;
                let gold_one = names.iter().flatten().any(|n| {
                    stancepipe_core::names::same_company(n, &e.company)
                        || e.forms
                            .iter()
                            .any(|f| stancepipe_core::names::same_company(n, f))
                });
                out.spurious += usize::from(!gold_one);
            }
        }
    }
    out.missed = out.gold - out.found;
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    out.recall = ratio(out.found, out.gold);
    out.precision = ratio(out.discovered - out.spurious, out.discovered);
    out
}

/// The predicted stance label of a gold entity, [`MISSING`] when the
/// document is missing or failed or has no stance for it.
pub fn predicted_stance<'a>(doc: Option<&'a Doc>, name: &str) -> &'a str {
    doc.filter(|d| d.is_ok())
        .and_then(|d| find_stance(d, name))
        .map_or(MISSING, |s| s.stance.as_str())
}

/// The predicted label of a gold sentence: that of the labeled content
/// sentence overlapping it most (the pipeline segments on its own, so spans
/// need not coincide); [`MISSING`] when none overlaps.
pub fn predicted_sentence_label(doc: Option<&Doc>, span: Span) -> &str {
    let Some(doc) = doc.filter(|d| d.is_ok()) else {
        return MISSING;
    };
    let mut best: Option<(usize, &str)> = None;
    for s in &doc.sentences {
        let Some(label) = s.label.as_ref().filter(|_| s.kind == SentenceKind::Content) else {
            continue;
        };
        let overlap = s
            .span
            .end
            .min(span.end)
            .saturating_sub(s.span.start.max(span.start));
        if overlap > 0 && best.is_none_or(|(b, _)| overlap > b) {
            best = Some((overlap, label.label.as_str()));
        }
    }
    best.map_or(MISSING, |(_, l)| l)
}

/// The sentence label set: the pipeline vocabulary, then any other gold label.
fn sentence_labels(gold: &[GoldDoc]) -> Vec<String> {
    let mut out: Vec<String> = labels::ALL.iter().map(|s| s.to_string()).collect();
    for s in gold.iter().flat_map(|g| &g.sentences) {
        if !out.contains(&s.label) {
            out.push(s.label.clone());
        }
    }
    out
}

fn stance_labels() -> Vec<&'static str> {
    StanceLabel::ALL.iter().map(|s| s.as_str()).collect()
}

fn company_rows(gold: &[GoldDoc], units: &Units) -> Vec<CompanyRow> {
    let mut rows: Vec<CompanyRow> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (g, pairs) in gold.iter().zip(units) {
        let entities = g.entities.iter().filter(|e| e.stance.is_some());
        for (e, (gl, pl)) in entities.zip(pairs) {
            let key = e.name.to_ascii_lowercase();
            let i = *index.entry(key).or_insert_with(|| {
                rows.push(CompanyRow {
                    company: e.name.clone(),
                    gold: BTreeMap::new(),
                    predicted: BTreeMap::new(),
                    correct: 0,
                });
                rows.len() - 1
            });
            let row = &mut rows[i];
            *row.gold.entry(gl.clone()).or_default() += 1;
            *row.predicted.entry(pl.clone()).or_default() += 1;
            row.correct += usize::from(gl == pl);
        }
    }
    // Stable: ties keep first-seen order.
    rows.sort_by_key(|r| std::cmp::Reverse(r.gold.values().sum::<usize>()));
    rows
}

/// Scores `predicted` (any order; matched to gold by id) against `gold`.
pub fn score(gold: &[GoldDoc], predicted: &[Doc], boot: Bootstrap) -> PipelineScores {
    let by_id: HashMap<&str, &Doc> = predicted.iter().rev().map(|d| (d.id.as_str(), d)).collect();
    let docs: Vec<Option<&Doc>> = gold
        .iter()
        .map(|g| by_id.get(g.id.as_str()).copied())
        .collect();
    let mut counts = DocCounts {
        gold: gold.len(),
        ..Default::default()
    };
    for d in &docs {
        match d {
            Some(d) if d.is_ok() => counts.ok += 1,
            Some(_) => counts.failed += 1,
            None => counts.missing += 1,
        }
    }

    let stance_units: Units = gold
        .iter()
        .zip(&docs)
        .map(|(g, d)| {
            g.entities
                .iter()
                .filter_map(|e| {
                    let gl = e.stance?;
                    Some((
                        gl.as_str().to_string(),
                        predicted_stance(*d, &e.name).to_string(),
                    ))
                })
                .collect()
        })
        .collect();
    let not_found = gold
        .iter()
        .zip(&docs)
        .filter_map(|(g, d)| Some((g, d.filter(|d| d.is_ok())?)))
        .flat_map(|(g, d)| {
            g.entities
                .iter()
                .filter(|e| e.stance.is_some())
                .map(move |e| find_stance(d, &e.name).is_none_or(|s| s.mentions == 0))
        })
        .filter(|&missed| missed)
        .count();
    let stance = stance_units
        .iter()
        .any(|u| !u.is_empty())
        .then(|| StanceScores {
            scores: class_scores(&stance_labels(), &stance_units, true, boot),
            not_found,
            companies: company_rows(gold, &stance_units),
        });

    let sentence_units: Units = gold
        .iter()
        .zip(&docs)
        .map(|(g, d)| {
            g.sentences
                .iter()
                .map(|s| {
                    let p = predicted_sentence_label(*d, Span::new(s.start, s.end.max(s.start)));
                    (s.label.clone(), p.to_string())
                })
                .collect()
        })
        .collect();
    let split = gold
        .iter()
        .zip(&docs)
        .filter_map(|(g, d)| Some((g, d.filter(|d| d.is_ok())?)))
        .flat_map(|(g, d)| {
            g.sentences.iter().map(move |s| {
                d.sentences
                    .iter()
                    .filter(|p| p.kind == SentenceKind::Content)
                    .filter(|p| p.span.start.max(s.start) < p.span.end.min(s.end))
                    .count()
                    > 1
            })
        })
        .filter(|&cut| cut)
        .count();
    let sentences = sentence_units.iter().any(|u| !u.is_empty()).then(|| {
        let labels = sentence_labels(gold);
        let refs: Vec<&str> = labels.iter().map(String::as_str).collect();
        SentenceScores {
            scores: class_scores(&refs, &sentence_units, false, boot),
            split,
        }
    });

    let mut methods: BTreeMap<String, usize> = BTreeMap::new();
    let mut notes: Vec<String> = Vec::new();
    let rouge_units: Vec<rouge::RougeScores> = gold
        .iter()
        .zip(&docs)
        .filter_map(|(g, d)| {
            let reference = g.reference_summary.as_deref()?;
            let summary = d.filter(|d| d.is_ok()).and_then(|d| d.summary.as_ref());
            let method = match summary {
                None => MISSING,
                Some(s) if s.method == SummaryMethod::Abstractive => "abstractive",
                Some(_) => "extractive",
            };
            *methods.entry(method.to_string()).or_default() += 1;
            if let Some(n) = summary.and_then(|s| s.note.as_ref()) {
                if !notes.contains(n) {
                    notes.push(n.clone());
                }
            }
            Some(summary.map_or_else(Default::default, |s| rouge::score(reference, &s.text)))
        })
        .collect();
    let summary = (!rouge_units.is_empty()).then(|| {
        let mean = |idx: &[usize], f: &dyn Fn(&rouge::RougeScores) -> [f64; 4]| -> Vec<f64> {
            let mut sum = [0.0; 4];
            for &i in idx {
                for (s, v) in sum.iter_mut().zip(f(&rouge_units[i])) {
                    *s += v;
                }
            }
            sum.iter().map(|s| s / idx.len().max(1) as f64).collect()
        };
        let fm = |r: &rouge::RougeScores| r.named().map(|(_, s)| s.fmeasure);
        let est = boot.estimate(rouge_units.len(), |idx| mean(idx, &fm));
        let all: Vec<usize> = (0..rouge_units.len()).collect();
        let p = mean(&all, &|r| r.named().map(|(_, s)| s.precision));
        let r = mean(&all, &|r| r.named().map(|(_, s)| s.recall));
        let names = rouge::RougeScores::default()
            .named()
            .map(|(n, _)| n.to_string());
        SummaryScores {
            documents: rouge_units.len(),
            fmeasure: names.iter().cloned().zip(est).collect(),
            precision: names.iter().cloned().zip(p).collect(),
            recall: names.iter().cloned().zip(r).collect(),
            methods,
            notes,
        }
    });

    PipelineScores {
        documents: counts,
        stance,
        sentences,
        summary,
        discovery: None,
    }
}

/// The majority-class baseline of each classification task: always the most
/// frequent gold label of the evaluated set (ties: label order). An upper
/// bound for any constant predictor on this set.
#[derive(Debug, Clone, Serialize)]
pub struct Majority {
    pub label: String,
    #[serde(flatten)]
    pub scores: ClassScores,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Baselines {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stance: Option<Majority>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sentences: Option<Majority>,
}

fn majority(
    labels: &[&str],
    gold_units: Vec<Vec<String>>,
    f_avg: bool,
    boot: Bootstrap,
) -> Option<Majority> {
    let mut counts: Vec<usize> = vec![0; labels.len()];
    for l in gold_units.iter().flatten() {
        if let Some(i) = labels.iter().position(|x| x == l) {
            counts[i] += 1;
        }
    }
    let best = (0..labels.len()).max_by_key(|&i| (counts[i], std::cmp::Reverse(i)))?;
    if counts[best] == 0 {
        return None;
    }
    let label = labels[best].to_string();
    let units: Units = gold_units
        .into_iter()
        .map(|u| u.into_iter().map(|g| (g, label.clone())).collect())
        .collect();
    Some(Majority {
        scores: class_scores(labels, &units, f_avg, boot),
        label,
    })
}

/// Majority baselines of the gold set's classification tasks.
pub fn baselines(gold: &[GoldDoc], boot: Bootstrap) -> Baselines {
    let stance_units = gold
        .iter()
        .map(|g| {
            g.entities
                .iter()
                .filter_map(|e| e.stance.map(|s| s.as_str().to_string()))
                .collect()
        })
        .collect();
    let sentence_units = gold
        .iter()
        .map(|g| g.sentences.iter().map(|s| s.label.clone()).collect())
        .collect();
    let labels = sentence_labels(gold);
    let refs: Vec<&str> = labels.iter().map(String::as_str).collect();
    Baselines {
        stance: majority(&stance_labels(), stance_units, true, boot),
        sentences: majority(&refs, sentence_units, false, boot),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gold::parse_gold;
    use stancepipe_core::{Label, Sentence, Summary};

    fn stance(company: &str, s: StanceLabel) -> CompanyStance {
        CompanyStance {
            company: company.into(),
            stance: s,
            score: 1.0,
            evidence: vec![],
            mentions: 1,
        }
    }

    fn labeled(start: usize, end: usize, l: &str) -> Sentence {
        Sentence {
            span: Span::new(start, end),
            kind: SentenceKind::Content,
            tokens: None,
            label: Some(Label {
                label: l.into(),
                score: 1.0,
                scores: Default::default(),
            }),
        }
    }

    #[test]
    fn scores_every_task_and_counts_missing_as_wrong() {
        let gold = parse_gold(
            r#"{"id":"a","text":"Acme rose. Bolt fell.","entities":[{"name":"acme","stance":"favor"},{"name":"Bolt","stance":"against"}],"sentences":[{"start":0,"end":10,"label":"positive"},{"start":11,"end":21,"label":"negative"}],"reference_summary":"Acme rose."}
{"id":"b","text":"x","entities":[{"name":"Acme","stance":"none"}],"reference_summary":"Bolt fell."}
{"id":"c","text":"y","sentences":[{"start":0,"end":1,"label":"neutral"}]}"#,
        )
        .unwrap();
        let mut a = Doc::new("a", "Acme rose. Bolt fell.");
        a.stance = vec![
            stance("Acme", StanceLabel::Favor),
            stance("Bolt", StanceLabel::None),
        ];
        // One predicted sentence covering both gold sentences, then a tiny one:
        // the larger overlap decides.
        a.sentences = vec![labeled(0, 15, "positive"), labeled(15, 21, "negative")];
        a.summary = Some(Summary {
            text: "Acme rose.".into(),
            method: SummaryMethod::Extractive,
            model: "none".into(),
            sentences: vec![0],
            note: None,
        });
        let b = Doc::failed("b", "classify", "boom");
        let s = score(&gold, &[b, a], Bootstrap::default());
        assert_eq!(
            (s.documents.ok, s.documents.failed, s.documents.missing),
            (1, 1, 1)
        );

        let st = s.stance.unwrap();
        // acme→Acme (case-insensitive) right; Bolt wrong; b's Acme missing.
        assert_eq!(st.scores.items, 3);
        assert!((st.scores.accuracy.value - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(st.scores.report.confusion[2], vec![0, 0, 0, 1]);
        assert_eq!(st.companies[0].company, "acme");
        assert_eq!(st.companies[0].correct, 1);
        assert!(st.scores.f_avg.is_some());
        // a's stances have mentions (the helper sets 1); b failed, not counted.
        assert_eq!(st.not_found, 0);

        let se = s.sentences.unwrap();
        // a's second gold sentence (11..21) is cut by the predicted 0..15 | 15..21.
        assert_eq!(se.split, 1);
        let se = se.scores;
        // a: positive right, negative (11..21 overlaps 0..15 by 4, 15..21 by 6) right; c missing.
        assert_eq!(se.items, 3);
        assert!((se.accuracy.value - 2.0 / 3.0).abs() < 1e-12);
        assert!(se.f_avg.is_none());

        let su = s.summary.unwrap();
        assert_eq!(su.documents, 2);
        // a is a perfect summary, b is missing: mean F = 0.5.
        assert!((su.fmeasure["rouge1"].value - 0.5).abs() < 1e-12);
        assert_eq!(su.methods["extractive"], 1);
        assert_eq!(su.methods[MISSING], 1);

        let base = baselines(&gold, Bootstrap::default());
        let m = base.stance.unwrap();
        assert_eq!(m.label, "favor", "ties go to label order");
        assert!((m.scores.accuracy.value - 1.0 / 3.0).abs() < 1e-12);
    }
}
