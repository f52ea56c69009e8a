//! Gold corpora for `stancepipe eval`: the documented gold JSONL format
//! ([`crate::gold`], also the seed's) and adapters that read the labeled sets
//! of `shared/data/` as they are, apply the split rule, and turn them into
//! the same [`GoldDoc`]s, so that one scorer serves every source.
//!
//! | format | input | gold documents |
//! |---|---|---|
//! | `gold` | a `.jsonl` file, or a folder with `gold.jsonl` | as written |
//! | `phrasebank` | `Sentences_50Agree.txt` (or any `sentence@label` file) | one per sentence, with one gold sentence spanning the text |
//! | `phrasebank-allagree` | `Sentences_AllAgree.txt` (`Sentences_50Agree.txt` beside it) | the AllAgree sentences in the 50Agree part of the split |
//! | `finentity` | `FinEntity.json` | one per snippet; each annotated entity a gold entity (name = its text) |
//! | `newsmtsc` | `train.jsonl` (split by the rule) or `devtest_mt.jsonl` / `devtest_rw.jsonl` (official test sets, whole file) | one per sentence; each target a gold entity |
//! | `neus` | the folder with `{val,test}.{source,target}` | one per story; source articles as text, target as `reference_summary` |
//! | `persent` | PerSenT `persent/dev.csv` (split by the rule) | one per article (headline, blank line, body); the main entity a gold entity |
//!
//! Entity sentiment is the stance signal: positive → favor, negative →
//! against, neutral → none. For PerSenT it is the author's sentiment toward
//! the article's main entity.

use crate::datasets::{self, DataError, Split, TargetExample};
use crate::gold::{read_gold, GoldDoc, GoldEntity, GoldError, GoldSentence};
use serde::Serialize;
use stancepipe_core::{merge_companies, Company, StanceLabel};
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Which reader a gold path needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum GoldFormat {
    Gold,
    Phrasebank,
    PhrasebankAllagree,
    Finentity,
    Newsmtsc,
    Neus,
    Persent,
}

impl GoldFormat {
    pub const NAMES: [&'static str; 7] = [
        "gold",
        "phrasebank",
        "phrasebank-allagree",
        "finentity",
        "newsmtsc",
        "neus",
        "persent",
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            GoldFormat::Gold => "gold",
            GoldFormat::Phrasebank => "phrasebank",
            GoldFormat::PhrasebankAllagree => "phrasebank-allagree",
            GoldFormat::Finentity => "finentity",
            GoldFormat::Newsmtsc => "newsmtsc",
            GoldFormat::Neus => "neus",
            GoldFormat::Persent => "persent",
        }
    }

    /// Guesses the format from the path: the data sets' file names, a NeuS
    /// folder, a JSONL file whose first record has `sentence_normalized`
    /// (NewsMTSC), `dev.csv` in a folder `persent` or a `.csv` whose header
    /// starts `DOCUMENT_INDEX,TITLE,TARGET_ENTITY` (PerSenT); anything else is
    /// the gold JSONL format.
    pub fn detect(path: &Path) -> GoldFormat {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if path.is_dir() {
            return if path.join("test.source").is_file() || path.join("val.source").is_file() {
                GoldFormat::Neus
            } else {
                GoldFormat::Gold
            };
        }
        if name == "Sentences_AllAgree.txt" {
            GoldFormat::PhrasebankAllagree
        } else if name.starts_with("Sentences_") && name.ends_with(".txt") {
            GoldFormat::Phrasebank
        } else if name.eq_ignore_ascii_case("FinEntity.json") {
            GoldFormat::Finentity
        } else if name.ends_with(".jsonl") && first_line(path).contains("\"sentence_normalized\"") {
            GoldFormat::Newsmtsc
        } else if (name == "dev.csv"
            && path
                .parent()
                .and_then(Path::file_name)
                .is_some_and(|d| d == "persent"))
            || (name.ends_with(".csv")
                && first_line(path)
                    .trim_start_matches('\u{feff}')
                    .starts_with("DOCUMENT_INDEX,TITLE,TARGET_ENTITY"))
        {
            GoldFormat::Persent
        } else {
            GoldFormat::Gold
        }
    }
}

fn first_line(path: &Path) -> String {
    use std::io::BufRead;
    std::fs::File::open(path)
        .ok()
        .and_then(|f| std::io::BufReader::new(f).lines().next())
        .and_then(Result::ok)
        .unwrap_or_default()
}

impl FromStr for GoldFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let all = [
            GoldFormat::Gold,
            GoldFormat::Phrasebank,
            GoldFormat::PhrasebankAllagree,
            GoldFormat::Finentity,
            GoldFormat::Newsmtsc,
            GoldFormat::Neus,
            GoldFormat::Persent,
        ];
        all.into_iter().find(|f| f.as_str() == s).ok_or_else(|| {
            format!(
                "unknown gold format `{s}` (expected one of {})",
                GoldFormat::NAMES.join(", ")
            )
        })
    }
}

/// A gold corpus ready to score, with where it came from.
#[derive(Debug, Clone)]
pub struct GoldSet {
    pub path: PathBuf,
    pub format: GoldFormat,
    /// The split applied (`None` for the gold format and the NewsMTSC
    /// official test files, which are used whole).
    pub split: Option<Split>,
    pub docs: Vec<GoldDoc>,
}

#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    #[error(transparent)]
    Gold(#[from] GoldError),
    #[error(transparent)]
    Data(#[from] DataError),
    #[error("{0}")]
    Usage(String),
}

fn stance_of(label: &str) -> StanceLabel {
    match label {
        "positive" => StanceLabel::Favor,
        "negative" => StanceLabel::Against,
        _ => StanceLabel::None,
    }
}

/// Target examples (one per entity) grouped into one document per text
/// record; ids `name:i:j` become document id `name:i`.
fn target_docs(examples: Vec<TargetExample>) -> Vec<GoldDoc> {
    let mut docs: Vec<GoldDoc> = Vec::new();
    for e in examples {
        let doc_id =
            e.id.rsplit_once(':')
                .map_or(e.id.as_str(), |(d, _)| d)
                .to_string();
        if docs.last().is_none_or(|d| d.id != doc_id) {
            docs.push(GoldDoc {
                id: doc_id,
                text: Some(e.text.clone()),
                entities: Vec::new(),
                sentences: Vec::new(),
                reference_summary: None,
            });
        }
        let doc = docs.last_mut().expect("pushed above");
        doc.entities.push(GoldEntity {
            name: e.text[e.start..e.end].to_string(),
            aliases: Vec::new(),
            stance: Some(stance_of(&e.label)),
            agreement: None,
        });
    }
    docs
}

/// A gold entity as a company to track: its name and aliases, with the
/// default case rule.
fn entity_company(e: &GoldEntity) -> Company {
    Company {
        name: e.name.trim().to_string(),
        aliases: e.aliases.clone(),
        ..Company::default()
    }
}

/// The companies one gold document tracks on its own ([`stancepipe_core::Doc::companies`]):
/// its gold entities, merged by name (ASCII case-insensitively) with their
/// aliases. `eval` gives each document these, beside the configured
/// companies, so that entities of other documents ("Ant" here, "Ant Group"
/// there; two different Trumps) cannot take its mentions.
pub fn doc_companies(gold: &GoldDoc) -> Vec<Company> {
    let own: Vec<Company> = gold.entities.iter().map(entity_company).collect();
    merge_companies(&[], &own)
}

/// The configured companies plus the gold entities of every document,
/// merged by name (ASCII case-insensitively) with their aliases: every
/// company the corpus tracks somewhere.
pub fn companies(configured: &[Company], gold: &[GoldDoc]) -> Vec<Company> {
    let all: Vec<Company> = gold
        .iter()
        .flat_map(|g| &g.entities)
        .map(entity_company)
        .collect();
    merge_companies(configured, &all)
}

/// The names a PerSenT entity goes by: the full name, and its last word
/// when that is at least 3 chars, starts with an uppercase letter and is not
/// the whole name (articles mostly call a person by surname after the first
/// mention: "Benjamin Koellmann" → also "Koellmann").
fn persent_aliases(entity: &str) -> Vec<String> {
    let entity = entity.trim();
    let mut aliases = vec![entity.to_string()];
    if let Some(last) = entity.split_whitespace().last() {
        if last != entity
            && last.chars().count() >= 3
            && last.chars().next().is_some_and(char::is_uppercase)
        {
            aliases.push(last.to_string());
        }
    }
    aliases
}

/// PerSenT articles as gold documents, one per article: id
/// `persent:<DOCUMENT_INDEX>`, text = the TITLE on its own first line, a
/// blank line, then DOCUMENT (so the headline is the first sentence; just
/// DOCUMENT when the title is empty), and one
/// gold entity, the TARGET_ENTITY ([`persent_aliases`]). This maps the
/// **author's sentiment toward the article's main entity** (TRUE_SENTIMENT)
/// to stance: positive → favor, negative → against, neutral → none; it is a
/// document-level judgement, not an annotated stance. No sentence gold (the
/// per-paragraph labels are not used here).
fn persent_docs(docs: Vec<datasets::PersentDoc>) -> Vec<GoldDoc> {
    docs.into_iter()
        .map(|d| GoldDoc {
            id: format!("persent:{}", d.id),
            text: Some(match d.title.trim() {
                "" => d.text,
                title => format!("{title}\n\n{}", d.text),
            }),
            entities: vec![GoldEntity {
                name: d.entity.trim().to_string(),
                aliases: persent_aliases(&d.entity),
                stance: Some(stance_of(&d.label)),
                agreement: None,
            }],
            sentences: Vec::new(),
            reference_summary: None,
        })
        .collect()
}

/// NeuS text with its markup made plain: `[SEP]` between articles becomes a
/// blank line, `TITLE=> t. ARTICLE=> body` becomes the title line then the
/// body (so titles stand as their own sentences).
pub fn neus_plain(text: &str) -> String {
    text.split("[SEP]")
        .map(|part| {
            let part = part.trim();
            let part = part.strip_prefix("TITLE=>").unwrap_or(part);
            part.replacen("ARTICLE=>", "\n", 1)
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// Reads `path` as `format` (detected when `None`) and applies `split`
/// (default test) where the set has splits.
pub fn load(
    path: &Path,
    format: Option<GoldFormat>,
    split: Option<Split>,
) -> Result<GoldSet, CorpusError> {
    let format = format.unwrap_or_else(|| GoldFormat::detect(path));
    let wanted = split.unwrap_or(Split::Test);
    let name = |p: &Path| {
        p.file_name().map_or_else(
            || p.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    };
    let (docs, used) = match format {
        GoldFormat::Gold => {
            if split.is_some() {
                return Err(CorpusError::Usage(format!(
                    "--split applies to the labeled data sets, not to the gold JSONL format of {}",
                    path.display()
                )));
            }
            (read_gold(path)?, None)
        }
        GoldFormat::Phrasebank | GoldFormat::PhrasebankAllagree => {
            let rows = if format == GoldFormat::Phrasebank {
                datasets::phrasebank(path, wanted)?
            } else {
                let fifty = path.with_file_name("Sentences_50Agree.txt");
                datasets::phrasebank_allagree(path, &fifty, wanted)?
            };
            let docs = rows
                .into_iter()
                .map(|r| GoldDoc {
                    sentences: vec![GoldSentence {
                        start: 0,
                        end: r.text.len(),
                        label: r.label,
                    }],
                    id: r.id,
                    text: Some(r.text),
                    entities: Vec::new(),
                    reference_summary: None,
                })
                .collect();
            (docs, Some(wanted))
        }
        GoldFormat::Finentity => (
            target_docs(datasets::finentity(path, wanted)?),
            Some(wanted),
        ),
        GoldFormat::Newsmtsc => {
            // train.jsonl is split by the rule; the official test files are
            // test sets as a whole.
            if name(path) == "train.jsonl" {
                (
                    target_docs(datasets::newsmtsc(path, Some(wanted))?),
                    Some(wanted),
                )
            } else if wanted == Split::Test {
                (target_docs(datasets::newsmtsc(path, None)?), None)
            } else {
                return Err(CorpusError::Usage(format!(
                    "{} is an official NewsMTSC test set, used whole; --split {wanted} applies to train.jsonl",
                    path.display()
                )));
            }
        }
        GoldFormat::Neus => {
            let pairs = datasets::neus(path, wanted)?;
            let stem = if wanted == Split::Dev { "val" } else { "test" };
            let docs = pairs
                .into_iter()
                .enumerate()
                .map(|(i, (source, target))| GoldDoc {
                    id: format!("{stem}.source:{i}"),
                    text: Some(neus_plain(&source)),
                    entities: Vec::new(),
                    sentences: Vec::new(),
                    reference_summary: Some(neus_plain(&target)),
                })
                .collect();
            (docs, Some(wanted))
        }
        GoldFormat::Persent => (persent_docs(datasets::persent(path, wanted)?), Some(wanted)),
    };
    Ok(GoldSet {
        path: path.to_path_buf(),
        format,
        split: used,
        docs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neus_markup_becomes_plain_text() {
        let t = "TITLE=> A title. ARTICLE=> Body one. Body two. [SEP] TITLE=> B. ARTICLE=> Other.";
        assert_eq!(neus_plain(t), "A title.\nBody one. Body two.\n\nB.\nOther.");
    }

    #[test]
    fn target_examples_group_by_record() {
        let ex = |id: &str, s, e, l: &str| TargetExample {
            id: id.into(),
            text: "Acme beat Bolt.".into(),
            start: s,
            end: e,
            label: l.into(),
        };
        let docs = target_docs(vec![
            ex("f:3:0", 0, 4, "positive"),
            ex("f:3:1", 10, 14, "negative"),
            ex("f:13:0", 0, 4, "neutral"),
        ]);
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].id, "f:3");
        let e: Vec<(&str, Option<StanceLabel>)> = docs[0]
            .entities
            .iter()
            .map(|e| (e.name.as_str(), e.stance))
            .collect();
        assert_eq!(
            e,
            [
                ("Acme", Some(StanceLabel::Favor)),
                ("Bolt", Some(StanceLabel::Against))
            ]
        );
        assert_eq!(docs[1].entities[0].stance, Some(StanceLabel::None));
    }

    #[test]
    fn each_document_tracks_its_own_entities() {
        let gold = crate::gold::parse_gold(concat!(
            r#"{"id":"a","text":"Ant Group fell.","entities":[{"name":"Ant Group","aliases":["Ant"]},{"name":"ant group","aliases":["AG"]}]}"#,
            "\n",
            r#"{"id":"b","text":"Ant rose.","entities":[{"name":" Ant ","stance":"favor"}]}"#,
        ))
        .unwrap();
        assert_eq!(
            doc_companies(&gold[0]),
            [Company::new("Ant Group", &["Ant", "AG"])]
        );
        assert_eq!(doc_companies(&gold[1]), [Company::new("Ant", &[])]);
        let all = companies(&[Company::new("Alipay", &[])], &gold);
        let names: Vec<&str> = all.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["Alipay", "Ant Group", "Ant"]);
    }

    #[test]
    fn formats_are_detected_and_split_misuse_is_an_error() {
        let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../seeds");
        assert_eq!(GoldFormat::detect(&seeds), GoldFormat::Gold);
        assert_eq!(
            GoldFormat::detect(Path::new("x/Sentences_50Agree.txt")),
            GoldFormat::Phrasebank
        );
        assert_eq!(
            GoldFormat::detect(Path::new("x/Sentences_AllAgree.txt")),
            GoldFormat::PhrasebankAllagree
        );
        assert_eq!(
            GoldFormat::detect(Path::new("x/FinEntity.json")),
            GoldFormat::Finentity
        );
        assert_eq!("neus".parse::<GoldFormat>(), Ok(GoldFormat::Neus));
        assert!("nope".parse::<GoldFormat>().is_err());
        let set = load(&seeds, None, None).unwrap();
        assert_eq!((set.docs.len(), set.split), (1, None));
        let err = load(&seeds, None, Some(Split::Dev)).unwrap_err();
        assert!(err.to_string().contains("--split"), "{err}");
    }

    #[test]
    fn persent_articles_become_gold_docs() {
        assert_eq!(
            persent_aliases("Benjamin Koellmann"),
            ["Benjamin Koellmann", "Koellmann"]
        );
        assert_eq!(persent_aliases("Liu Xia"), ["Liu Xia", "Xia"]);
        assert_eq!(persent_aliases("Nouri al-Maliki"), ["Nouri al-Maliki"]);
        assert_eq!(persent_aliases("Jiang Li"), ["Jiang Li"]);
        assert_eq!(persent_aliases("MORRIS"), ["MORRIS"]);
        let doc = |id: &str, title: &str, label: &str| datasets::PersentDoc {
            id: id.into(),
            title: title.into(),
            entity: "Ann Lee ".into(),
            text: "Ann Lee won.\n Lee said so.".into(),
            masked: "[TGT] won.".into(),
            label: label.into(),
            paragraph_labels: vec![None; 16],
        };
        let docs = persent_docs(vec![
            doc("7", "LEE WINS", "positive"),
            doc("8", "", "negative"),
            doc("9", "T", "neutral"),
        ]);
        assert_eq!(docs[0].id, "persent:7");
        assert_eq!(
            docs[0].text.as_deref(),
            Some("LEE WINS\n\nAnn Lee won.\n Lee said so.")
        );
        assert_eq!(docs[1].text.as_deref(), Some("Ann Lee won.\n Lee said so."));
        let e = &docs[0].entities;
        assert_eq!(e.len(), 1);
        assert_eq!(
            (e[0].name.as_str(), e[0].aliases.as_slice()),
            ("Ann Lee", &["Ann Lee".to_string(), "Lee".to_string()][..])
        );
        let stances: Vec<Option<StanceLabel>> = docs.iter().map(|d| d.entities[0].stance).collect();
        assert_eq!(
            stances,
            [
                Some(StanceLabel::Favor),
                Some(StanceLabel::Against),
                Some(StanceLabel::None)
            ]
        );
        assert!(docs.iter().all(|d| d.sentences.is_empty()));
    }

    #[test]
    fn persent_is_detected_by_place_or_header() {
        assert_eq!(
            GoldFormat::detect(Path::new("x/persent/dev.csv")),
            GoldFormat::Persent
        );
        assert_eq!(
            GoldFormat::detect(Path::new("x/other/dev.csv")),
            GoldFormat::Gold
        );
        assert_eq!("persent".parse::<GoldFormat>(), Ok(GoldFormat::Persent));
        assert!(GoldFormat::NAMES.contains(&GoldFormat::Persent.as_str()));
        let file =
            std::env::temp_dir().join(format!("stancepipe-persent-{}.csv", std::process::id()));
        std::fs::write(&file, "DOCUMENT_INDEX,TITLE,TARGET_ENTITY,DOCUMENT\n").unwrap();
        assert_eq!(GoldFormat::detect(&file), GoldFormat::Persent);
        std::fs::write(&file, "Tweet,Target 1\n").unwrap();
        assert_eq!(GoldFormat::detect(&file), GoldFormat::Gold);
        std::fs::remove_file(&file).unwrap();
    }

    #[test]
    fn real_sets_load_with_the_split_rule() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
        if !dir.is_dir() {
            eprintln!("SKIPPED: {} is missing (CI always has it)", dir.display());
            return;
        }
        let pb = load(&dir.join("phrasebank/Sentences_50Agree.txt"), None, None).unwrap();
        assert_eq!((pb.docs.len(), pb.split), (484, Some(Split::Test)));
        let d = &pb.docs[0];
        assert_eq!(d.sentences[0].end, d.text.as_ref().unwrap().len());
        let all = load(&dir.join("phrasebank/Sentences_AllAgree.txt"), None, None).unwrap();
        assert_eq!(all.docs.len(), 236);
        let fe = load(&dir.join("finentity/FinEntity.json"), None, None).unwrap();
        assert_eq!(fe.docs.len(), 97);
        assert_eq!(fe.docs.iter().map(|d| d.entities.len()).sum::<usize>(), 209);
        let mt = load(&dir.join("newsmtsc/devtest_mt.jsonl"), None, None).unwrap();
        assert_eq!(mt.format, GoldFormat::Newsmtsc);
        assert_eq!(
            mt.docs.iter().map(|d| d.entities.len()).sum::<usize>(),
            1476
        );
        assert!(load(
            &dir.join("newsmtsc/devtest_mt.jsonl"),
            None,
            Some(Split::Dev)
        )
        .is_err());
        let neus = load(&dir.join("neus"), None, None).unwrap();
        assert_eq!(neus.docs.len(), 307);
        assert!(neus.docs[0].reference_summary.is_some());
        assert!(!neus.docs[0].text.as_ref().unwrap().contains("ARTICLE=>"));

        // What `stancepipe eval --gold ../shared/data/persent/dev.csv --split dev` loads.
        let ps = load(&dir.join("persent/dev.csv"), None, Some(Split::Dev)).unwrap();
        assert_eq!(
            (ps.format, ps.split, ps.docs.len()),
            (GoldFormat::Persent, Some(Split::Dev), 57)
        );
        let d = &ps.docs[0];
        assert_eq!(d.id, "persent:3368");
        assert_eq!(d.entities[0].name, "Alex Ovechkin");
        assert_eq!(d.entities[0].aliases, ["Alex Ovechkin", "Ovechkin"]);
        assert_eq!(d.entities[0].stance, Some(StanceLabel::Favor));
        let count = |s| {
            ps.docs
                .iter()
                .filter(|d| d.entities[0].stance == Some(s))
                .count()
        };
        assert_eq!(
            (
                count(StanceLabel::Favor),
                count(StanceLabel::None),
                count(StanceLabel::Against)
            ),
            (39, 15, 3)
        );
        let test = load(&dir.join("persent/dev.csv"), None, None).unwrap();
        assert_eq!((test.docs.len(), test.split), (57, Some(Split::Test)));
    }
}
