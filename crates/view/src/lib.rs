//! The HTML view of a document, shared by `stancepipe run --format html`
//! ([`RunPage`]) and `stancepipe eval`'s `report.html` (which adds the gold
//! side through [`Gold`]): the sentences colored by label with an anchor
//! each, the company mentions highlighted (a color per company; configured
//! and discovered names, references marked apart), the stance table with
//! each company's evidence linked to its sentences, the notes, the summary,
//! and an error record shown as an error.
//!
//! The markup lives in MiniJinja templates (`templates/`, compiled into the
//! binary), which escape every value; this module only computes the values
//! (byte spans → text pieces, colors, links). Pages are self-contained:
//! inline CSS and JS, no request leaves the file.

use serde::Serialize;
use stancepipe_core::{CompanyStance, Doc, Entity, Mention, Origin, SentenceKind, SummaryMethod};
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::sync::OnceLock;

/// HTML-escapes text for element content and attribute values (for the
/// markup written outside the templates).
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// The tag in the head of a [`RunPage`]: `stancepipe run` overwrites an
/// existing output file only when it is its own, and knows a page by it.
pub const GENERATOR_META: &str = r#"<meta name="generator" content="stancepipe run">"#;

/// How many company colors there are (`.c0` … `.c11` in [`DOC_STYLE`]);
/// further companies reuse them in turn.
pub const COLORS: usize = 12;

/// The CSS of the document view (both pages include it).
pub const DOC_STYLE: &str = r#"
.doc{border:1px solid #ddd;border-radius:6px;padding:.75rem;margin:1rem 0}
.doc h4{margin:.2rem 0 .5rem}.doc .source{color:#666;font-weight:normal}
.text{white-space:pre-wrap;font-size:.92rem}
.s{border-radius:3px;padding:0 1px}
.lab-positive{background:#d8f5d0}.lab-negative{background:#fbd5d5}.lab-neutral{background:#eeeeee}
.heading{font-weight:bold}
.ev{outline:2px solid #3b5bdb}
.s:target{outline:3px solid #f08c00}
.ev-tag{font-size:.7rem;color:#fff;background:var(--cd,#3b5bdb);border-radius:3px;padding:0 3px;margin-left:2px;vertical-align:super}
.dim .s:not(.sel){opacity:.35}
.sums{display:grid;grid-template-columns:1fr 1fr;gap:1rem}
.sums div{background:#fafafa;border:1px solid #eee;padding:.5rem;white-space:pre-wrap;font-size:.9rem}
.favor{color:#1b7f1b}.against{color:#b42318}.none{color:#666}.missing{color:#000;font-style:italic}
.error{color:#b42318;font-weight:bold}
.notes{font-size:.85rem;color:#7a4b00}
mark.m{background:var(--c);color:inherit;border-radius:2px;padding:0 1px}
mark.m.disc{border-bottom:2px dashed var(--cd)}
mark.m.ref{background:none;border-bottom:2px dotted var(--cd);font-style:italic}
.chip{background:var(--c);border-left:4px solid var(--cd);padding:0 .3rem;border-radius:3px}
.badge{font-size:.7rem;border-radius:3px;padding:0 4px;color:#fff;white-space:nowrap}
.badge.configured{background:#495057}.badge.discovered{background:#9c36b5}
.forms{color:#555}
td.evidence a{margin-right:.2rem}
.c0{--c:#ffe066;--cd:#e67700}.c1{--c:#a5d8ff;--cd:#1864ab}.c2{--c:#ffc9c9;--cd:#c92a2a}
.c3{--c:#b2f2bb;--cd:#2b8a3e}.c4{--c:#eebefa;--cd:#862e9c}.c5{--c:#ffd8a8;--cd:#d9480f}
.c6{--c:#99e9f2;--cd:#0b7285}.c7{--c:#d0bfff;--cd:#5f3dc4}.c8{--c:#fcc2d7;--cd:#a61e4d}
.c9{--c:#c0eb75;--cd:#5c940d}.c10{--c:#bac8ff;--cd:#364fc7}.c11{--c:#e9ecef;--cd:#495057}
"#;

/// The document view's script: the "show the evidence of" selector of each
/// document. Defines `stancepipeFocus()`, which a page's script calls.
pub const DOC_SCRIPT: &str = r#"
function stancepipeFocus(){
  document.querySelectorAll('select.focus').forEach(function(sel){
    sel.addEventListener('change',function(){
      var doc=document.getElementById(sel.getAttribute('data-doc'));
      doc.querySelectorAll('.s').forEach(function(s){
        var rows=(s.getAttribute('data-ev')||'').split(' ');
        s.classList.toggle('sel',sel.value!==''&&rows.indexOf(sel.value)>=0);});
      doc.classList.toggle('dim',sel.value!=='');
    });
  });
}
"#;

const PAGE_STYLE: &str = r#"
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5rem auto;max-width:1200px;padding:0 1rem;color:#222;line-height:1.45}
body.run{display:flex;flex-direction:column}
body.run>h1,body.run>#js-errors{order:-2}
#run-summary{order:-1;border-bottom:3px solid #444}
h1,h2,h3{line-height:1.2}
table{border-collapse:collapse;margin:.5rem 0 1rem}
th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;font-size:.9rem}
th{background:#f3f3f3}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.legend span{display:inline-block;padding:0 .4rem;margin-right:.3rem;border-radius:3px}
.note{font-size:.85rem;color:#555}
#js-errors{color:#b42318;font-weight:bold}
"#;

const PAGE_SCRIPT: &str = r#"
(function(){
  var errs=[];
  function fail(m){errs.push(String(m));var e=document.getElementById('js-errors');if(e){e.textContent='Script errors: '+errs.join(' | ');}}
  window.addEventListener('error',function(e){fail(e.message);});
  try{
    stancepipeFocus();
    if(!errs.length){document.body.setAttribute('data-rendered','ok');}
  }catch(e){fail(e&&e.stack?e.stack:e);}
})();
"#;

fn env() -> &'static minijinja::Environment<'static> {
    static ENV: OnceLock<minijinja::Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = minijinja::Environment::new();
        let mut syntax = minijinja::syntax::SyntaxConfig::builder();
        syntax.trim_blocks(true).lstrip_blocks(true);
        env.set_syntax(syntax.build().expect("default delimiters"));
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        for (name, source) in [
            ("doc.html", include_str!("../templates/doc.html")),
            (
                "page_head.html",
                include_str!("../templates/page_head.html"),
            ),
            (
                "page_foot.html",
                include_str!("../templates/page_foot.html"),
            ),
        ] {
            env.add_template(name, source)
                .unwrap_or_else(|e| panic!("template {name}: {e:#}"));
        }
        env
    })
}

fn render(name: &str, ctx: minijinja::Value) -> Result<String, minijinja::Error> {
    env().get_template(name)?.render(ctx)
}

/// One color per company name (case-insensitive), in the order the page
/// first meets them, so a company keeps its color across documents.
#[derive(Debug, Default)]
pub struct Palette {
    names: HashMap<String, usize>,
}

impl Palette {
    /// The color index (`.c{index}`) of a company.
    pub fn color(&mut self, company: &str) -> usize {
        let n = self.names.len();
        *self.names.entry(company.to_lowercase()).or_insert(n) % COLORS
    }
}

/// Eval's side of a document: the gold stances (each with the pipeline's
/// stance it is scored against) and the reference summary.
#[derive(Debug, Default)]
pub struct Gold<'a> {
    pub stances: Vec<GoldStance<'a>>,
    pub reference_summary: Option<&'a str>,
}

#[derive(Debug)]
pub struct GoldStance<'a> {
    pub company: &'a str,
    /// favor / against / none.
    pub stance: &'a str,
    /// Shown after the label, e.g. "low agreement".
    pub note: Option<&'a str>,
    /// The pipeline's stance for this company (one of the document's
    /// `stance` entries), `None` when it gave none.
    pub predicted: Option<&'a CompanyStance>,
}

#[derive(Serialize)]
struct Link {
    s: usize,
    n: usize,
    polarity: String,
    weight: String,
}

#[derive(Serialize)]
struct Row<'a> {
    i: usize,
    company: &'a str,
    color: usize,
    forms: String,
    origin: Option<&'static str>,
    gold: String,
    gold_class: &'static str,
    stance: &'static str,
    score: String,
    mentions: String,
    mentions_title: String,
    evidence: Vec<Link>,
}

#[derive(Serialize)]
struct Part<'a> {
    text: &'a str,
    mark: String,
    title: String,
}

#[derive(Serialize)]
struct Tag<'a> {
    name: &'a str,
    color: usize,
}

#[derive(Serialize)]
struct Sent<'a> {
    gap: &'a str,
    i: usize,
    class: String,
    title: String,
    ev: String,
    parts: Vec<Part<'a>>,
    tags: Vec<Tag<'a>>,
}

#[derive(Serialize)]
struct View<'a> {
    anchor: &'a str,
    id: &'a str,
    source: Option<&'a str>,
    error: Option<&'a stancepipe_core::DocError>,
    notes: &'a [String],
    gold: bool,
    rows: Vec<Row<'a>>,
    focus: bool,
    sentences: Vec<Sent<'a>>,
    tail: &'a str,
    pair: bool,
    has_summary: bool,
    summary: String,
    summary_how: String,
    reference: &'a str,
}

fn origin_name(o: Origin) -> &'static str {
    match o {
        Origin::Configured => "configured",
        Origin::Discovered => "discovered",
    }
}

fn origin_of(doc: &Doc, company: &str) -> Option<Origin> {
    doc.entities
        .iter()
        .find(|e| e.company == company)
        .or_else(|| {
            doc.entities
                .iter()
                .find(|e| e.company.eq_ignore_ascii_case(company))
        })
        .map(|e| e.origin)
}

fn row<'a>(
    doc: &'a Doc,
    i: usize,
    company: &'a str,
    st: Option<&'a CompanyStance>,
    palette: &mut Palette,
) -> Row<'a> {
    let entity = doc
        .entities
        .iter()
        .find(|e| e.company == company)
        .or_else(|| {
            doc.entities
                .iter()
                .find(|e| e.company.eq_ignore_ascii_case(company))
        });
    let (names, refs) = entity.map_or((0, 0), |e| {
        let refs = e.mentions.iter().filter(|m| m.reference).count();
        (e.mentions.len() - refs, refs)
    });
    let forms = entity.map_or(String::new(), |e| {
        e.forms
            .iter()
            .filter(|f| f.as_str() != company)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    });
    Row {
        i,
        company,
        color: palette.color(company),
        forms,
        origin: entity.map(|e| origin_name(e.origin)),
        gold: String::new(),
        gold_class: "",
        stance: st.map_or("missing", |s| s.stance.as_str()),
        score: st.map_or(String::new(), |s| format!("{:.2}", s.score)),
        mentions: st.map_or(String::new(), |s| s.mentions.to_string()),
        mentions_title: format!(
            "{names} name{} and {refs} reference{} in the text",
            if names == 1 { "" } else { "s" },
            if refs == 1 { "" } else { "s" }
        ),
        evidence: st.map_or(Vec::new(), |s| {
            s.evidence
                .iter()
                .filter(|e| e.sentence < doc.sentences.len())
                .map(|e| Link {
                    s: e.sentence,
                    n: e.sentence + 1,
                    polarity: format!("{:+.2}", e.polarity),
                    weight: format!("{:.2}", e.weight),
                })
                .collect()
        }),
    }
}

/// The text split into sentence spans (each with its anchor `{anchor}-s{i}`),
/// mentions marked inside them.
fn sentences<'a>(
    doc: &'a Doc,
    rows: &[Row<'a>],
    palette: &mut Palette,
) -> (Vec<Sent<'a>>, &'a str) {
    let text = doc.text.as_str();
    let ok = |a: usize, b: usize| {
        a <= b && b <= text.len() && text.is_char_boundary(a) && text.is_char_boundary(b)
    };
    // Sentence index → the rows it is evidence for.
    let mut evidence: HashMap<usize, Vec<usize>> = HashMap::new();
    for (ri, r) in rows.iter().enumerate() {
        for l in &r.evidence {
            let v = evidence.entry(l.s).or_default();
            if !v.contains(&ri) {
                v.push(ri);
            }
        }
    }
    // Sentence index → its mentions, each with its company.
    let mut mentions: HashMap<usize, Vec<(&Mention, &Entity)>> = HashMap::new();
    for e in &doc.entities {
        for m in &e.mentions {
            mentions.entry(m.sentence).or_default().push((m, e));
        }
    }
    let mut out = Vec::with_capacity(doc.sentences.len());
    let mut pos = 0;
    for (i, sent) in doc.sentences.iter().enumerate() {
        let (a, b) = (sent.span.start, sent.span.end);
        let rows_here = evidence.get(&i);
        let ev = rows_here.map_or(String::new(), |v| {
            v.iter()
                .map(|r| r.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        });
        if a < pos || !ok(a, b) {
            // Overlapping or out of range: an empty anchor, so that no
            // evidence link points nowhere.
            out.push(Sent {
                gap: "",
                i,
                class: "s skipped".into(),
                title: "sentence span outside the text".into(),
                ev,
                parts: Vec::new(),
                tags: Vec::new(),
            });
            continue;
        }
        let mut class = String::from("s");
        if let Some(l) = &sent.label {
            class.push_str(" lab-");
            class.push_str(&l.label);
        }
        if sent.kind == SentenceKind::Heading {
            class.push_str(" heading");
        }
        if rows_here.is_some() {
            class.push_str(" ev");
        }
        let title = sent.label.as_ref().map_or_else(
            || format!("sentence {}: no label", i + 1),
            |l| format!("sentence {}: {} {:.2}", i + 1, l.label, l.score),
        );
        let mut parts = Vec::new();
        let mut at = a;
        let mut here = mentions.remove(&i).unwrap_or_default();
        here.sort_by_key(|(m, _)| (m.span.start, std::cmp::Reverse(m.span.end)));
        for (m, entity) in here {
            let (s, e) = (m.span.start, m.span.end);
            if s < at || e > b || s >= e || !ok(s, e) {
                continue;
            }
            if s > at {
                parts.push(Part {
                    text: &text[at..s],
                    mark: String::new(),
                    title: String::new(),
                });
            }
            let (company, origin, alias) = (entity.company.as_str(), entity.origin, &m.alias);
            let mut mark = format!("m c{}", palette.color(company));
            let title = if m.reference {
                mark.push_str(" ref");
                format!("{company}: reference (“{alias}”)")
            } else {
                if origin == Origin::Discovered {
                    mark.push_str(" disc");
                }
                format!("{company}: {} name", origin_name(origin))
            };
            parts.push(Part {
                text: &text[s..e],
                mark,
                title,
            });
            at = e;
        }
        if at < b {
            parts.push(Part {
                text: &text[at..b],
                mark: String::new(),
                title: String::new(),
            });
        }
        let tags = rows_here
            .into_iter()
            .flatten()
            .map(|&r| Tag {
                name: rows[r].company,
                color: rows[r].color,
            })
            .collect();
        out.push(Sent {
            gap: &text[pos..a],
            i,
            class,
            title,
            ev,
            parts,
            tags,
        });
        pos = b;
    }
    (out, &text[pos.min(text.len())..])
}

/// Renders one document. `anchor` is its element id (unique in the page;
/// sentence `i` is `{anchor}-s{i}`); `gold` adds eval's columns and the
/// reference summary.
pub fn doc_view(anchor: &str, doc: &Doc, gold: Option<&Gold>, palette: &mut Palette) -> String {
    let mut rows: Vec<Row> = Vec::new();
    match gold {
        Some(g) => {
            for gs in &g.stances {
                let mut r = row(doc, rows.len(), gs.company, gs.predicted, palette);
                r.gold = match gs.note {
                    Some(n) => format!("{} ({n})", gs.stance),
                    None => gs.stance.to_string(),
                };
                r.gold_class = match gs.stance {
                    "favor" => "favor",
                    "against" => "against",
                    _ => "none",
                };
                rows.push(r);
            }
            // The pipeline's other companies (discovered ones, say): not scored.
            for st in &doc.stance {
                if !g
                    .stances
                    .iter()
                    .any(|gs| gs.predicted.is_some_and(|p| std::ptr::eq(p, st)))
                {
                    let mut r = row(doc, rows.len(), &st.company, Some(st), palette);
                    r.gold = "–".into();
                    r.gold_class = "unscored";
                    rows.push(r);
                }
            }
        }
        None => {
            for st in &doc.stance {
                rows.push(row(doc, rows.len(), &st.company, Some(st), palette));
            }
            // A company with mentions but no stance entry (a stage that
            // failed before stance): still listed.
            for e in &doc.entities {
                if !doc.stance.iter().any(|s| s.company == e.company) {
                    rows.push(row(doc, rows.len(), &e.company, None, palette));
                }
            }
        }
    }
    let (sentences, tail) = sentences(doc, &rows, palette);
    let (summary, summary_how) = match &doc.summary {
        Some(x) => {
            let method = match x.method {
                SummaryMethod::Abstractive => "abstractive",
                SummaryMethod::Extractive => "extractive",
            };
            (
                x.text.clone(),
                format!(
                    " ({method}, {}{})",
                    x.model,
                    x.note.as_ref().map_or(String::new(), |n| format!("; {n}"))
                ),
            )
        }
        None => ("(none)".to_string(), String::new()),
    };
    let view = View {
        anchor,
        id: &doc.id,
        source: doc.source.as_deref(),
        error: doc.error.as_ref(),
        notes: &doc.notes,
        gold: gold.is_some(),
        focus: rows.iter().any(|r| !r.evidence.is_empty()),
        rows,
        sentences,
        tail,
        pair: gold.is_some_and(|g| g.reference_summary.is_some() || doc.summary.is_some()),
        has_summary: doc.summary.is_some(),
        summary,
        summary_how,
        reference: gold.and_then(|g| g.reference_summary).unwrap_or("(none)"),
    };
    render("doc.html", minijinja::Value::from(minijinja::value::Serde(&view))).unwrap_or_else(|e| {
        // Never drop a document: its id and the failure, at least.
        format!(
            "<div class=doc id=\"{}\"><h4 class=doc-id>{}</h4><p class=error>could not render this document: {}</p></div>\n",
            esc(anchor),
            esc(&doc.id),
            esc(&format!("{e:#}"))
        )
    })
}

/// A company's line in the run's summary.
#[derive(Default, Serialize)]
struct CompanyTotal {
    name: String,
    color: usize,
    origins: Vec<&'static str>,
    docs: usize,
    favor: usize,
    against: usize,
    none: usize,
}

#[derive(Serialize)]
struct ErrorLink {
    anchor: String,
    id: String,
}

/// Error records listed by name in the summary (all are in the page).
const LISTED_ERRORS: usize = 100;

/// `stancepipe run --format html`: one self-contained page, written as the
/// documents come (each document's section is written and flushed when it
/// is final, so an interrupted run keeps what was done; the page's summary
/// and script come last, and the summary is shown at the top by CSS).
pub struct RunPage<W: Write> {
    out: W,
    started: bool,
    palette: Palette,
    documents: usize,
    errors: usize,
    error_docs: Vec<ErrorLink>,
    companies: Vec<CompanyTotal>,
    by_name: HashMap<String, usize>,
    digests: BTreeMap<String, usize>,
}

impl<W: Write> RunPage<W> {
    /// A page to be written to `out` (its head comes with the first document,
    /// or with [`RunPage::finish`] when there is none).
    pub fn new(out: W) -> Self {
        RunPage {
            out,
            started: false,
            palette: Palette::default(),
            documents: 0,
            errors: 0,
            error_docs: Vec::new(),
            companies: Vec::new(),
            by_name: HashMap::new(),
            digests: BTreeMap::new(),
        }
    }

    fn start(&mut self) -> std::io::Result<()> {
        if self.started {
            return Ok(());
        }
        let head = render(
            "page_head.html",
            minijinja::context! {
                title => "stancepipe run",
                generator => minijinja::Value::from_safe_string(GENERATOR_META.to_string()),
                style => minijinja::Value::from_safe_string(format!("{PAGE_STYLE}{DOC_STYLE}")),
            },
        )
        .map_err(std::io::Error::other)?;
        self.out.write_all(head.as_bytes())?;
        self.started = true;
        Ok(())
    }

    /// Writes one document (an error record too) and flushes.
    pub fn write(&mut self, doc: &Doc) -> std::io::Result<()> {
        self.start()?;
        let anchor = format!("doc-{}", self.documents);
        let html = doc_view(&anchor, doc, None, &mut self.palette);
        self.out.write_all(html.as_bytes())?;
        self.documents += 1;
        if doc.error.is_some() {
            self.errors += 1;
            if self.error_docs.len() < LISTED_ERRORS {
                self.error_docs.push(ErrorLink {
                    anchor,
                    id: doc.id.clone(),
                });
            }
        }
        if let Some(d) = &doc.config_digest {
            *self.digests.entry(d.clone()).or_default() += 1;
        }
        for st in &doc.stance {
            let origin = origin_of(doc, &st.company).map(origin_name);
            let key = st.company.to_lowercase();
            let idx = match self.by_name.get(&key) {
                Some(&i) => i,
                None => {
                    self.by_name.insert(key, self.companies.len());
                    self.companies.push(CompanyTotal {
                        name: st.company.clone(),
                        color: self.palette.color(&st.company),
                        ..Default::default()
                    });
                    self.companies.len() - 1
                }
            };
            let c = &mut self.companies[idx];
            if let Some(o) = origin {
                if !c.origins.contains(&o) {
                    c.origins.push(o);
                }
            }
            let named = st.mentions > 0
                || doc
                    .entities
                    .iter()
                    .any(|e| e.company == st.company && !e.mentions.is_empty());
            if named {
                c.docs += 1;
                match st.stance {
                    stancepipe_core::StanceLabel::Favor => c.favor += 1,
                    stancepipe_core::StanceLabel::Against => c.against += 1,
                    stancepipe_core::StanceLabel::None => c.none += 1,
                }
            }
        }
        self.out.flush()
    }

    /// Writes the run's summary and the script, flushes, and returns the writer.
    pub fn finish(mut self) -> std::io::Result<W> {
        self.start()?;
        let has = |c: &CompanyTotal, o: &str| c.origins.contains(&o);
        let configured = self
            .companies
            .iter()
            .filter(|c| has(c, "configured"))
            .count();
        let discovered = self
            .companies
            .iter()
            .filter(|c| has(c, "discovered"))
            .count();
        let digests = self
            .digests
            .keys()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", ");
        let foot = render(
            "page_foot.html",
            minijinja::context! {
                documents => self.documents,
                errors => self.errors,
                error_docs => minijinja::value::Serde(&self.error_docs),
                companies => minijinja::value::Serde(&self.companies),
                configured => configured,
                discovered => discovered,
                digests => digests,
                script => minijinja::Value::from_safe_string(format!("{DOC_SCRIPT}{PAGE_SCRIPT}")),
            },
        )
        .map_err(std::io::Error::other)?;
        self.out.write_all(foot.as_bytes())?;
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests;
