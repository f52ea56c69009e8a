//! Metrics and gold-corpus readers for evaluating stancepipe pipelines.
