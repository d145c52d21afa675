//! Fixtures: a real daemon in a temp folder (killed on drop), the CLI against it, and HTTPS
//! redemptions pinned to its CA.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;

use gatepass_protocol::client::{Client, HttpsTarget, RawResponse, TrustMode};

/// The folder holding the built binaries (target/debug or target/release), built once per run.
pub fn bin_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // This test binary lives in target/<profile>/deps/.
        let exe = std::env::current_exe().unwrap();
        let dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
        let release = dir.file_name().is_some_and(|n| n == "release");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args([
            "build",
            "--quiet",
            "-p",
            "gatepassd",
            "-p",
            "gatepass",
            "--bins",
            // The test-only seams (the clock the tests move): never in a release build.
            "--features",
            "gatepassd/test-seams",
        ]);
        if release {
            cmd.arg("--release");
        }
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let status = cmd
            .current_dir(workspace)
            .status()
            .expect("running cargo build");
        assert!(status.success(), "building gatepassd and gatepass failed");
        dir
    })
}

pub fn gatepassd_bin() -> PathBuf {
    bin_dir().join("gatepassd")
}

pub fn gatepass_bin() -> PathBuf {
    bin_dir().join("gatepass")
}

/// The name of the user running the tests (and so the daemons and CLIs they start), never
/// assumed to be root.
pub fn current_user() -> String {
    let uid = nix::unistd::geteuid();
    nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| panic!("no user name for uid {uid}"))
}

/// A running daemon on its own temp folder.
/// Names the folder of a PostgreSQL server's socket: set, every daemon the tests start stores
/// in a database of its own there (`postgres::the_suites_pass_on_postgres_too`).
pub const PG_HOST_VAR: &str = "GATEPASS_TEST_PG_HOST";

pub struct Daemon {
    pub dir: tempfile::TempDir,
    pub child: Option<Child>,
    pub socket: PathBuf,
    pub redeem_url: String,
    pub pin: String,
    /// The HTTPS admin listener, when the config turns it on.
    pub admin_url: Option<String>,
    /// Extra config (TOML) written to the config file before start.
    pub config: String,
    /// Extra flags for the next starts (e.g. `--accept-journal-loss`).
    pub extra_args: Vec<String>,
    /// Extra environment for the next starts (e.g. systemd's `NOTIFY_SOCKET`).
    pub extra_env: Vec<(String, String)>,
    /// `http://ADDR` of the plain-HTTP metrics listener, when the config has one.
    pub metrics_url: Option<String>,
    /// The PostgreSQL database this daemon stores in, when the suites run on PostgreSQL
    /// (`GATEPASS_TEST_PG_HOST`): (socket folder, database name).
    pub pg_database: Option<(String, String)>,
    starts: u32,
}

impl Daemon {
    /// A daemon whose failure limit is high enough for tests that send many bad requests from
    /// one address (the rate-limit tests set their own).
    pub fn start() -> Daemon {
        Daemon::start_with_config(
            "[limits]\nredeem_failures_per_minute = 100000\nredeem_refusals_per_token_per_minute = 100000\n",
        )
    }

    pub fn start_with_config(config: &str) -> Daemon {
        let mut d = Daemon::unstarted(config);
        d.spawn();
        d
    }

    /// A daemon set up (its temp folder, its config) but not started: a test may fill its data
    /// folder or set `extra_args` first, then `start_again`.
    pub fn unstarted(config: &str) -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("run/gatepass.sock");
        Daemon {
            dir,
            child: None,
            socket,
            redeem_url: String::new(),
            pin: String::new(),
            admin_url: None,
            config: config.to_owned(),
            extra_args: Vec::new(),
            extra_env: Vec::new(),
            metrics_url: None,
            pg_database: None,
            starts: 0,
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("daemon.log")
    }

    fn spawn(&mut self) {
        // The suites run on PostgreSQL too: each daemon gets a database of its own there.
        if self.pg_database.is_none()
            && let Ok(host) = std::env::var(PG_HOST_VAR)
        {
            let name = format!(
                "d{}",
                self.dir.path().file_name().unwrap().to_string_lossy()
            )
            .to_lowercase()
            .replace(|c: char| !c.is_ascii_alphanumeric(), "_");
            gatepass_tests::pg::create_database(&host, &name);
            self.pg_database = Some((host, name));
        }
        let cfg = self.dir.path().join("gatepassd.toml");
        std::fs::write(&cfg, &self.config).unwrap();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .unwrap();
        // Keep the port across restarts so clients can come back to the same address.
        let listen = if self.redeem_url.is_empty() {
            "127.0.0.1:0".to_owned()
        } else {
            self.redeem_url.trim_start_matches("https://").to_owned()
        };
        let mut child = Command::new(gatepassd_bin())
            .arg("--config")
            .arg(&cfg)
            .arg("--data-dir")
            .arg(self.data_dir())
            .arg("--socket")
            .arg(&self.socket)
            .arg("--listen")
            .arg(&listen)
            .args(&self.extra_args)
            .args(self.store_args())
            .env(
                "GATEPASSD_TEST_CLOCK_FILE",
                self.dir.path().join("clock-offset"),
            )
            .env("GATEPASSD_LOG", "debug")
            .envs(self.extra_env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        assert!(
            line.starts_with("gatepassd ready"),
            "daemon did not start: {line:?}; log:\n{}",
            std::fs::read_to_string(self.log_path()).unwrap_or_default()
        );
        for part in line.split_whitespace() {
            if let Some(v) = part.strip_prefix("redeem=") {
                self.redeem_url = v.to_owned();
            }
            if let Some(v) = part.strip_prefix("ca_pin=") {
                self.pin = v.to_owned();
            }
            if let Some(v) = part.strip_prefix("admin=") {
                self.admin_url = Some(v.to_owned());
            }
            if let Some(v) = part.strip_prefix("metrics=") {
                self.metrics_url = Some(v.to_owned());
            }
        }
        self.child = Some(child);
        self.starts += 1;
    }

    /// `--store URL` when this daemon stores in PostgreSQL.
    fn store_args(&self) -> Vec<String> {
        match &self.pg_database {
            Some((host, name)) => vec![
                "--store".into(),
                format!("postgres://postgres@/{name}?host={host}&port=5432"),
            ],
            None => Vec::new(),
        }
    }

    /// The files the store keeps beyond the data folder: a `pg_dump` of its database (written
    /// into the test's folder) when it stores in PostgreSQL.
    pub fn store_dumps(&self) -> Vec<PathBuf> {
        match &self.pg_database {
            Some((host, name)) => {
                let path = self.dir.path().join("pg_dump.sql");
                std::fs::write(&path, gatepass_tests::pg::dump_database(host, name)).unwrap();
                vec![path]
            }
            None => Vec::new(),
        }
    }

    /// SIGKILL: no chance to flush or clean up.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, then waits for the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("daemon not running");
        let pid = c.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        c.wait().unwrap()
    }

    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// Starts the daemon again (after `kill` or `terminate`).
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "the daemon is running");
        self.spawn();
    }

    /// Runs `gatepassd` with this daemon's config and data folder and `args` (a subcommand such
    /// as `check`, or a start that is expected to stop), to completion.
    pub fn gatepassd(&self, args: &[&str]) -> Output {
        let cfg = self.dir.path().join("gatepassd.toml");
        std::fs::write(&cfg, &self.config).unwrap();
        Command::new(gatepassd_bin())
            .arg("--config")
            .arg(&cfg)
            .arg("--data-dir")
            .arg(self.data_dir())
            .arg("--socket")
            .arg(&self.socket)
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .env("GATEPASSD_LOG", "warn")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// Moves the daemon's clock by `secs` from real time (the test clock hook).
    pub fn set_clock_offset(&self, secs: i64) {
        std::fs::write(self.dir.path().join("clock-offset"), secs.to_string()).unwrap();
    }

    pub fn client(&self) -> Client {
        Client::unix(&self.socket)
    }

    /// Runs the real CLI against this daemon.
    pub fn cli(&self, args: &[&str]) -> Output {
        self.cli_with_stdin(args, None)
    }

    /// Runs the CLI against the HTTPS admin listener with an API token.
    pub fn cli_https(&self, api_token: &str, args: &[&str]) -> Output {
        let url = self.admin_url.clone().expect("the admin listener is on");
        Command::new(gatepass_bin())
            .args(["--server", &url, "--ca-pin", &self.pin])
            .args(args)
            .env_remove("GATEPASS_SOCKET")
            .env("GATEPASS_API_TOKEN", api_token)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    pub fn cli_with_stdin(&self, args: &[&str], stdin: Option<&str>) -> Output {
        use std::io::Write;
        let mut child = Command::new(gatepass_bin())
            .args(args)
            .env("GATEPASS_SOCKET", &self.socket)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        if let Some(s) = stdin {
            input.write_all(s.as_bytes()).unwrap();
        }
        drop(input);
        child.wait_with_output().unwrap()
    }

    /// Runs the CLI, asserts success, returns stdout.
    pub fn cli_ok(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "gatepass {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Mints a token with the CLI; returns (secret, id).
    pub fn mint(&self, args: &[&str]) -> (String, String) {
        let mut all = vec!["tokens", "create", "--json"];
        all.extend_from_slice(args);
        let v: serde_json::Value = serde_json::from_str(&self.cli_ok(&all)).unwrap();
        (
            v["secret"].as_str().unwrap().to_owned(),
            v["token"]["id"].as_str().unwrap().to_owned(),
        )
    }

    pub fn target(&self) -> HttpsTarget {
        HttpsTarget::parse(&self.redeem_url, TrustMode::Pin(self.pin.clone())).unwrap()
    }

    /// One redemption over a new HTTPS connection.
    pub async fn redeem(&self, token: &str, body: &str) -> RawResponse {
        self.redeem_with(&format!("Bearer {token}"), body).await
    }

    /// One redemption with this `Authorization` header, over a new HTTPS connection.
    pub async fn redeem_with(&self, auth: &str, body: &str) -> RawResponse {
        self.target()
            .request(
                "POST",
                "/v1/redeem",
                &[
                    ("authorization", auth),
                    ("content-type", "application/json"),
                ],
                body.as_bytes().to_vec(),
            )
            .await
            .unwrap()
    }

    pub fn token_json(&self, name_or_id: &str) -> serde_json::Value {
        serde_json::from_str(&self.cli_ok(&["tokens", "show", name_or_id, "--json"])).unwrap()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
    }
}

/// How many refusals an audit event stands for: 1, or its `count` when it gathers repeats.
pub fn refusals_in(e: &serde_json::Value) -> u64 {
    e["details"]["count"]
        .as_str()
        .map_or(1, |c| c.parse().unwrap())
}

/// The `redeem_failed` events `audit --json ARGS` lists.
pub fn redeem_failures(d: &Daemon, args: &[&str]) -> Vec<serde_json::Value> {
    let mut all = vec!["audit", "--json"];
    all.extend_from_slice(args);
    let audit: serde_json::Value = serde_json::from_str(&d.cli_ok(&all)).unwrap();
    audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "redeem_failed")
        .cloned()
        .collect()
}

/// Moves the daemon's clock to `offset` (past the minute in which repeated refusals are
/// gathered) and waits, at most 10 s, until the `redeem_failed` events of `audit ARGS` stand
/// for `n` refusals; returns them.
pub async fn await_refusals(
    d: &Daemon,
    offset: i64,
    args: &[&str],
    n: u64,
) -> Vec<serde_json::Value> {
    d.set_clock_offset(offset);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let events = redeem_failures(d, args);
        if events.iter().map(refusals_in).sum::<u64>() == n {
            return events;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the audit log never stood for {n} refusals: {events:#?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// The error code of a JSON error answer.
pub fn code(resp: &RawResponse) -> String {
    resp.error()
        .map(|e| e.error.code.as_str().to_owned())
        .unwrap_or_else(|| format!("<not an error body: {}>", resp.text()))
}

/// Asserts status and error code together, with the body in the message.
#[track_caller]
pub fn assert_error(resp: &RawResponse, status: u16, error_code: &str) {
    assert_eq!(
        (resp.status, code(resp).as_str()),
        (status, error_code),
        "body: {}",
        resp.text()
    );
}

/// A redeem target for `d` whose connections come from `addr` (a loopback address of its own).
pub fn from(d: &Daemon, addr: &str) -> HttpsTarget {
    let mut t = HttpsTarget::parse(&d.redeem_url, TrustMode::Pin(d.pin.clone())).unwrap();
    t.local_addr = Some(addr.parse().unwrap());
    t
}

/// One redemption through `t` with `secret`, as `hostname`.
pub async fn redeem_from(t: &HttpsTarget, secret: &str, hostname: &str) -> RawResponse {
    let auth = format!("Bearer {secret}");
    let body = format!(r#"{{"hostname":"{hostname}"}}"#);
    t.request(
        "POST",
        "/v1/redeem",
        &[
            ("content-type", "application/json"),
            ("authorization", &auth),
        ],
        body.into_bytes(),
    )
    .await
    .unwrap()
}
