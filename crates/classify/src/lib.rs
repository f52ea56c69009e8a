//! Sentence classification stage backends (sentiment label per sentence).
