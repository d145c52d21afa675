//! (feature `fuzzing`, and tests) The fuzz targets: every parser of untrusted input, each a
//! function of arbitrary bytes that must never panic. `fuzz/` runs them under cargo-fuzz
//! (nightly, libFuzzer); `cargo test` runs the same functions on the committed corpus
//! (`fuzz/corpus/<target>/`) and on random mutations of it, so a stable toolchain exercises
//! them on every run, and each crash found becomes a corpus file, tested from then on.
//!
//! - `token`: the token parser (`gpt_`/`gpa_`, checksum) and `replace_secrets`.
//! - `redeem`: a redemption request through the real redeem router in process: bytes up to a
//!   blank line are header lines, the rest the body. Every answer must carry the JSON error
//!   shape when it is an error.
//! - `csr`: the CSR parser hosts' requests go through.
//! - `config`: the daemon's config file.
//! - `journal`: the journal file and record decoders (`store::redb::fuzz`).

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::body::Body;
use gatepass_protocol::ErrorBody;
use gatepass_protocol::token;
use http_body_util::BodyExt;
use tower::ServiceExt;

use crate::api::Peer;
use crate::clock::SystemClock;
use crate::config::Config;
use crate::{Daemon, api};

pub use crate::store::redb::fuzz::journal;

pub fn token(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(t) = token::parse(text) {
        // The parser trims the white space a paste brings (fuzz/corpus/token/leading-form-feed).
        assert!(
            text.contains(t.expose()),
            "a parsed token comes from its text"
        );
        assert!(
            !format!("{t:?}").contains(&t.expose()[16..]),
            "Debug shows no secret"
        );
    }
    let _ = token::parse_kind(text, token::TokenKind::Enrollment);
    let _ = token::looks_like_id(text);
    if let Some(out) = token::replace_secrets(text, |_, _| "[x]".into()) {
        assert!(token::replace_secrets(&out, |_, _| "[x]".into()).is_none());
    }
}

pub fn csr(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = crate::ca::parse_csr(text);
    }
}

pub fn config(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Config::parse(text, std::path::Path::new("fuzz.toml"));
    }
}

/// The data folder of this process's daemon.
fn data_folder() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("gatepass-fuzz-{}", std::process::id()))
}

/// A daemon's redeem router on a data folder of its own, made once per process.
fn redeem_router() -> Option<&'static (tokio::runtime::Runtime, Router)> {
    static ROUTER: OnceLock<Option<(tokio::runtime::Runtime, Router)>> = OnceLock::new();
    ROUTER
        .get_or_init(|| {
            let dir = data_folder();
            let _ = std::fs::remove_dir_all(&dir);
            let text = format!(
                "data_dir = {:?}\n[limits]\nredeem_failures_per_minute = 1000000000\njournal_mib = 1\n",
                dir.join("data")
            );
            let config = Config::parse(&text, std::path::Path::new("fuzz.toml")).ok()?;
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            let daemon = Daemon::open(config, Arc::new(SystemClock)).ok()?;
            let (state, stop) = daemon.into_state("https://127.0.0.1:8443".into());
            // Kept for the process's life: dropping it would flip the shutdown flag.
            std::mem::forget(stop);
            Some((rt, api::redeem_router(state)))
        })
        .as_ref()
}

pub fn redeem(data: &[u8]) {
    let Some((rt, router)) = redeem_router() else {
        return;
    };
    let split = data
        .windows(2)
        .position(|w| w == b"\n\n")
        .map_or((data, &[][..]), |i| (&data[..i], &data[i + 2..]));
    let (head, body) = split;
    let mut req = axum::http::Request::builder()
        .method("POST")
        .uri("/v1/redeem");
    for line in head.split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        if let (Ok(n), Ok(v)) = (
            axum::http::HeaderName::from_bytes(name),
            axum::http::HeaderValue::from_bytes(value),
        ) {
            req = req.header(n, v);
        }
    }
    let Ok(mut req) = req.body(Body::from(body.to_vec())) else {
        return;
    };
    let last = data.first().copied().unwrap_or(1);
    let addr = SocketAddr::from(([10, 0, 0, last], 4000));
    req.extensions_mut().insert(Peer::Tcp { addr });
    rt.block_on(async {
        let Ok(resp) = router.clone().oneshot(req).await;
        let status = resp.status();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        if status.as_u16() >= 400 {
            assert!(
                serde_json::from_slice::<ErrorBody>(&bytes).is_ok(),
                "{status} without the error shape: {:?}",
                String::from_utf8_lossy(&bytes)
            );
        }
    });
}

#[cfg(test)]
mod tests {
    //! The stable fallback of the fuzz targets: the corpus, then random mutations of it.

    use std::path::PathBuf;

    type Target = fn(&[u8]);

    const TARGETS: [(&str, Target); 5] = [
        ("token", super::token),
        ("redeem", super::redeem),
        ("csr", super::csr),
        ("config", super::config),
        ("journal", super::journal),
    ];

    fn corpus(target: &str) -> Vec<Vec<u8>> {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../fuzz/corpus")
            .join(target);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort();
        files.iter().filter_map(|p| std::fs::read(p).ok()).collect()
    }

    /// xorshift64*: reproducible, no dependency.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    /// A mutation of `seed`: bytes flipped, inserted, removed, or a slice repeated.
    fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
        let mut v = seed.to_vec();
        for _ in 0..1 + rng.below(8) {
            let at = rng.below(v.len() + 1);
            match rng.below(5) {
                0 if !v.is_empty() => {
                    let i = at.min(v.len() - 1);
                    v[i] ^= 1 << rng.below(8);
                }
                1 => v.insert(at, rng.next() as u8),
                2 if at < v.len() => {
                    v.remove(at);
                }
                3 if !v.is_empty() => {
                    let i = at.min(v.len() - 1);
                    v[i] = b"\n:\r{}\"\\/0A-_=gpt_"[rng.below(17)];
                }
                _ => {
                    let end = (at + rng.below(16)).min(v.len());
                    let piece = v[at.min(end)..end].to_vec();
                    v.splice(at..at, piece);
                }
            }
        }
        v
    }

    #[test]
    fn every_fuzz_target_survives_its_corpus_and_random_mutations_of_it() {
        for (name, target) in TARGETS {
            let seeds = corpus(name);
            assert!(!seeds.is_empty(), "fuzz/corpus/{name} is empty");
            for s in &seeds {
                target(s);
            }
            let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ name.len() as u64);
            let rounds = if name == "redeem" { 300 } else { 2_000 };
            for _ in 0..rounds {
                let seed = &seeds[rng.below(seeds.len())];
                target(&mutate(&mut rng, seed));
            }
        }
        // The daemon's files go; the open store does not mind (they are unlinked).
        let _ = std::fs::remove_dir_all(super::data_folder());
    }
}
