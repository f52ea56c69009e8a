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
use std::collections::HashMap;
use std::fmt::Write;

/// HTML-escapes text for element content and attribute values.
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

const STYLE: &str = r#"
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5rem auto;max-width:1200px;padding:0 1rem;color:#222;line-height:1.45}
h1,h2,h3{line-height:1.2}
table{border-collapse:collapse;margin:.5rem 0 1rem}
th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;font-size:.9rem}
th{background:#f3f3f3}
td.num{text-align:right;font-variant-numeric:tabular-nums}
code{background:#f5f5f5;padding:0 .2rem}
section.pipeline{border-top:3px solid #444;margin-top:2rem}
.doc{border:1px solid #ddd;border-radius:6px;padding:.75rem;margin:1rem 0}
.text{white-space:pre-wrap;font-size:.92rem}
.s{border-radius:3px;padding:0 1px}
.lab-positive{background:#d8f5d0}.lab-negative{background:#fbd5d5}.lab-neutral{background:#eeeeee}
.heading{font-weight:bold}
.ev{outline:2px solid #3b5bdb}
.ev-tag{font-size:.7rem;color:#fff;background:#3b5bdb;border-radius:3px;padding:0 3px;margin-left:2px;vertical-align:super}
.dim .s:not(.sel){opacity:.35}
.sums{display:grid;grid-template-columns:1fr 1fr;gap:1rem}
.sums div{background:#fafafa;border:1px solid #eee;padding:.5rem;white-space:pre-wrap;font-size:.9rem}
.favor{color:#1b7f1b}.against{color:#b42318}.none{color:#666}.missing{color:#000;font-style:italic}
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
    document.querySelectorAll('select.focus').forEach(function(sel){
      sel.addEventListener('change',function(){
        var doc=document.getElementById(sel.getAttribute('data-doc'));
        doc.querySelectorAll('.s').forEach(function(s){
          var cs=(s.getAttribute('data-ev')||'').split('|');
          s.classList.toggle('sel',sel.value!==''&&cs.indexOf(sel.value)>=0);});
        doc.classList.toggle('dim',sel.value!=='');
      });
    });
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

/// The text with each sentence wrapped in a span colored by its label and
/// tagged with the companies it is evidence for.
fn doc_text(doc: &Doc) -> String {
    let mut evidence: HashMap<usize, Vec<&str>> = HashMap::new();
    for st in &doc.stance {
        for e in &st.evidence {
            evidence.entry(e.sentence).or_default().push(&st.company);
        }
    }
    let mut s = String::new();
    let mut pos = 0;
    for (i, sent) in doc.sentences.iter().enumerate() {
        let (a, b) = (sent.span.start, sent.span.end);
        if a < pos
            || b > doc.text.len()
            || !doc.text.is_char_boundary(a)
            || !doc.text.is_char_boundary(b)
        {
            continue;
        }
        s.push_str(&esc(&doc.text[pos..a]));
        let mut class = String::from("s");
        if let Some(l) = &sent.label {
            let _ = write!(class, " lab-{}", esc(&l.label));
        }
        if sent.kind == stancepipe_core::SentenceKind::Heading {
            class.push_str(" heading");
        }
        let ev = evidence.get(&i);
        if ev.is_some() {
            class.push_str(" ev");
        }
        let title = sent.label.as_ref().map_or("no label".to_string(), |l| {
            format!("{} {:.2}", l.label, l.score)
        });
        let _ = write!(
            s,
            "<span class=\"{class}\" title=\"{}\" data-ev=\"{}\">{}</span>",
            esc(&title),
            esc(&ev.map_or(String::new(), |v| v.join("|"))),
            esc(&doc.text[a..b])
        );
        for c in ev.into_iter().flatten() {
            let _ = write!(s, "<span class=ev-tag>{}</span>", esc(c));
        }
        pos = b;
    }
    s.push_str(&esc(&doc.text[pos.min(doc.text.len())..]));
    s
}

fn doc_section(s: &mut String, pi: usize, di: usize, gold: &GoldDoc, doc: Option<&Doc>) {
    let id = format!("doc-{pi}-{di}");
    let _ = write!(s, "<div class=doc id=\"{id}\"><h4>{}</h4>", esc(&gold.id));
    let Some(doc) = doc else {
        let _ = write!(s, "<p class=missing>not returned by the pipeline</p></div>");
        return;
    };
    if let Some(e) = &doc.error {
        let _ = write!(
            s,
            "<p class=missing>error record: stage {}: {}</p></div>",
            esc(&e.stage),
            esc(&e.message)
        );
        return;
    }
    let scored: Vec<_> = gold
        .entities
        .iter()
        .filter(|e| e.stance.is_some())
        .collect();
    if !scored.is_empty() || !doc.stance.is_empty() {
        let _ = write!(
            s,
            "<table><tr><th>company</th><th>gold</th><th>predicted</th><th>score</th><th>mentions</th><th>evidence sentences</th></tr>"
        );
        for e in &scored {
            let p = crate::score::find_stance(doc, &e.name);
            let g = e.stance.map_or("", |x| x.as_str());
            let (pl, score, mentions, ev) =
                p.map_or(("missing", String::new(), String::new(), 0), |c| {
                    (
                        c.stance.as_str(),
                        format!("{:.2}", c.score),
                        c.mentions.to_string(),
                        c.evidence.len(),
                    )
                });
            let _ = write!(
                s,
                "<tr><td class=company>{}</td><td class=\"{g}\">{g}{}</td><td class=\"{pl}\">{pl}</td><td class=num>{score}</td><td class=num>{mentions}</td><td class=num>{ev}</td></tr>",
                esc(&e.name),
                if e.agreement.as_deref() == Some("low") { " (low agreement)" } else { "" }
            );
        }
        let _ = write!(s, "</table>");
        let _ = write!(
            s,
            "<label>Show the evidence of <select class=focus data-doc=\"{id}\"><option value=\"\">every company</option>"
        );
        for c in doc.stance.iter().filter(|c| !c.evidence.is_empty()) {
            let _ = write!(s, "<option>{}</option>", esc(&c.company));
        }
        let _ = write!(s, "</select></label>");
    }
    let _ = write!(s, "<div class=text>{}</div>", doc_text(doc));
    if gold.reference_summary.is_some() || doc.summary.is_some() {
        let (summary, how) =
            doc.summary
                .as_ref()
                .map_or(("(none)".to_string(), String::new()), |x| {
                    let method = match x.method {
                        stancepipe_core::SummaryMethod::Abstractive => "abstractive",
                        stancepipe_core::SummaryMethod::Extractive => "extractive",
                    };
                    (
                        x.text.clone(),
                        format!(
                            " ({method}, {}{})",
                            x.model,
                            x.note.as_ref().map_or(String::new(), |n| format!("; {n}"))
                        ),
                    )
                });
        let _ = write!(
            s,
            "<div class=sums><div><b>Pipeline summary{}</b>\n{}</div><div><b>Reference summary</b>\n{}</div></div>",
            esc(&how),
            esc(&summary),
            esc(gold.reference_summary.as_deref().unwrap_or("(none)"))
        );
    }
    let _ = write!(s, "</div>");
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
    let _ = write!(
        s,
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8><meta name=viewport content=\"width=device-width,initial-scale=1\"><title>stancepipe evaluation: {}</title><style>{STYLE}</style></head><body>",
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
        "<p class=legend>Sentence colors: <span class=lab-positive>positive</span><span class=lab-negative>negative</span><span class=lab-neutral>neutral</span><span class=ev>evidence sentence</span></p>"
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
            doc_section(&mut s, pi, di, gdoc, by_id.get(gdoc.id.as_str()).copied());
        }
        let _ = write!(s, "</section>");
    }
    // The report data for the script; `</` cannot close the script element.
    let data = serde_json::to_string(report)
        .unwrap_or_else(|_| "{}".into())
        .replace("</", "<\\/");
    let _ = writeln!(
        s,
        "<script type=\"application/json\" id=\"report-data\">{data}</script><script>{SCRIPT}</script></body></html>"
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc("<a href=\"x\">&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
        );
    }

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
        doc_section(&mut s, 0, 0, &gold, Some(&doc));
        assert!(
            s.contains("(extractive, Models/BART-Large; Model X unavailable)"),
            "{s}"
        );
    }
}
