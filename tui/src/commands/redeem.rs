//! `gatepass redeem`: enrolls the host it runs on. Reads the token from a file, the environment
//! or a no-echo prompt (never from argv), checks it offline, generates the host key here, sends a
//! CSR to `POST /v1/redeem` over HTTPS pinned to the daemon's CA, and writes `ca.pem`, `cert.pem`,
//! `key.pem` and `host-id` atomically into the output folder.
//!
//! It needs nothing but this binary: no config file, no daemon socket. The key is written before
//! the request, so running the same command again after a lost answer presents the same key and
//! gets the same enrollment back (the daemon's grace window) instead of spending another use.
//! Every failure is one sentence on stderr and an exit code of its own (see `after_help`).

use std::collections::BTreeMap;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, IsTerminal, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use gatepass_protocol::client::{ClientError, HttpsTarget, RawResponse, TrustMode, pin_of_pem};
use gatepass_protocol::token::{self, ParsedToken, TokenKind};
use gatepass_protocol::{ErrorCode, RedeemRequest, RedeemResponse};
use zeroize::Zeroizing;

use crate::cli::RedeemArgs;

/// Enrolled.
pub const EXIT_OK: u8 = 0;
/// The daemon answered something unexpected (internal error, not a redeem endpoint).
pub const EXIT_UNEXPECTED: u8 = 1;
/// Bad flags, a token on the command line, no pin, no token source.
pub const EXIT_USAGE: u8 = 2;
/// Connection refused, no answer in time, or the connection broke before the answer.
pub const EXIT_UNREACHABLE: u8 = 3;
/// The TLS handshake failed, e.g. the server's CA does not match the pin.
pub const EXIT_TLS: u8 = 4;
/// The token is malformed (checked offline) or unknown to the daemon (401).
pub const EXIT_TOKEN_INVALID: u8 = 5;
/// The token expired, was revoked or is used up (410).
pub const EXIT_TOKEN_GONE: u8 = 6;
/// The token is disabled, not valid from this address, or not valid yet (403).
pub const EXIT_TOKEN_FORBIDDEN: u8 = 7;
/// The daemon refused the request as malformed (400, 413, 415).
pub const EXIT_BAD_REQUEST: u8 = 8;
/// A local file problem: an enrollment exists (no --force), or a file cannot be read or written.
pub const EXIT_LOCAL_FILE: u8 = 9;
/// Too many failed attempts from this address (429).
pub const EXIT_RATE_LIMITED: u8 = 10;

/// Every exit code, for the help text's test.
#[cfg(test)]
const ALL_CODES: [u8; 11] = [
    EXIT_OK,
    EXIT_UNEXPECTED,
    EXIT_USAGE,
    EXIT_UNREACHABLE,
    EXIT_TLS,
    EXIT_TOKEN_INVALID,
    EXIT_TOKEN_GONE,
    EXIT_TOKEN_FORBIDDEN,
    EXIT_BAD_REQUEST,
    EXIT_LOCAL_FILE,
    EXIT_RATE_LIMITED,
];

/// The whole exchange (connect, TLS, request, answer) must finish within this.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// A token file larger than this is not a token file.
const MAX_TOKEN_FILE: u64 = 4096;
/// The daemon's default grace window, for messages (the daemon may be configured otherwise).
const GRACE_HINT: &str = "10 minutes by default";

const ARGV_REFUSAL: &str = "refused: a token on the command line is visible to every user in the \
     process list and lands in shell history; use --token-file, GATEPASS_TOKEN or the prompt (if \
     others can see this machine's processes or your history, ask an operator to revoke that \
     token and mint a new one)";

const KEY: &str = "key.pem";
const PENDING_KEY: &str = "key.pem.pending";
const CA: &str = "ca.pem";
const CERT: &str = "cert.pem";
const HOST_ID: &str = "host-id";

/// One classified failure: the sentence printed after `gatepass: ` and the exit code.
#[derive(Debug)]
struct Failure {
    code: u8,
    message: String,
}

fn fail(code: u8, message: impl Into<String>) -> Failure {
    Failure {
        code,
        message: message.into(),
    }
}

type Outcome<T> = Result<T, Failure>;

/// Runs `gatepass redeem`; `server` and `ca_pin` are the global `--server` and `--ca-pin`.
pub async fn run(args: RedeemArgs, server: Option<String>, ca_pin: Option<String>) -> ExitCode {
    let mut token = None;
    let result = redeem(args, server, ca_pin, &mut token).await;
    match result {
        Ok(()) => ExitCode::from(EXIT_OK),
        Err(f) => {
            // A safety net: no message may carry the token, whoever wrote its text.
            let mut message = f.message;
            if let Some(t) = &token {
                let t: &ParsedToken = t;
                if message.contains(t.expose()) {
                    message = message.replace(t.expose(), &t.display_prefix());
                }
            }
            eprintln!("gatepass: {message}");
            ExitCode::from(f.code)
        }
    }
}

async fn redeem(
    args: RedeemArgs,
    server: Option<String>,
    ca_pin: Option<String>,
    token_slot: &mut Option<ParsedToken>,
) -> Outcome<()> {
    // 1. Nothing secret on the command line, checked before anything else.
    let argv: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    if !args.token_argv.is_empty()
        || !args.token_flag.is_empty()
        || argv.iter().any(|a| holds_token(a))
    {
        return Err(fail(EXIT_USAGE, ARGV_REFUSAL));
    }

    // 2. Where to, and how to trust it.
    let Some(server) = server else {
        return Err(fail(
            EXIT_USAGE,
            "redeem needs --server https://HOST:PORT, the daemon's redeem listener \
             (gatepassd prints it at start)",
        ));
    };
    let (trust, pin) = match (ca_pin, args.insecure_skip_pin) {
        (Some(_), true) => {
            return Err(fail(
                EXIT_USAGE,
                "--ca-pin and --insecure-skip-pin contradict each other: keep --ca-pin",
            ));
        }
        (None, false) => {
            return Err(fail(
                EXIT_USAGE,
                "redeem needs --ca-pin sha256:HEX to know it talks to your daemon before it \
                 sends the token (gatepassd prints the pin at start, `gatepass doctor` shows \
                 it); --insecure-skip-pin skips the check",
            ));
        }
        (Some(p), false) => {
            let pin = normalise_pin(&p).ok_or_else(|| {
                fail(
                    EXIT_USAGE,
                    "--ca-pin must be sha256: followed by 64 hexadecimal digits",
                )
            })?;
            (TrustMode::Pin(pin.clone()), Some(pin))
        }
        (None, true) => (TrustMode::Insecure, None),
    };
    let target = HttpsTarget::parse(&server, trust).map_err(|_| {
        fail(
            EXIT_USAGE,
            format!("--server {server:?} is not an address: expected https://HOST:PORT"),
        )
    })?;
    let authority = format!("{}:{}", target.host, target.port);

    // 3. Who we are and where the files go; an existing enrollment stops us before the token
    //    is even asked for.
    let given = args.hostname.is_some();
    let hostname = match args.hostname {
        Some(h) => h,
        None => machine_hostname()?,
    };
    check_hostname(&hostname, given)?;
    let dir = args.out.clone().unwrap_or_else(default_out_dir);
    let enrolled = [CERT, HOST_ID]
        .iter()
        .filter(|f| dir.join(f).exists())
        .copied()
        .collect::<Vec<_>>();
    if !enrolled.is_empty() && !args.force {
        return Err(fail(
            EXIT_LOCAL_FILE,
            format!(
                "{} already holds an enrollment ({}): pass --force to enroll again (the files \
                 are replaced only if it succeeds), or choose another --out",
                dir.display(),
                enrolled.join(", ")
            ),
        ));
    }

    // 4. The token, checked offline before any traffic.
    let (raw, source) = read_token(args.token_file.as_deref())?;
    let parsed = token::parse_kind(&raw, TokenKind::Enrollment).map_err(|e| {
        fail(
            EXIT_TOKEN_INVALID,
            format!("the token from {source} was rejected before sending anything: {e}"),
        )
    })?;
    drop(raw);
    let token = token_slot.insert(parsed);

    if pin.is_none() {
        eprintln!(
            "gatepass: warning: --insecure-skip-pin: the server's identity is not checked; \
             anyone on the network path to {authority} could take the token"
        );
    }

    // 5. The host key: reused from an earlier attempt whose answer was lost, else new. Written
    //    before the request, so a retry presents the same key. When an enrollment is being
    //    replaced (--force), the new key waits beside the old one until the daemon says yes.
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .map_err(|e| {
            fail(
                EXIT_LOCAL_FILE,
                format!("cannot create {}: {e}", dir.display()),
            )
        })?;
    let key_name = if enrolled.is_empty() {
        KEY
    } else {
        PENDING_KEY
    };
    let key_path = dir.join(key_name);
    let reused = key_path.exists();
    let key = if reused {
        let pem = Zeroizing::new(fs::read_to_string(&key_path).map_err(|e| {
            fail(
                EXIT_LOCAL_FILE,
                format!("cannot read {}: {e}", key_path.display()),
            )
        })?);
        let key = rcgen::KeyPair::from_pem(&pem).map_err(|e| {
            fail(
                EXIT_LOCAL_FILE,
                format!(
                    "{} is not a private key this command can use ({e}): move it away or \
                     choose another --out",
                    key_path.display()
                ),
            )
        })?;
        eprintln!(
            "Reusing the host key in {} from an earlier attempt that did not enroll this host: \
             if the daemon enrolled it after all, it returns that enrollment without spending \
             another use.",
            key_path.display()
        );
        key
    } else {
        let key = rcgen::KeyPair::generate()
            .map_err(|e| fail(EXIT_LOCAL_FILE, format!("cannot generate a host key: {e}")))?;
        let pem = Zeroizing::new(key.serialize_pem());
        write_atomic(&dir, key_name, pem.as_bytes(), 0o600)
            .map_err(|e| write_failure(&key_path, e))?;
        key
    };
    let csr = csr_for(&key, &hostname)?;

    // 6. The request.
    let body = RedeemRequest {
        hostname: hostname.clone(),
        csr: Some(csr),
        facts: BTreeMap::new(),
    };
    let body = serde_json::to_vec(&body)
        .map_err(|e| fail(EXIT_UNEXPECTED, format!("cannot encode the request: {e}")))?;
    let auth = Zeroizing::new(format!("Bearer {}", token.expose()));
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    let sent = tokio::time::timeout(
        REQUEST_TIMEOUT,
        target.request("POST", "/v1/redeem", &headers, body),
    )
    .await;
    drop(auth);
    let retry_hint = format!(
        "run the same command again: it reuses {}, so the daemon returns the same enrollment \
         without spending another use (within its grace window, {GRACE_HINT})",
        key_path.display()
    );
    let resp = match sent {
        Err(_) => {
            return Err(fail(
                EXIT_UNREACHABLE,
                format!(
                    "no answer from {authority} within {}s: check the address and the \
                     network, then {retry_hint}",
                    REQUEST_TIMEOUT.as_secs()
                ),
            ));
        }
        Ok(Err(e)) => {
            // Refused before anything was sent (no connection, or not the pinned server): a
            // key made for this attempt can go, so no stray key.pem is left behind.
            let unsent = matches!(e, ClientError::Connect { .. } | ClientError::Tls(_));
            if unsent && !reused {
                let _ = fs::remove_file(&key_path);
            }
            return Err(transport_failure(e, &authority, &retry_hint));
        }
        Ok(Ok(r)) => r,
    };
    if resp.status != 201 {
        if key_name == PENDING_KEY && resp.status != 429 {
            // Refused for good: the enrollment in place stays as it was, nothing pending.
            let _ = fs::remove_file(&key_path);
        }
        return Err(refusal(&resp, &authority, reused));
    }

    // 7. Enrolled: write what came back.
    let answer: RedeemResponse = serde_json::from_slice(&resp.body).map_err(|e| {
        fail(
            EXIT_UNEXPECTED,
            format!("{authority} answered 201 with a body this command cannot read: {e}"),
        )
    })?;
    let Some(cert_pem) = answer.cert_pem.as_deref() else {
        return Err(fail(
            EXIT_UNEXPECTED,
            format!("{authority} enrolled the host but returned no certificate"),
        ));
    };
    if let Some(pin) = &pin
        && pin_of_pem(&answer.ca_pem).as_deref() != Some(pin.as_str())
    {
        return Err(fail(
            EXIT_TLS,
            format!(
                "the CA in {authority}'s answer is not the one --ca-pin names: nothing written"
            ),
        ));
    }
    let written = (|| -> Result<(), (PathBuf, io::Error)> {
        if key_name == PENDING_KEY {
            fs::rename(&key_path, dir.join(KEY)).map_err(|e| (dir.join(KEY), e))?;
        }
        let host_id_line = format!("{}\n", answer.host_id);
        for (name, contents, mode) in [
            (CA, answer.ca_pem.as_bytes(), 0o644),
            (CERT, cert_pem.as_bytes(), 0o644),
            (HOST_ID, host_id_line.as_bytes(), 0o644),
        ] {
            write_atomic(&dir, name, contents, mode).map_err(|e| (dir.join(name), e))?;
        }
        File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| (dir.clone(), e))
    })();
    if let Err((path, e)) = written {
        return Err(fail(
            EXIT_LOCAL_FILE,
            format!(
                "enrolled as host id {}, but writing {} failed ({e}): fix that and {retry_hint}",
                answer.host_id,
                path.display()
            ),
        ));
    }
    let group = match &answer.group {
        Some(g) => format!("group {g}"),
        None => "no group".to_owned(),
    };
    eprintln!(
        "Enrolled as {} (host id {}, {group}) — wrote {CA}, {CERT}, {KEY}, {HOST_ID} to {}",
        answer.hostname,
        answer.host_id,
        dir.display()
    );
    println!("{}", answer.host_id);
    Ok(())
}

/// True when `arg` holds something that parses as a Gatepass token.
fn holds_token(arg: &str) -> bool {
    ["gpt_", "gpa_"].iter().any(|prefix| {
        arg.match_indices(prefix).any(|(i, _)| {
            arg.get(i..i + token::TOKEN_LEN)
                .is_some_and(|s| token::parse(s).is_ok())
        })
    })
}

/// `sha256:` + 64 lowercase hex digits, or `None` when `pin` is not a pin.
fn normalise_pin(pin: &str) -> Option<String> {
    let p = pin.trim().to_ascii_lowercase();
    let hex = p.strip_prefix("sha256:").unwrap_or(&p);
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then(|| format!("sha256:{hex}"))
}

fn machine_hostname() -> Outcome<String> {
    let name = fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    if name.is_empty() {
        return Err(fail(
            EXIT_USAGE,
            "cannot read this machine's host name: pass --hostname NAME",
        ));
    }
    Ok(name)
}

/// The daemon's rules (1–253 letters, digits, '.', '-', '_'), checked here to fail early.
fn check_hostname(name: &str, given: bool) -> Outcome<()> {
    let ok = !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        return Ok(());
    }
    let what = if given {
        "--hostname"
    } else {
        "this machine's host name"
    };
    Err(fail(
        EXIT_USAGE,
        format!(
            "{what} {name:?} is not accepted: 1–253 letters, digits, '.', '-' or '_'{}",
            if given { "" } else { "; pass --hostname NAME" }
        ),
    ))
}

/// `/etc/gatepass` for root, `./gatepass` for anyone else.
fn default_out_dir() -> PathBuf {
    if gatepass_protocol::paths::is_root() {
        PathBuf::from("/etc/gatepass")
    } else {
        PathBuf::from("gatepass")
    }
}

/// The token and a description of where it came from (for messages; never the token).
fn read_token(file: Option<&Path>) -> Outcome<(Zeroizing<String>, String)> {
    if let Some(path) = file {
        let mut raw = Zeroizing::new(String::new());
        let (source, read) = if path == Path::new("-") {
            let r = io::stdin()
                .lock()
                .take(MAX_TOKEN_FILE)
                .read_to_string(&mut raw);
            ("standard input".to_owned(), r)
        } else {
            let r = File::open(path).and_then(|f| f.take(MAX_TOKEN_FILE).read_to_string(&mut raw));
            (format!("the token file {}", path.display()), r)
        };
        read.map_err(|e| fail(EXIT_LOCAL_FILE, format!("cannot read {source}: {e}")))?;
        return Ok((Zeroizing::new(raw.trim().to_owned()), source));
    }
    let env_set_but_empty = match std::env::var("GATEPASS_TOKEN") {
        Ok(t) if !t.trim().is_empty() => {
            let t = Zeroizing::new(t);
            return Ok((Zeroizing::new(t.trim().to_owned()), "GATEPASS_TOKEN".into()));
        }
        Ok(t) => {
            drop(Zeroizing::new(t));
            true
        }
        Err(_) => false,
    };
    if !io::stdin().is_terminal() {
        let why = if env_set_but_empty {
            "GATEPASS_TOKEN is empty"
        } else {
            "no --token-file, no GATEPASS_TOKEN"
        };
        return Err(fail(
            EXIT_USAGE,
            format!(
                "no token to redeem ({why}, and no terminal to ask on): pass --token-file FILE \
                 or set GATEPASS_TOKEN"
            ),
        ));
    }
    let typed = rpassword::prompt_password("Enrollment token (gpt_…, not echoed): ")
        .map_err(|e| fail(EXIT_USAGE, format!("cannot ask for the token: {e}")))?;
    let typed = Zeroizing::new(typed);
    Ok((Zeroizing::new(typed.trim().to_owned()), "the prompt".into()))
}

fn csr_for(key: &rcgen::KeyPair, hostname: &str) -> Outcome<String> {
    let bad = |e: rcgen::Error| {
        fail(
            EXIT_USAGE,
            format!("cannot make a certificate request for {hostname:?}: {e}"),
        )
    };
    let mut params = rcgen::CertificateParams::new(vec![hostname.to_owned()]).map_err(bad)?;
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::CommonName, hostname);
    params.distinguished_name = dn;
    params
        .serialize_request(key)
        .and_then(|r| r.pem())
        .map_err(bad)
}

/// Writes `name` in `dir` through a temporary file in the same folder and a rename, with its
/// mode set when the file is created.
fn write_atomic(dir: &Path, name: &str, contents: &[u8], mode: u32) -> io::Result<()> {
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let open = || {
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)
    };
    let mut file = match open() {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            // Left by an earlier run with the same process id that was killed mid-write.
            fs::remove_file(&tmp)?;
            open()?
        }
        other => other?,
    };
    let result = file
        .write_all(contents)
        .and_then(|()| file.sync_all())
        .and_then(|()| fs::rename(&tmp, dir.join(name)));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn write_failure(path: &Path, e: io::Error) -> Failure {
    fail(
        EXIT_LOCAL_FILE,
        format!("cannot write {}: {e}", path.display()),
    )
}

/// A request that got no answer.
fn transport_failure(e: ClientError, authority: &str, retry_hint: &str) -> Failure {
    match e {
        ClientError::Connect { source, .. } => fail(
            EXIT_UNREACHABLE,
            format!(
                "cannot reach {authority} ({source}): is gatepassd running there, and is that \
                 its redeem listener?"
            ),
        ),
        ClientError::Tls(m) if m.contains("does not match the pin") => fail(
            EXIT_TLS,
            format!(
                "the server at {authority} does not present the CA that --ca-pin names: the \
                 token was not sent (check the pin: gatepassd prints it at start)"
            ),
        ),
        // Closed before any TLS came back: nobody serves there now (a load balancer with no
        // node in service does this), which is not a question of pins.
        ClientError::Tls(m) if m.contains("eof") => fail(
            EXIT_UNREACHABLE,
            format!(
                "the connection to {authority} was closed before TLS began ({m}): the daemon, or \
                 a load balancer with no node in service, is not serving; {retry_hint}"
            ),
        ),
        ClientError::Tls(m) => fail(
            EXIT_TLS,
            format!("the TLS handshake with {authority} failed, so the token was not sent: {m}"),
        ),
        ClientError::Http(m) => fail(
            EXIT_UNREACHABLE,
            format!(
                "the connection to {authority} broke before the answer arrived ({m}): {retry_hint}"
            ),
        ),
        ClientError::Timeout(_) => fail(
            EXIT_UNREACHABLE,
            format!("no answer from {authority} in time: {retry_hint}"),
        ),
        other => fail(
            EXIT_UNEXPECTED,
            format!("the request to {authority} failed: {other}"),
        ),
    }
}

/// An answer other than 201, as one sentence and its exit code.
fn refusal(resp: &RawResponse, authority: &str, reused_key: bool) -> Failure {
    let body = resp.error();
    let code = body.as_ref().map(|b| b.error.code);
    let daemon_says = body
        .as_ref()
        .map(|b| b.error.message.clone())
        .unwrap_or_else(|| {
            let text = resp.text();
            let text = text.trim();
            text.chars().take(200).collect()
        });
    let ask = "ask an operator for a new one";
    match (resp.status, code) {
        (410, Some(ErrorCode::TokenExpired)) => {
            fail(EXIT_TOKEN_GONE, format!("the token has expired: {ask}"))
        }
        (410, Some(ErrorCode::TokenRevoked)) => {
            fail(EXIT_TOKEN_GONE, format!("the token was revoked: {ask}"))
        }
        (410, Some(ErrorCode::TokenExhausted)) => {
            let lost = if reused_key {
                " (if an earlier attempt from this host got through more than the grace window \
                 ago, its enrollment exists but its answer was lost: an operator sees it in \
                 `gatepass hosts list`)"
            } else {
                ""
            };
            fail(
                EXIT_TOKEN_GONE,
                format!("the token is used up: every use has been spent; {ask}{lost}"),
            )
        }
        (410, _) => fail(
            EXIT_TOKEN_GONE,
            format!("the token can no longer be used ({daemon_says}): {ask}"),
        ),
        (401, _) => fail(
            EXIT_TOKEN_INVALID,
            format!(
                "{authority} does not accept this token (unknown, or its secret is wrong): check \
                 that it was copied whole from this daemon's operator, or {ask}"
            ),
        ),
        (403, Some(ErrorCode::TokenDisabled)) => fail(
            EXIT_TOKEN_FORBIDDEN,
            "the token is disabled: ask an operator to enable it again (gatepass tokens enable)",
        ),
        (403, Some(ErrorCode::TokenSourceDenied)) => fail(
            EXIT_TOKEN_FORBIDDEN,
            "the token may not be used from this host's address: ask an operator to check the \
             networks it allows",
        ),
        (403, Some(ErrorCode::TokenNotYetValid)) => fail(
            EXIT_TOKEN_FORBIDDEN,
            "the token is not valid yet: try again after its start time, or ask an operator",
        ),
        (403, _) => fail(
            EXIT_TOKEN_FORBIDDEN,
            format!("{authority} refused the token: {daemon_says}"),
        ),
        (400 | 413 | 415, _) => fail(
            EXIT_BAD_REQUEST,
            format!(
                "{authority} refused the request as malformed (HTTP {}): {daemon_says}",
                resp.status
            ),
        ),
        (429, _) => {
            let wait = resp
                .header("retry-after")
                .map(|s| format!("in {s} seconds"))
                .unwrap_or_else(|| "later".into());
            fail(
                EXIT_RATE_LIMITED,
                format!(
                    "{authority} refuses this address for now after too many failed attempts: \
                     try again {wait}"
                ),
            )
        }
        (503, _) => fail(
            EXIT_UNREACHABLE,
            format!(
                "{authority} cannot serve right now ({daemon_says}): run the same command again \
                 in a moment (the host key is kept, so an enrollment that did complete is given \
                 back, not spent twice)"
            ),
        ),
        (404 | 405, _) => fail(
            EXIT_UNEXPECTED,
            format!(
                "{authority} has no redeem endpoint (HTTP {}): --server must be the daemon's \
                 redeem listener",
                resp.status
            ),
        ),
        (status, _) => fail(
            EXIT_UNEXPECTED,
            format!("unexpected answer from {authority} (HTTP {status}): {daemon_says}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_help_lists_every_exit_code() {
        let cli = crate::cli::Cli::command();
        let help = cli
            .find_subcommand("redeem")
            .unwrap()
            .get_after_help()
            .unwrap()
            .to_string();
        for code in ALL_CODES {
            assert!(
                help.lines()
                    .any(|l| l.trim_start().starts_with(&format!("{code} "))),
                "exit code {code} is not documented in:\n{help}"
            );
        }
        assert!(help.lines().all(|l| !l.trim_start().starts_with("11 ")));
    }

    #[test]
    fn tokens_are_found_anywhere_in_an_argument() {
        let t = token::generate(TokenKind::Enrollment).unwrap();
        let t = t.expose();
        assert!(holds_token(t));
        assert!(holds_token(&format!("--token={t}")));
        assert!(holds_token(&format!("x{t}\n")));
        // A mistyped token (checksum off) or a mere prefix is not a token.
        let mut typo = t.to_owned();
        typo.replace_range(10..11, if &t[10..11] == "a" { "b" } else { "a" });
        assert!(!holds_token(&typo));
        assert!(!holds_token("gpt_"));
        assert!(!holds_token("https://gpt_host:8443"));
        assert!(!holds_token("héllo gpt_é"));
    }

    #[test]
    fn a_store_unavailable_or_a_closed_connection_is_a_try_again_not_a_pin_problem() {
        let resp = RawResponse {
            status: 503,
            headers: Vec::new(),
            body: br#"{"error":{"code":"store_unavailable","message":"the store is unavailable"}}"#
                .as_slice()
                .into(),
        };
        let f = refusal(&resp, "gate.example:8443", false);
        assert_eq!(f.code, EXIT_UNREACHABLE);
        assert!(
            f.message.contains("run the same command again"),
            "{}",
            f.message
        );
        let f = transport_failure(
            ClientError::Tls("tls handshake eof".into()),
            "gate.example:8443",
            "try again",
        );
        assert_eq!(f.code, EXIT_UNREACHABLE);
        assert!(f.message.contains("not serving"), "{}", f.message);
        let f = transport_failure(
            ClientError::Tls("invalid peer certificate: UnknownIssuer".into()),
            "gate.example:8443",
            "try again",
        );
        assert_eq!(f.code, EXIT_TLS);
    }

    #[test]
    fn pins_are_normalised_or_refused() {
        let hex = "ab".repeat(32);
        let want = Some(format!("sha256:{hex}"));
        assert_eq!(normalise_pin(&format!("sha256:{hex}")), want);
        assert_eq!(
            normalise_pin(&format!(" SHA256:{} ", hex.to_uppercase())),
            want
        );
        assert_eq!(normalise_pin(&hex), want);
        assert_eq!(normalise_pin(&format!("sha256:{}", &hex[1..])), None);
        assert_eq!(normalise_pin(&format!("sha256:{}zz", &hex[2..])), None);
        assert_eq!(normalise_pin(""), None);
    }

    #[test]
    fn hostnames_follow_the_daemon_rules() {
        assert!(check_hostname("web-01.example_x", true).is_ok());
        for bad in ["", "a b", "web/01", "é", &"a".repeat(254)] {
            let e = check_hostname(bad, true).err().map(|f| f.code);
            assert_eq!(e, Some(EXIT_USAGE), "{bad:?}");
        }
    }

    #[test]
    fn atomic_writes_set_the_mode_at_creation_and_replace() -> io::Result<()> {
        let dir = std::env::temp_dir().join(format!("gatepass-redeem-test-{}", std::process::id()));
        DirBuilder::new().recursive(true).mode(0o700).create(&dir)?;
        write_atomic(&dir, "k", b"one", 0o600)?;
        write_atomic(&dir, "k", b"two", 0o600)?;
        let meta = fs::metadata(dir.join("k"))?;
        assert_eq!(std::os::unix::fs::MetadataExt::mode(&meta) & 0o777, 0o600);
        assert_eq!(fs::read(dir.join("k"))?, b"two");
        // No temporary file is left behind.
        let names: Vec<_> = fs::read_dir(&dir)?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, ["k"]);
        fs::remove_dir_all(&dir)
    }
}
