//! `report.html`: one self-contained page (inline CSS, JS and SVG; no
//! request leaves the file, so it opens from disk anywhere). Per pipeline:
//! the metric tables, a chart of stance per company (drawn by the inline
//! script from the embedded report data), and the first documents with
//! their sentences colored by label, each company's evidence sentences
//! marked, and the summary beside the reference.
//!
//! The script records any error in `#js-errors` and sets
//! `<body data-rendered="ok">` when it has drawn everything, which is what
//! the headless-Chromium test checks.

use crate::gold::GoldDoc;
use crate::report::{fmt_est, Report};
use crate::score::ClassScores;
use stancepipe_core::Doc;
pub use stancepipe_view::esc;
use stancepipe_view::{Gold, GoldStance, Palette, DOC_SCRIPT, DOC_STYLE};
use std::collections::HashMap;
use std::fmt::Write;

const STYLE: &str = r#"
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5rem auto;max-width:1200px;padding:0 1rem;color:#222;line-height:1.45}
h1,h2,h3{line-height:1.2}
table{border-collapse:collapse;margin:.5rem 0 1rem}
th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;font-size:.9rem}
th{background:#f3f3f3}
td.num{text-align:right;font-variant-numeric:tabular-nums}
code{background:#f5f5f5;padding:0 .2rem}
section.pipeline{border-top:3px solid #444;margin-top:2rem}
.legend span{display:inline-block;padding:0 .4rem;margin-right:.3rem;border-radius:3px}
#js-errors{color:#b42318;font-weight:bold}
"#;

const SCRIPT: &str = r#"
(function(){
  var errs=[];
  function fail(m){errs.push(String(m));var e=document.getElementById('js-errors');if(e){e.textContent='Script errors: '+errs.join(' | ');}}
  window.addEventListener('error',function(e){fail(e.message);});
  var COLORS={favor:'#2f9e44',against:'#e03131',none:'#adb5bd',missing:'#212529'};
  var ORDER=['favor','against','none','missing'];
  var NS='http://www.w3.org/2000/svg';
  function el(name,attrs,text){var n=document.createElementNS(NS,name);for(var k in attrs){n.setAttribute(k,attrs[k]);}if(text!==undefined){n.textContent=text;}return n;}
  function bar(svg,y,counts,total,x0,w,label){
    var x=x0;
    svg.appendChild(el('text',{x:x0-6,y:y+11,'text-anchor':'end','font-size':'10'},label));
    ORDER.forEach(function(k){var c=counts[k]||0;if(!c){return;}var bw=w*c/total;
      var r=el('rect',{x:x,y:y,width:Math.max(bw,1),height:13,fill:COLORS[k]});
      r.appendChild(el('title',{},k+': '+c));svg.appendChild(r);x+=bw;});
  }
  function chart(holder,rows){
    var lw=180,w=360,rowH=34,h=rows.length*rowH+24;
    var svg=el('svg',{width:lw+w+120,height:h,role:'img','aria-label':'stance per company'});
    rows.forEach(function(r,i){
      var y=i*rowH+4,total=0,k;for(k in r.gold){total+=r.gold[k];}
      svg.appendChild(el('text',{x:0,y:y+18,'font-size':'12','class':'company'},r.company));
      bar(svg,y,r.gold,total,lw,w,'gold');
      bar(svg,y+15,r.predicted,total,lw,w,'predicted');
      svg.appendChild(el('text',{x:lw+w+6,y:y+18,'font-size':'11'},r.correct+'/'+total+' right'));
    });
    var ly=rows.length*rowH+16,lx=lw;
    ORDER.forEach(function(k){svg.appendChild(el('rect',{x:lx,y:ly-9,width:10,height:10,fill:COLORS[k]}));
      svg.appendChild(el('text',{x:lx+14,y:ly,'font-size':'11'},k));lx+=80;});
    holder.appendChild(svg);
  }
  try{
    var data=JSON.parse(document.getElementById('report-data').textContent);
    document.querySelectorAll('.chart').forEach(function(h){
      var p=data.pipelines[+h.getAttribute('data-pipeline')];
      if(p&&p.stance){chart(h,p.stance.companies.slice(0,+h.getAttribute('data-max')));}
    });
    stancepipeFocus();
    if(!errs.length){document.body.setAttribute('data-rendered','ok');}
  }catch(e){fail(e&&e.stack?e.stack:e);}
})();
"#;

fn class_table(s: &mut String, title: &str, c: &ClassScores) {
    let _ = write!(
        s,
        "<h4>{}</h4><table><tr><th>class</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr>",
        esc(title)
    );
    for k in &c.report.classes {
        let _ = write!(
            s,
            "<tr><td>{}</td><td class=num>{:.3}</td><td class=num>{:.3}</td><td class=num>{:.3}</td><td class=num>{}</td></tr>",
            esc(&k.label),
            k.precision,
            k.recall,
            k.f1,
            k.support
        );
    }
    let _ = write!(s, "</table><table><tr><th>gold \\ predicted</th>");
    for l in &c.report.labels {
        let _ = write!(s, "<th>{}</th>", esc(l));
    }
    let _ = write!(s, "<th>missing</th></tr>");
    for (l, row) in c.report.labels.iter().zip(&c.report.confusion) {
        let _ = write!(s, "<tr><th>{}</th>", esc(l));
        for n in row {
            let _ = write!(s, "<td class=num>{n}</td>");
        }
        let _ = write!(s, "</tr>");
    }
    let _ = write!(s, "</table>");
}

/// One document in the shared view, with its gold stances (each against
/// the pipeline's stance for the same name) and reference summary.
fn doc_section(
    s: &mut String,
    pi: usize,
    di: usize,
    gold: &GoldDoc,
    doc: Option<&Doc>,
    palette: &mut Palette,
) {
    let anchor = format!("doc-{pi}-{di}");
    let Some(doc) = doc else {
        let _ = write!(
            s,
            "<div class=doc id=\"{anchor}\"><h4>{}</h4><p class=missing>not returned by the pipeline</p></div>",
            esc(&gold.id)
        );
        return;
    };
    let view = Gold {
        stances: gold
            .entities
            .iter()
            .filter_map(|e| {
                Some(GoldStance {
                    company: &e.name,
                    stance: e.stance?.as_str(),
                    note: (e.agreement.as_deref() == Some("low")).then_some("low agreement"),
                    predicted: doc
                        .is_ok()
                        .then(|| crate::score::find_stance(doc, &e.name))
                        .flatten(),
                })
            })
            .collect(),
        reference_summary: gold.reference_summary.as_deref(),
    };
    s.push_str(&stancepipe_view::doc_view(
        &anchor,
        doc,
        Some(&view),
        palette,
    ));
}

/// Renders the page. `runs[i]` is pipeline `i`'s output (any order);
/// `max_docs` documents per pipeline are shown, in gold order.
pub fn render(
    report: &Report,
    gold: &[GoldDoc],
    runs: &[Vec<Doc>],
    max_docs: usize,
    max_companies: usize,
) -> String {
    let mut s = String::new();
    let mut palette = Palette::default();
    let _ = write!(
        s,
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8><meta name=viewport content=\"width=device-width,initial-scale=1\"><title>stancepipe evaluation: {}</title><style>{STYLE}{DOC_STYLE}</style></head><body>",
        esc(&report.gold.path)
    );
    let g = &report.gold;
    let _ = write!(
        s,
        "<h1>Evaluation report</h1><p id=js-errors></p><p>Gold <code>{}</code> ({}{}): {} documents, {} stance entities, {} labeled sentences, {} reference summaries.<br>Command: <code>{}</code><br>Intervals: 95% percentile bootstrap over documents, {} resamples, seed {}. {}.</p>",
        esc(&g.path),
        esc(&g.format),
        g.split.as_ref().map_or(String::new(), |x| format!(", split {}", esc(x))),
        g.documents,
        g.entities,
        g.sentences,
        g.summaries,
        esc(&report.command),
        report.bootstrap.resamples,
        report.bootstrap.seed,
        esc(&report.generator)
    );
    let _ = write!(
        s,
        "<h2>Headline figures</h2><table id=headline><tr><th>metric</th>"
    );
    for p in &report.pipelines {
        let _ = write!(s, "<th>{}</th>", esc(&p.name));
    }
    let _ = write!(s, "<th>majority class</th></tr>");
    for (name, per, base) in report.headline_rows() {
        let _ = write!(s, "<tr><td>{}</td>", esc(&name));
        for e in per {
            let _ = write!(s, "<td class=num>{}</td>", e.map_or("–".into(), fmt_est));
        }
        let _ = write!(
            s,
            "<td class=num>{}</td></tr>",
            base.map_or("–".into(), fmt_est)
        );
    }
    let _ = write!(s, "</table>");
    if !report.thresholds.is_empty() {
        let _ = write!(s, "<h3>Thresholds</h3><table><tr><th>pipeline</th><th>metric</th><th>value</th><th>min</th><th></th></tr>");
        for t in &report.thresholds {
            let _ = write!(
                s,
                "<tr><td>{}</td><td>{}</td><td class=num>{:.4}</td><td class=num>{}</td><td>{}</td></tr>",
                esc(&t.pipeline),
                esc(&t.metric),
                t.value,
                t.min,
                if t.passed { "passed" } else { "FAILED" }
            );
        }
        let _ = write!(s, "</table>");
    }
    let _ = write!(
        s,
        "<p class=legend>Sentence colors: <span class=lab-positive>positive</span><span class=lab-negative>negative</span><span class=lab-neutral>neutral</span><span class=ev>evidence sentence</span> · Mentions: <mark class=\"m c0\">a name</mark> <mark class=\"m disc c0\">a discovered name</mark> <mark class=\"m ref c0\">a reference</mark></p>"
    );
    for (pi, p) in report.pipelines.iter().enumerate() {
        let _ = write!(
            s,
            "<section class=pipeline id=\"pipeline-{pi}\"><h2>Pipeline {}</h2><p><code>{}</code>; {} companies tracked; {:.1} s. Documents: {} gold, {} returned, {} error records, {} missing.</p>",
            esc(&p.name),
            esc(&p.config),
            p.companies,
            p.seconds,
            p.scores.documents.gold,
            p.scores.documents.ok,
            p.scores.documents.failed,
            p.scores.documents.missing
        );
        let _ = write!(
            s,
            "<table><tr><th>stage</th><th>kind</th><th>backend</th><th>model</th></tr>"
        );
        for st in &p.stages {
            let _ = write!(
                s,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&st.id),
                esc(&st.kind),
                esc(&st.backend),
                esc(&st.model)
            );
        }
        let _ = write!(s, "</table>");
        if let Some(st) = &p.scores.stance {
            let _ = write!(s, "<h3>Stance per company</h3>");
            let shown = st.companies.len().min(max_companies);
            if shown < st.companies.len() {
                let _ = write!(
                    s,
                    "<p>The {shown} companies with the most gold entities, of {}.</p>",
                    st.companies.len()
                );
            }
            let _ = write!(
                s,
                "<div class=chart id=\"chart-{pi}\" data-pipeline={pi} data-max={shown}></div>"
            );
            let _ = write!(
                s,
                "<p>Gold entities the pipeline found no mention of: {} of {}.</p>",
                st.not_found, st.scores.items
            );
            class_table(&mut s, "Stance (per gold entity)", &st.scores);
        }
        if let Some(se) = &p.scores.sentences {
            let _ = write!(
                s,
                "<p>Gold sentences the pipeline cut into several: {} of {}.</p>",
                se.split, se.scores.items
            );
            class_table(&mut s, "Sentence labels (per gold sentence)", &se.scores);
        }
        if let Some(su) = &p.scores.summary {
            let _ = write!(
                s,
                "<h4>Summaries (ROUGE, mean over {} documents)</h4><table><tr><th>variant</th><th>F1 [95% CI]</th><th>precision</th><th>recall</th></tr>",
                su.documents
            );
            for (k, e) in &su.fmeasure {
                let _ = write!(
                    s,
                    "<tr><td>{}</td><td class=num>{}</td><td class=num>{:.4}</td><td class=num>{:.4}</td></tr>",
                    esc(k),
                    fmt_est(*e),
                    su.precision[k],
                    su.recall[k]
                );
            }
            let methods: Vec<String> = su.methods.iter().map(|(k, v)| format!("{k} {v}")).collect();
            let _ = write!(
                s,
                "</table><p>Summary methods: {}.</p>",
                esc(&methods.join(", "))
            );
        }
        let shown = gold.len().min(max_docs);
        let _ = write!(s, "<h3>Documents</h3>");
        if shown < gold.len() {
            let _ = write!(s, "<p>The first {shown} of {} documents.</p>", gold.len());
        }
        let by_id: HashMap<&str, &Doc> = runs
            .get(pi)
            .map(|r| r.iter().rev().map(|d| (d.id.as_str(), d)).collect())
            .unwrap_or_default();
        for (di, gdoc) in gold.iter().take(shown).enumerate() {
            doc_section(
                &mut s,
                pi,
                di,
                gdoc,
                by_id.get(gdoc.id.as_str()).copied(),
                &mut palette,
            );
        }
        let _ = write!(s, "</section>");
    }
    // The report data for the script; `</` cannot close the script element.
    let data = serde_json::to_string(report)
        .unwrap_or_else(|_| "{}".into())
        .replace("</", "<\\/");
    let _ = writeln!(
        s,
        "<script type=\"application/json\" id=\"report-data\">{data}</script><script>{DOC_SCRIPT}{SCRIPT}</script></body></html>"
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_line_keeps_the_case_of_model_and_note() {
        let gold: GoldDoc =
            serde_json::from_str(r#"{"id": "d", "reference_summary": "Ref."}"#).unwrap();
        let mut doc = Doc::new("d", "Text.");
        doc.summary = Some(stancepipe_core::Summary {
            text: "Sum.".into(),
            method: stancepipe_core::SummaryMethod::Extractive,
            model: "Models/BART-Large".into(),
            sentences: vec![],
            note: Some("Model X unavailable".into()),
        });
        let mut s = String::new();
        doc_section(&mut s, 0, 0, &gold, Some(&doc), &mut Palette::default());
        assert!(
            s.contains("(extractive, Models&#x2f;BART-Large; Model X unavailable)"),
            "{s}"
        );
    }
}
