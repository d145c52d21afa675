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
    /// The port (of the Unix socket, and of TCP on 127.0.0.1 when `tls`).
    port: u16,
    /// Whether the server also listens on 127.0.0.1 and takes TLS connections only there.
    tls: bool,
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
    create_database_on(host, 5432, name)
}

fn create_database_on(host: &str, port: u16, name: &str) -> String {
    let port = port.to_string();
    run_pg_ok(
        &pg_bin(),
        "psql",
        &[
            "-h",
            host,
            "-p",
            &port,
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-At",
            "-c",
            &format!("CREATE DATABASE {name}"),
        ],
    );
    format!("postgres://postgres@/{name}?host={host}&port={port}")
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
    /// The server's port (its Unix socket's, and its TCP one on 127.0.0.1 with TLS).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The folder holding the server's socket.
    pub fn host(&self) -> String {
        self.dir.path().to_str().unwrap().to_owned()
    }

    pub fn start() -> Cluster {
        Self::start_with(5432, None)
    }

    /// A server that also listens on 127.0.0.1 (a free port), where it takes TLS connections
    /// only (`hostssl`; plain ones are rejected), with this certificate and key (PEM).
    pub fn start_tls(cert_pem: &str, key_pem: &str) -> Cluster {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Self::start_with(port, Some((cert_pem, key_pem)))
    }

    fn start_with(port: u16, tls: Option<(&str, &str)>) -> Cluster {
        let bin = pg_bin();
        let dir = tempfile::Builder::new().prefix("gp-pg").tempdir().unwrap();
        if is_root() {
            let pg = nix::unistd::User::from_name("postgres")
                .unwrap()
                .expect("the postgres user (made by Debian's postgresql package)");
            nix::unistd::chown(dir.path(), Some(pg.uid), Some(pg.gid)).unwrap();
        }
        let c = Cluster {
            dir,
            bin,
            port,
            tls: tls.is_some(),
        };
        if let Some((cert, key)) = tls {
            let write = |name: &str, text: &str| {
                let path = c.dir.path().join(name);
                std::fs::write(&path, text).unwrap();
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
                if is_root() {
                    let pg = nix::unistd::User::from_name("postgres").unwrap().unwrap();
                    nix::unistd::chown(&path, Some(pg.uid), Some(pg.gid)).unwrap();
                }
            };
            write("server.crt", cert);
            write("server.key", key);
            write(
                "pg_hba.conf",
                "local all all trust\n\
                 hostssl all all 127.0.0.1/32 trust\n\
                 hostnossl all all 127.0.0.1/32 reject\n",
            );
        }
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
        let dir = self.dir.path().display();
        let mut opts = format!(
            "-c unix_socket_directories='{dir}' -c port={} -c max_connections=100 -c fsync=on",
            self.port
        );
        if self.tls {
            opts.push_str(&format!(
                " -c listen_addresses='127.0.0.1' -c ssl=on -c ssl_cert_file='{dir}/server.crt' \
                 -c ssl_key_file='{dir}/server.key' -c hba_file='{dir}/pg_hba.conf'"
            ));
        } else {
            opts.push_str(" -c listen_addresses=''");
        }
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
        let port = self.port.to_string();
        let out = self.run_ok(
            "psql",
            &[
                "-h",
                &host,
                "-p",
                &port,
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
        create_database_on(&self.host(), self.port, name)
    }

    /// A new database; returns its URL over TCP to 127.0.0.1 (a `start_tls` server), with
    /// `params` (e.g. `sslmode=verify-full&sslrootcert=…`).
    pub fn tcp_database(&self, name: &str, params: &str) -> String {
        create_database_on(&self.host(), self.port, name);
        format!(
            "postgres://postgres@127.0.0.1:{}/{name}?{params}",
            self.port
        )
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
