//! What the end-to-end tests (in `it/`) and the benchmarks share: `pg`, a private PostgreSQL
//! server in a temp folder.

pub mod pg;
