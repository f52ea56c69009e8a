//! A hub model that cannot be had: with `fallback = "extractive"` the stage
//! summarizes extractively and says why; without it, building fails with the
//! id, the cache it looked in and what to do. (Its own test binary: it sets
//! HF_HOME and HF_HUB_OFFLINE for the whole process.)

use stancepipe_core::{parse_options, BuildContext, Doc, SentenceKind, StageConfig, SummaryMethod};
use stancepipe_summarize::abstractive::RustBertConfig;

#[test]
fn uncached_hub_model_offline() {
    let home = tempfile::tempdir().unwrap();
    std::env::set_var("HF_HOME", home.path());
    std::env::set_var("HF_HUB_OFFLINE", "1");
    let ctx = BuildContext::default();

    let strict: RustBertConfig =
        parse_options("model = \"sshleifer/distilbart-cnn-6-6\"".parse().unwrap()).unwrap();
    strict.check(&ctx).unwrap();
    let e = strict.build(&ctx).err().unwrap();
    assert_eq!(e.key, "model");
    assert!(
        e.message.contains("sshleifer/distilbart-cnn-6-6"),
        "{}",
        e.message
    );
    assert!(
        e.message.contains("not in the Hugging Face cache"),
        "says where it looked: {}",
        e.message
    );

    let lenient: RustBertConfig = parse_options(
        "model = \"sshleifer/distilbart-cnn-6-6\"\nfallback = \"extractive\""
            .parse()
            .unwrap(),
    )
    .unwrap();
    let stage = lenient.build(&ctx).unwrap();
    assert_eq!(stage.backend(), "extractive", "provenance shows what ran");
    assert_eq!(stage.model(), None);
    let mut docs = vec![Doc::from_sentences(
        "d",
        &[
            (
                "Alipay keeps trying to become a platform instead of a payment tool.",
                SentenceKind::Content,
            ),
            (
                "WeChat has stayed a social tool and built a large ecosystem around it.",
                SentenceKind::Content,
            ),
        ],
    )];
    stage.process(&mut docs).unwrap();
    let s = docs[0].summary.as_ref().unwrap();
    assert_eq!(s.method, SummaryMethod::Extractive);
    assert_eq!(s.model, "none");
    let note = s.note.as_deref().unwrap();
    assert!(
        note.contains("sshleifer/distilbart-cnn-6-6") && note.contains("extractive"),
        "{note}"
    );
}
