//! The evaluation report: `report.json` (schema in `docs/evaluation.md`,
//! versioned by [`REPORT_SCHEMA_VERSION`]), its Markdown rendering, and the
//! `--min` thresholds checked against it. The HTML rendering is in
//! [`crate::html`].

use crate::bootstrap::{Bootstrap, Estimate};
use crate::score::{Baselines, ClassScores, PipelineScores};
use serde::Serialize;
use std::fmt::Write;
use std::str::FromStr;

/// Version of `report.json`'s schema. Bump it on any change a reader of the
/// JSON would notice.
pub const REPORT_SCHEMA_VERSION: u32 = 2;

#[derive(Debug, Clone, Serialize)]
pub struct GoldInfo {
    pub path: String,
    pub format: String,
    /// `train` / `dev` / `test`, or null when the corpus is used whole.
    pub split: Option<String>,
    pub documents: usize,
    /// Gold entities with a stance label.
    pub entities: usize,
    pub sentences: usize,
    pub summaries: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct BootstrapInfo {
    pub resamples: usize,
    pub seed: u64,
    /// What is resampled: whole documents.
    pub unit: &'static str,
    pub confidence: f64,
    pub method: &'static str,
}

impl From<Bootstrap> for BootstrapInfo {
    fn from(b: Bootstrap) -> Self {
        BootstrapInfo {
            resamples: b.resamples,
            seed: b.seed,
            unit: "document",
            confidence: 0.95,
            method: "percentile",
        }
    }
}

/// One stage as it ran (from the built pipeline).
#[derive(Debug, Clone, Serialize)]
pub struct StageInfo {
    pub id: String,
    pub kind: String,
    pub backend: String,
    pub model: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PipelineReport {
    /// A short name (the config file's stem, made unique).
    pub name: String,
    pub config: String,
    pub stages: Vec<StageInfo>,
    /// Companies tracked during the evaluation (the gold entities).
    pub companies: usize,
    pub seconds: f64,
    #[serde(flatten)]
    pub scores: PipelineScores,
}

/// A `--min <metric>=<value>` requirement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Threshold {
    pub metric: String,
    pub min: f64,
}

impl FromStr for Threshold {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (m, v) = s
            .split_once('=')
            .ok_or_else(|| format!("--min {s:?}: expected <metric>=<value>, e.g. macro_f1=0.5"))?;
        let min: f64 = v
            .trim()
            .parse()
            .ok()
            .filter(|x: &f64| x.is_finite())
            .ok_or_else(|| format!("--min {s:?}: {v:?} is not a finite number"))?;
        Ok(Threshold {
            metric: m.trim().to_string(),
            min,
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ThresholdResult {
    /// The metric as resolved (e.g. `stance.macro_f1` for `macro_f1`).
    pub metric: String,
    pub min: f64,
    pub pipeline: String,
    pub value: f64,
    pub passed: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema_version: u32,
    /// `stancepipe <version>`.
    pub generator: String,
    pub command: String,
    pub gold: GoldInfo,
    pub bootstrap: BootstrapInfo,
    pub baselines: Baselines,
    pub pipelines: Vec<PipelineReport>,
    pub thresholds: Vec<ThresholdResult>,
}

fn class_headlines(prefix: &str, c: &ClassScores, out: &mut Vec<(String, Estimate)>) {
    out.push((format!("{prefix}.macro_f1"), c.macro_f1));
    out.push((format!("{prefix}.accuracy"), c.accuracy));
    if let Some(f) = c.f_avg {
        out.push((format!("{prefix}.f_avg"), f));
    }
}

impl PipelineScores {
    /// Every headline figure by its metric name (`stance.macro_f1`,
    /// `sentences.accuracy`, `summary.rougeL`, ...), in report order.
    pub fn headlines(&self) -> Vec<(String, Estimate)> {
        let mut out = Vec::new();
        if let Some(s) = &self.stance {
            class_headlines("stance", &s.scores, &mut out);
        }
        if let Some(s) = &self.sentences {
            class_headlines("sentences", &s.scores, &mut out);
        }
        if let Some(s) = &self.summary {
            for (k, v) in &s.fmeasure {
                out.push((format!("summary.{k}"), *v));
            }
        }
        if let Some(d) = &self.discovery {
            // Counts over the corpus, no resampling: the point value.
            let point = |v: f64| Estimate {
                value: v,
                ci_low: v,
                ci_high: v,
            };
            out.push(("discovery.recall".into(), point(d.recall)));
            out.push(("discovery.precision".into(), point(d.precision)));
        }
        out
    }
}

impl Baselines {
    fn headlines(&self) -> Vec<(String, Estimate)> {
        let mut out = Vec::new();
        if let Some(m) = &self.stance {
            class_headlines("stance", &m.scores, &mut out);
        }
        if let Some(m) = &self.sentences {
            class_headlines("sentences", &m.scores, &mut out);
        }
        out
    }
}

/// Resolves a metric name against the available ones: an exact name, or a
/// bare one (`macro_f1`, `rouge1`) meaning the first task that has it.
pub fn resolve_metric(name: &str, available: &[String]) -> Option<String> {
    available
        .iter()
        .find(|m| *m == name)
        .or_else(|| {
            available
                .iter()
                .find(|m| m.split_once('.').is_some_and(|(_, b)| b == name))
        })
        .cloned()
}

impl Report {
    /// Checks every threshold against every pipeline and records the results.
    /// Errors name a metric that this gold corpus does not produce.
    pub fn check(&mut self, thresholds: &[Threshold]) -> Result<(), String> {
        let mut results = Vec::new();
        for t in thresholds {
            for p in &self.pipelines {
                let heads = p.scores.headlines();
                let names: Vec<String> = heads.iter().map(|(n, _)| n.clone()).collect();
                let metric = resolve_metric(&t.metric, &names).ok_or_else(|| {
                    format!(
                        "--min {}: no such metric for this gold corpus (available: {})",
                        t.metric,
                        names.join(", ")
                    )
                })?;
                let value = heads
                    .iter()
                    .find(|(n, _)| *n == metric)
                    .map_or(f64::NAN, |(_, e)| e.value);
                results.push(ThresholdResult {
                    metric,
                    min: t.min,
                    pipeline: p.name.clone(),
                    value,
                    passed: value >= t.min,
                });
            }
        }
        self.thresholds = results;
        Ok(())
    }

    pub fn passed(&self) -> bool {
        self.thresholds.iter().all(|t| t.passed)
    }

    /// The headline rows: metric name, then one estimate per pipeline and
    /// the majority baseline's (when it has that metric).
    pub fn headline_rows(&self) -> Vec<(String, Vec<Option<Estimate>>, Option<Estimate>)> {
        let mut names: Vec<String> = Vec::new();
        for p in &self.pipelines {
            for (n, _) in p.scores.headlines() {
                if !names.contains(&n) {
                    names.push(n);
                }
            }
        }
        let base = self.baselines.headlines();
        names
            .into_iter()
            .map(|n| {
                let per: Vec<Option<Estimate>> = self
                    .pipelines
                    .iter()
                    .map(|p| {
                        p.scores
                            .headlines()
                            .into_iter()
                            .find(|(m, _)| *m == n)
                            .map(|(_, e)| e)
                    })
                    .collect();
                let b = base.iter().find(|(m, _)| *m == n).map(|(_, e)| *e);
                (n, per, b)
            })
            .collect()
    }

    /// `report.md`.
    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        let g = &self.gold;
        let _ = writeln!(s, "# Evaluation report\n");
        let _ = writeln!(
            s,
            "Gold: `{}` ({}{}): {} documents, {} stance entities, {} labeled sentences, {} reference summaries.  ",
            g.path,
            g.format,
            g.split.as_ref().map_or(String::new(), |x| format!(", split {x}")),
            g.documents,
            g.entities,
            g.sentences,
            g.summaries
        );
        let _ = writeln!(s, "Command: `{}`  ", self.command);
        let _ = writeln!(
            s,
            "Intervals: {:.0}% {} bootstrap over {}s, {} resamples, seed {}. Generator: {}.\n",
            self.bootstrap.confidence * 100.0,
            self.bootstrap.method,
            self.bootstrap.unit,
            self.bootstrap.resamples,
            self.bootstrap.seed,
            self.generator
        );
        let _ = writeln!(s, "## Headline figures\n");
        let mut header = String::from("| metric |");
        let mut rule = String::from("|---|");
        for p in &self.pipelines {
            let _ = write!(header, " {} |", p.name);
            rule.push_str("---|");
        }
        header.push_str(" majority class |");
        rule.push_str("---|");
        let _ = writeln!(s, "{header}\n{rule}");
        for (name, per, base) in self.headline_rows() {
            let _ = write!(s, "| {name} |");
            for e in per {
                let _ = write!(s, " {} |", e.map_or("–".into(), fmt_est));
            }
            let _ = writeln!(s, " {} |", base.map_or("–".into(), fmt_est));
        }
        if let Some(m) = &self.baselines.stance {
            let _ = writeln!(s, "\nMajority stance baseline: always `{}`.", m.label);
        }
        if let Some(m) = &self.baselines.sentences {
            let _ = writeln!(s, "\nMajority sentence baseline: always `{}`.", m.label);
        }
        for p in &self.pipelines {
            let _ = writeln!(s, "\n## Pipeline `{}` ({})\n", p.name, p.config);
            let d = &p.scores.documents;
            let _ = writeln!(
                s,
                "Documents: {} gold, {} returned, {} error records, {} missing; {} companies tracked; {:.1} s.\n",
                d.gold, d.ok, d.failed, d.missing, p.companies, p.seconds
            );
            let _ = writeln!(s, "| stage | kind | backend | model |\n|---|---|---|---|");
            for st in &p.stages {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} |",
                    st.id, st.kind, st.backend, st.model
                );
            }
            if let Some(st) = &p.scores.stance {
                let _ = writeln!(s, "\n### Stance (per gold entity)\n");
                let _ = writeln!(
                    s,
                    "Gold entities the pipeline found no mention of: {} of {}.\n",
                    st.not_found, st.scores.items
                );
                class_tables(&mut s, &st.scores);
            }
            if let Some(di) = &p.scores.discovery {
                let _ = writeln!(s, "\n### Discovered companies (per gold entity)\n");
                let _ = writeln!(
                    s,
                    "Found {} of {} gold entities (recall {:.3}; every one in {} of {} documents); {} of {} discovered companies are no gold entity (precision {:.3}; gold may list only some of a text's companies).",
                    di.found, di.gold, di.recall, di.documents_all_found, di.documents,
                    di.spurious, di.discovered, di.precision
                );
            }
            if let Some(se) = &p.scores.sentences {
                let _ = writeln!(s, "\n### Sentence labels (per gold sentence)\n");
                let _ = writeln!(
                    s,
                    "Gold sentences the pipeline cut into several: {} of {}.\n",
                    se.split, se.scores.items
                );
                class_tables(&mut s, &se.scores);
            }
            if let Some(su) = &p.scores.summary {
                let _ = writeln!(
                    s,
                    "\n### Summaries (ROUGE, mean over {} documents)\n",
                    su.documents
                );
                let _ = writeln!(
                    s,
                    "| variant | F1 [95% CI] | precision | recall |\n|---|---|---|---|"
                );
                for (k, e) in &su.fmeasure {
                    let _ = writeln!(
                        s,
                        "| {k} | {} | {:.4} | {:.4} |",
                        fmt_est(*e),
                        su.precision[k],
                        su.recall[k]
                    );
                }
                let methods: Vec<String> =
                    su.methods.iter().map(|(k, v)| format!("{k} {v}")).collect();
                let _ = writeln!(s, "\nSummary methods: {}.", methods.join(", "));
                for n in &su.notes {
                    let _ = writeln!(s, "Note: {n}");
                }
            }
        }
        if !self.thresholds.is_empty() {
            let _ = writeln!(
                s,
                "\n## Thresholds\n\n| pipeline | metric | value | min | |\n|---|---|---|---|---|"
            );
            for t in &self.thresholds {
                let _ = writeln!(
                    s,
                    "| {} | {} | {:.4} | {} | {} |",
                    t.pipeline,
                    t.metric,
                    t.value,
                    t.min,
                    if t.passed { "passed" } else { "FAILED" }
                );
            }
        }
        s
    }
}

/// `0.754 [0.712, 0.795]`.
pub fn fmt_est(e: Estimate) -> String {
    format!("{:.3} [{:.3}, {:.3}]", e.value, e.ci_low, e.ci_high)
}

fn class_tables(s: &mut String, c: &ClassScores) {
    let _ = writeln!(
        s,
        "| class | precision | recall | F1 | support |\n|---|---|---|---|---|"
    );
    for k in &c.report.classes {
        let _ = writeln!(
            s,
            "| {} | {:.3} | {:.3} | {:.3} | {} |",
            k.label, k.precision, k.recall, k.f1, k.support
        );
    }
    let _ = write!(
        s,
        "\nConfusion (rows gold, columns predicted):\n\n| gold \\ predicted |"
    );
    for l in &c.report.labels {
        let _ = write!(s, " {l} |");
    }
    let _ = writeln!(s, " missing |");
    let _ = writeln!(s, "|---|{}", "---|".repeat(c.report.labels.len() + 1));
    for (l, row) in c.report.labels.iter().zip(&c.report.confusion) {
        let cells: Vec<String> = row.iter().map(|n| n.to_string()).collect();
        let _ = writeln!(s, "| {l} | {} |", cells.join(" | "));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_parse_and_resolve() {
        let t: Threshold = "macro_f1=0.5".parse().unwrap();
        assert_eq!((t.metric.as_str(), t.min), ("macro_f1", 0.5));
        assert!("macro_f1".parse::<Threshold>().is_err());
        assert!("macro_f1=high".parse::<Threshold>().is_err());
        let avail: Vec<String> = ["stance.macro_f1", "sentences.macro_f1", "summary.rouge1"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            resolve_metric("macro_f1", &avail).unwrap(),
            "stance.macro_f1"
        );
        assert_eq!(
            resolve_metric("sentences.macro_f1", &avail).unwrap(),
            "sentences.macro_f1"
        );
        assert_eq!(resolve_metric("rouge1", &avail).unwrap(), "summary.rouge1");
        assert!(resolve_metric("rouge2", &avail).is_none());
    }
}
