//! Sentence segmentation, subword tokens and company mention detection (the first pipeline stage).
