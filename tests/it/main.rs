//! End-to-end tests: the real `gatepassd` binary on a temporary data folder, socket and port,
//! driven through the real `gatepass` binary and real HTTPS requests. No mocks.
//!
//! Where things go:
//! - `support`: builds the binaries if needed, starts daemons, runs the CLI, redeems over HTTPS.
//! - `lifecycle`: create → list → redeem → exhausted → revoked → disabled → expired → deleted.
//! - `concurrency`: exactly-once under 1,000 (single-use) and 200 (five uses) concurrent
//!   redemptions.
//! - `console`: the console in a real pseudo-terminal (create, reveal, copy, live uses, revoke).
//! - `crash`: SIGKILL during a storm of redemptions; nothing acknowledged is lost.
//! - `tls`: CA pin and client certificates.
//! - `hostile`: malformed, oversized and slow input over the wire, and bad CLI input.
//! - `operation`: first start, file modes, a second daemon, graceful shutdown, config.
//! - `secrets`: no secret in the data folder, the logs or error bodies.
//! - `access`: roles with real Unix users over the socket (needs root; ignored, with the
//!   reason, when the tests are built by another user: see `tests/build.rs`).
//! - `apitokens`: personal API tokens on the HTTPS admin listener.
//! - `ratelimit`: refusals from one address (and of one token) get 429, counted and checked in
//!   one step under 1,000 concurrent guesses; repeated refusals are one audit event.
//! - `hosts`: removing hosts, counts against uses, and `doctor`.
//! - `redeem_client`: `gatepass redeem` on a bare host: files, pin, argv, retries, exit codes.
//! - `storage`: damage at rest refused at start, `gatepassd check`, backup and restore.
//! - `observability`: `/metrics` checked by `promtool` and against a scenario, the dashboard's
//!   and alerting rules' series and label values present, `/readyz` (a full journal too),
//!   request ids and error codes in answers and JSON log lines,
//!   systemd's notify protocol.
//! - `tenants`: two tenants with real Unix users (needs root, as `access`): each user sees and
//!   touches only their tenant; minting names its tenant; `tenants list`, `--tenant`.
//! - `readme`: the README's tour, every `$` command run in order and its output's shape checked.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod access;
mod apitokens;
mod concurrency;
mod console;
mod crash;
mod hostile;
mod hosts;
mod lifecycle;
mod observability;
mod operation;
mod postgres;
mod ratelimit;
mod readme;
mod redeem_client;
mod secrets;
mod storage;
mod support;
mod tenants;
mod tls;
