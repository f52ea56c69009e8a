//! Per-company stance stage backends (favor / against / none with evidence).
