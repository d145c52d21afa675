//! The storage engines. The rules (`crate::domain`) run inside an engine's transactions
//! through `domain::Tx`, and the daemon reaches an engine through `domain::Store`; an engine
//! implements storage verbs only: how records are laid out, batched, made durable and read.
//!
//! - `redb`: the embedded engine (the default), one data folder, group commit through a redo
//!   journal.
//! - `postgres`: several daemons on one PostgreSQL database.
//! - `codec`: the stored form of records, shared by the engines.

pub mod codec;
pub mod postgres;
pub mod redb;
