use super::*;
use stancepipe_core::{
    DocError, Entity, Evidence, Label, Mention, Sentence, Span, StanceLabel, Summary,
};

fn label(l: &str) -> Option<Label> {
    Some(Label {
        label: l.into(),
        score: 0.9,
        scores: Default::default(),
    })
}

fn mention(text: &str, needle: &str, sentence: usize, reference: bool) -> Mention {
    let start = text.find(needle).unwrap();
    Mention {
        span: Span::new(start, start + needle.len()),
        sentence,
        alias: needle.into(),
        reference,
    }
}

/// Two sentences: a configured company with a name and a reference, a
/// discovered one (with another surface form), markup in the text and in
/// a company name.
fn doc() -> Doc {
    let text = "Acme <b>soared</b> & it rose. Bolt & Co's \"fees\" fell.";
    let mut d = Doc::new("doc <1>", text);
    d.source = Some("in/a&b.txt".into());
    let cut = text.find(" Bolt").unwrap();
    d.sentences = vec![
        Sentence {
            label: label("positive"),
            ..Sentence::new(Span::new(0, cut), SentenceKind::Content)
        },
        Sentence {
            label: label("negative"),
            ..Sentence::new(Span::new(cut + 1, text.len()), SentenceKind::Content)
        },
    ];
    d.entities = vec![
        Entity::new(
            "Acme",
            vec![
                mention(text, "Acme", 0, false),
                mention(text, "it", 0, true),
            ],
        ),
        Entity {
            company: "Bolt & Co".into(),
            origin: Origin::Discovered,
            forms: vec!["Bolt & Co".into(), "Bolt & Co's".into()],
            mentions: vec![mention(text, "Bolt & Co's", 1, false)],
        },
    ];
    let ev = |sentence, polarity| Evidence {
        sentence,
        polarity,
        weight: 0.8,
        readings: vec![],
        mentions: 1,
    };
    d.stance = vec![
        CompanyStance {
            company: "Acme".into(),
            stance: StanceLabel::Favor,
            score: 0.81,
            evidence: vec![ev(0, 0.7)],
            mentions: 2,
        },
        CompanyStance {
            company: "Bolt & Co".into(),
            stance: StanceLabel::Against,
            score: 0.66,
            evidence: vec![ev(1, -0.6)],
            mentions: 1,
        },
    ];
    d.summary = Some(Summary {
        text: "Acme <up>.".into(),
        method: SummaryMethod::Extractive,
        model: "Models/BART".into(),
        sentences: vec![0],
        note: None,
    });
    d.notes = vec!["read only <5 MB>".into()];
    d
}

#[test]
fn escapes_markup() {
    assert_eq!(
        esc("<a href=\"x\">&'</a>"),
        "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
    );
}

#[test]
fn a_document_shows_every_company_stance_evidence_and_mention() {
    let html = doc_view("doc-0", &doc(), None, &mut Palette::default());
    // Nothing of the text or the names reaches the page as markup.
    assert!(!html.contains("<b>soared") && !html.contains("<up>") && !html.contains("<1>"));
    assert!(!html.contains("<5 MB>"), "{html}");
    assert!(
        html.contains("&lt;b&gt;soared&lt;&#x2f;b&gt; &amp;"),
        "{html}"
    );
    assert!(html.contains("doc &lt;1&gt;"));
    assert!(html.contains("in&#x2f;a&amp;b.txt"));
    // Every company with its origin, stance, score and evidence links.
    for (company, origin, stance, score, sentence) in [
        ("Acme", "configured", "favor", "0.81", 0),
        ("Bolt &amp; Co", "discovered", "against", "0.66", 1),
    ] {
        let start = html
            .find(&format!("<tr class=company-row data-company=\"{company}\""))
            .unwrap_or_else(|| panic!("no row for {company}: {html}"));
        let row = &html[start..start + html[start..].find("</tr>").unwrap()];
        assert!(
            row.contains(&format!("<span class=\"badge {origin}\">{origin}</span>")),
            "{row}"
        );
        assert!(
            row.contains(&format!("<td class=\"stance {stance}\">{stance}</td>")),
            "{row}"
        );
        assert!(
            row.contains(&format!("<td class=num>{score}</td>")),
            "{row}"
        );
        let link = format!("href=\"#doc-0-s{sentence}\"");
        assert!(row.contains(&link), "{row}");
        // The link's target exists.
        assert!(
            html.contains(&format!("id=\"doc-0-s{sentence}\"")),
            "{html}"
        );
    }
    // The discovered company's other surface form is listed.
    assert!(
        html.contains("<small class=forms>Bolt &amp; Co&#x27;s</small>"),
        "{html}"
    );
    // Sentences colored by label, evidence marked.
    assert!(html.contains("class=\"s lab-positive ev\""), "{html}");
    assert!(html.contains("class=\"s lab-negative ev\""), "{html}");
    // Mentions: a configured name, a reference, a discovered name; one color
    // per company.
    assert!(
        html.contains("<mark class=\"m c0\" title=\"Acme: configured name\">Acme</mark>"),
        "{html}"
    );
    assert!(
        html.contains("<mark class=\"m c0 ref\" title=\"Acme: reference (“it”)\">it</mark>"),
        "{html}"
    );
    assert!(
        html.contains("<mark class=\"m c1 disc\" title=\"Bolt &amp; Co: discovered name\">Bolt &amp; Co&#x27;s</mark>"),
        "{html}"
    );
    // Notes and summary.
    assert!(html.contains("<li>read only &lt;5 MB&gt;</li>"));
    assert!(
        html.contains("Summary (extractive, Models&#x2f;BART)</b>\nAcme &lt;up&gt;."),
        "{html}"
    );
    assert!(!html.contains("Reference summary"));
    // The text is all there, in order (the marks only wrap it).
    let text = html[html.find("<div class=text>").unwrap()..]
        .replace("<span class=\"ev-tag c0\">Acme</span>", "")
        .replace("<span class=\"ev-tag c1\">Bolt &amp; Co</span>", "");
    let plain = strip_tags(&text);
    assert!(
        plain.starts_with(&esc_like_template(&doc().text)),
        "{plain}"
    );
}

/// Removes tags (for comparing the text a reader sees).
fn strip_tags(s: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

fn esc_like_template(s: &str) -> String {
    esc(s).replace("&#39;", "&#x27;").replace('/', "&#x2f;")
}

#[test]
fn an_error_record_is_shown_as_an_error() {
    let mut d = Doc::failed("bad/1", "input", "not UTF-8 <at byte 3>");
    d.source = Some("x.txt".into());
    let html = doc_view("doc-3", &d, None, &mut Palette::default());
    assert!(html.contains("id=\"doc-3\""));
    assert!(
        html.contains("<p class=error>error record: stage input: not UTF-8 &lt;at byte 3&gt;</p>"),
        "{html}"
    );
    assert!(!html.contains("<table"));
}

#[test]
fn gold_adds_its_column_unscored_companies_and_the_reference() {
    let d = doc();
    let gold = Gold {
        stances: vec![
            GoldStance {
                company: "Acme",
                stance: "against",
                note: Some("low agreement"),
                predicted: d.stance.first(),
            },
            GoldStance {
                company: "Zed",
                stance: "none",
                note: None,
                predicted: None,
            },
        ],
        reference_summary: Some("Ref <x>."),
    };
    let html = doc_view("doc-0-0", &d, Some(&gold), &mut Palette::default());
    assert!(
        html.contains("<td class=\"gold against\">against (low agreement)</td>"),
        "{html}"
    );
    assert!(
        html.contains("<td class=\"stance missing\">missing</td>"),
        "{html}"
    );
    // The pipeline's discovered company is listed, not scored.
    assert!(
        html.contains("<td class=\"gold unscored\">–</td>"),
        "{html}"
    );
    assert!(
        html.contains("Reference summary</b>\nRef &lt;x&gt;."),
        "{html}"
    );
    assert!(
        html.contains("Pipeline summary (extractive, Models&#x2f;BART)"),
        "{html}"
    );
}

#[test]
fn sentences_outside_the_text_keep_an_anchor() {
    let mut d = Doc::new("d", "Short.");
    d.sentences = vec![
        Sentence::new(Span::new(0, 6), SentenceKind::Content),
        Sentence::new(Span::new(3, 40), SentenceKind::Content),
    ];
    let html = doc_view("a", &d, None, &mut Palette::default());
    assert!(html.contains("id=\"a-s1\""), "{html}");
    assert!(html.contains(">Short.</span>"), "{html}");
}

#[test]
fn the_run_page_is_self_contained_marked_and_summed_up() {
    let mut page = RunPage::new(Vec::new());
    page.write(&doc()).unwrap();
    page.write(&Doc {
        error: Some(DocError {
            stage: "stance".into(),
            message: "boom".into(),
        }),
        ..Doc::new("e1", "")
    })
    .unwrap();
    let html = String::from_utf8(page.finish().unwrap()).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<meta name=\"generator\" content=\"stancepipe run\">"));
    for external in ["src=", "url(", "@import", "<link", "http:", "https:"] {
        assert!(!html.contains(external), "{external}");
    }
    // Links only within the page.
    for (i, _) in html.match_indices("href=") {
        assert!(html[i..].starts_with("href=\"#"), "{}", &html[i..i + 40]);
    }
    assert!(
        html.contains("2 documents, 1 error record, 2 companies (1 configured, 1 discovered)"),
        "{html}"
    );
    assert!(html.contains("<a href=\"#doc-1\">e1</a>"), "{html}");
    assert!(html.contains("id=\"doc-1\""));
    assert!(html.contains("stancepipeFocus();"));
    assert!(html.trim_end().ends_with("</html>"));
}

#[test]
fn a_company_keeps_its_color_across_documents() {
    let mut p = Palette::default();
    assert_eq!(p.color("Acme"), 0);
    assert_eq!(p.color("Bolt"), 1);
    assert_eq!(p.color("ACME"), 0);
    for i in 0..20 {
        assert!(p.color(&format!("c{i}")) < COLORS);
    }
}
