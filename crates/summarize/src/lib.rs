//! Summarization stage backends.
