//! A private PostgreSQL server for the tests and benchmarks of the PostgreSQL engine: `initdb` in a temp
//! folder, listening on a Unix socket there only (no TCP), run as the `postgres` user when the
//! tests run as root (as in CI, where `.ci/run` installs Debian's `postgresql`). Stopped and
//! removed when dropped. PostgreSQL missing is a failure, never a skip.

// A harness for tests and benchmarks: a server that cannot be set up is their failure, told
// by a panic that says what went wrong.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::{Command, Output};

pub struct Cluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
}

/// The newest installed PostgreSQL's `bin` folder.
fn pg_bin() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path().join("bin"))
                .filter(|b| b.join("pg_ctl").is_file())
                .collect()
        })
        .unwrap_or_default();
    found.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    found.pop().expect(
        "PostgreSQL is not installed (/usr/lib/postgresql/*/bin/pg_ctl); .ci/run installs it \
         with `apt-get install postgresql`",
    )
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Runs a PostgreSQL program as the server's user (`postgres` when the tests run as root).
fn run_pg(bin: &std::path::Path, program: &str, args: &[&str]) -> Output {
    let exe = bin.join(program);
    let mut cmd = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(exe);
        c
    } else {
        Command::new(exe)
    };
    cmd.args(args).output().unwrap()
}

fn run_pg_ok(bin: &std::path::Path, program: &str, args: &[&str]) -> Output {
    let out = run_pg(bin, program, args);
    assert!(
        out.status.success(),
        "{program} {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A new database `name` on the server whose socket is in `host`; returns its URL.
pub fn create_database(host: &str, name: &str) -> String {
    run_pg_ok(
        &pg_bin(),
        "psql",
        &[
            "-h",
            host,
            "-p",
            "5432",
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-At",
            "-c",
            &format!("CREATE DATABASE {name}"),
        ],
    );
    format!("postgres://postgres@/{name}?host={host}&port=5432")
}

/// `pg_dump` of database `name` on the server whose socket is in `host`, as text.
pub fn dump_database(host: &str, name: &str) -> String {
    let out = run_pg_ok(
        &pg_bin(),
        "pg_dump",
        &["-h", host, "-p", "5432", "-U", "postgres", name],
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl Cluster {
    /// The folder holding the server's socket.
    pub fn host(&self) -> String {
        self.dir.path().to_str().unwrap().to_owned()
    }

    pub fn start() -> Cluster {
        let bin = pg_bin();
        let dir = tempfile::Builder::new().prefix("gp-pg").tempdir().unwrap();
        if is_root() {
            let pg = nix::unistd::User::from_name("postgres")
                .unwrap()
                .expect("the postgres user (made by Debian's postgresql package)");
            nix::unistd::chown(dir.path(), Some(pg.uid), Some(pg.gid)).unwrap();
        }
        let c = Cluster { dir, bin };
        let data = c.dir.path().join("data");
        c.run_ok(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ],
        );
        c.pg_ctl_start();
        c
    }

    fn run(&self, program: &str, args: &[&str]) -> Output {
        run_pg(&self.bin, program, args)
    }

    fn run_ok(&self, program: &str, args: &[&str]) -> Output {
        run_pg_ok(&self.bin, program, args)
    }

    fn pg_ctl_start(&self) {
        let data = self.dir.path().join("data");
        let log = self.dir.path().join("log");
        let opts = format!(
            "-c listen_addresses='' -c unix_socket_directories='{}' -c port=5432 \
             -c max_connections=100 -c fsync=on",
            self.dir.path().display()
        );
        self.run_ok(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-l",
                log.to_str().unwrap(),
                "-w",
                "-o",
                &opts,
                "start",
            ],
        );
    }

    /// Freezes the server (SIGSTOP to it and every process it started), as a machine that stops
    /// answering without closing its connections: `thaw` lets it go on.
    pub fn freeze(&self) {
        self.signal("-STOP");
    }

    pub fn thaw(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, sig: &str) {
        let pid_file = self.dir.path().join("data/postmaster.pid");
        let text = std::fs::read_to_string(pid_file).unwrap();
        let pid = text.lines().next().unwrap().trim().to_owned();
        // Children first, so none is left running while the parent stops.
        Command::new("pkill")
            .args([sig, "-P", &pid])
            .status()
            .unwrap();
        Command::new("kill").args([sig, &pid]).status().unwrap();
    }

    /// Starts the server again after `stop`.
    pub fn start_again(&self) {
        self.pg_ctl_start();
    }

    pub fn stop(&self, mode: &str) {
        let data = self.dir.path().join("data");
        self.run(
            "pg_ctl",
            &["-D", data.to_str().unwrap(), "-m", mode, "-w", "stop"],
        );
    }

    /// Runs SQL in database `db` with psql; returns what it printed (unaligned, tuples only).
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let host = self.dir.path().to_str().unwrap().to_owned();
        let out = self.run_ok(
            "psql",
            &[
                "-h",
                &host,
                "-p",
                "5432",
                "-U",
                "postgres",
                "-d",
                db,
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ],
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A new database; returns its URL (over the Unix socket).
    pub fn database(&self, name: &str) -> String {
        create_database(&self.host(), name)
    }

    /// `pg_dump` of a database, as text.
    pub fn dump(&self, db: &str) -> String {
        dump_database(&self.host(), db)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop("immediate");
    }
}
