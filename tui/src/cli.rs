//! The command-line grammar (clap). Names follow PRODUCT.md exactly; scripts depend on them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "gatepass",
    version,
    about = "Mint, list, revoke and audit Gatepass enrollment tokens",
    after_help = "With no command, gatepass opens the console against the daemon (starting a \
                  local one if none is running); without a terminal it prints a summary.\n\nExit codes: 0 success, 1 failure, 2 usage, \
                  3 daemon unreachable."
)]
pub struct Cli {
    // These three go before the command (`gatepass --socket S tokens list`), as the product's
    // grammar writes them: not global, so no subcommand repeats them in its own options.
    /// The daemon's Unix socket [env: GATEPASS_SOCKET].
    #[arg(long, conflicts_with = "server", value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// The daemon over HTTPS: its admin listener for commands (with an API token from
    /// GATEPASS_API_TOKEN or a prompt); for `redeem`, its redeem listener [env: GATEPASS_SERVER].
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// The CA pin of the --server (sha256:HEX, printed by gatepassd and `gatepass doctor`).
    #[arg(
        long,
        env = "GATEPASS_CA_PIN",
        hide_env_values = true,
        value_name = "PIN"
    )]
    pub ca_pin: Option<String>,
    /// Console: look, never change anything (auditors are always read-only).
    #[arg(long)]
    pub readonly: bool,
    /// Console: capture the mouse (wheel scrolls, click selects); off by default so text, such
    /// as a revealed token, stays selectable.
    #[arg(long)]
    pub mouse: bool,
    /// Console: how `c` copies a revealed token.
    #[arg(
        long,
        value_enum,
        env = "GATEPASS_CLIPBOARD",
        default_value = "auto",
        value_name = "MODE"
    )]
    pub clipboard: crate::console::clipboard::ClipboardMode,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Enrollment tokens.
    #[command(subcommand)]
    Tokens(Tokens),
    /// Hosts enrolled with tokens.
    #[command(subcommand)]
    Hosts(Hosts),
    /// The audit log: who did what, and every redemption attempt.
    Audit(AuditArgs),
    /// The tenants open to you.
    #[command(subcommand)]
    Tenants(Tenants),
    /// Personal API tokens (gpa_…) for the HTTPS admin listener.
    #[command(subcommand, name = "apitokens")]
    ApiTokens(ApiTokens),
    /// Checks the daemon, your identity and role, the TLS pin, the clipboard path and the config.
    Doctor,
    /// Admins: writes a consistent snapshot of the running daemon's store to FILE (new, 0600),
    /// for `gatepassd restore FILE --data-dir DIR`. Keep hmac.key, ca.pem and ca.key with it.
    Backup {
        /// The file to write (it must not exist), or `-` for the standard output (not a terminal).
        file: PathBuf,
    },
    /// Enroll this host: redeem an enrollment token against the daemon's redeem listener
    /// (--server https://HOST:PORT) and write ca.pem, cert.pem, key.pem and host-id.
    #[command(after_help = REDEEM_AFTER_HELP)]
    Redeem(RedeemArgs),
    /// Prints a shell completion script (also in assets/completions/ of the source).
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Prints the man page, roff (also in assets/man/ of the source): `gatepass man | man -l -`.
    Man,
    /// Runs an embedded daemon (used by the console to start one).
    #[cfg(feature = "embedded-daemon")]
    #[command(name = "__daemon", hide = true)]
    InternalDaemon(gatepassd::launcher::Args),
}

/// `gatepass redeem --help`, below the options: where the token comes from and the exit codes
/// (the constants in `commands/redeem.rs`; a unit test there keeps the two in step).
const REDEEM_AFTER_HELP: &str = "\
--server is the daemon's redeem listener and --ca-pin its CA pin (both printed by gatepassd at \
start, by `gatepass doctor` and with every minted token). Without a pin the command refuses \
unless told --insecure-skip-pin.

The token is read from --token-file (- for standard input), else the GATEPASS_TOKEN environment \
variable, else a no-echo prompt on the terminal; never from the command line, where every user \
sees it in the process list and it lands in shell history. It is checked offline (prefix, \
length, checksum) before anything is sent.

The host key is generated here and never leaves the host: key.pem (0600) is written before the \
request, so running the same command again after a lost answer reuses it and the daemon returns \
the same enrollment without spending another use (within its grace window, 10 minutes by \
default). --out defaults to /etc/gatepass for root and ./gatepass otherwise; it is created 0700.

On success the host id alone goes to standard output, a summary to standard error.

Exit codes:
  0   enrolled
  1   unexpected answer from the daemon (internal error, not a redeem endpoint)
  2   usage: bad flags, a token on the command line, no --ca-pin, no token source
  3   daemon unreachable or not serving now: connection refused, no answer in time, connection \
lost, closed before TLS, 503 (its store unavailable); run the same command again later
  4   TLS failed: the server's CA does not match --ca-pin, or no TLS at all
  5   token rejected: malformed (checked offline) or unknown to the daemon (401)
  6   token expired, revoked or used up (410)
  7   token disabled, not valid from this address, or not valid yet (403)
  8   request refused as malformed (400, 413, 415)
  9   local file problem: an enrollment exists (use --force), cannot read or write
  10  too many failed attempts from this address (429): wait and try again";

#[derive(Debug, Args)]
pub struct RedeemArgs {
    /// The daemon's redeem listener, https://HOST:PORT [env: GATEPASS_SERVER].
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// The daemon's CA pin, sha256:HEX (printed by gatepassd, `tokens create` and the console).
    #[arg(
        long,
        env = "GATEPASS_CA_PIN",
        hide_env_values = true,
        value_name = "PIN"
    )]
    pub ca_pin: Option<String>,
    /// Read the token from this file (surrounding whitespace is ignored; - reads standard input).
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Write ca.pem, cert.pem, key.pem and host-id here [default: /etc/gatepass for root,
    /// ./gatepass otherwise].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// The host name to enroll as [default: the machine's host name].
    #[arg(long, value_name = "NAME")]
    pub hostname: Option<String>,
    /// Enroll again even though --out already holds an enrollment (replaced only on success).
    #[arg(long)]
    pub force: bool,
    /// Do not check the server's CA: anyone on the network path could take the token.
    #[arg(long)]
    pub insecure_skip_pin: bool,
    /// Never used: a token on the command line is refused (see --token-file).
    #[arg(long = "token", value_name = "TOKEN", hide = true)]
    pub token_flag: Vec<String>,
    /// Never used: a token on the command line is refused (see --token-file).
    #[arg(value_name = "TOKEN", hide = true)]
    pub token_argv: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StatusArg {
    Active,
    Disabled,
    Expired,
    /// Every use spent (also accepted: used-up).
    #[value(alias = "used-up")]
    Exhausted,
    Revoked,
    /// Active, and expiring within a day (as the console's status filter).
    ExpiringSoon,
    /// Never redeemed, whatever the status.
    NeverUsed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SortArg {
    Name,
    Status,
    Uses,
    LastUsed,
    Group,
    Owner,
    Expires,
    Created,
    Description,
}

#[derive(Debug, Args)]
#[group(multiple = false)]
pub struct Format {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Print CSV.
    #[arg(long)]
    pub csv: bool,
}

#[derive(Debug, Subcommand)]
pub enum Tokens {
    /// List tokens (never their secrets).
    List {
        /// Only tokens with this status.
        #[arg(long, value_enum)]
        status: Option<StatusArg>,
        /// Only tokens whose hosts join this group.
        #[arg(long)]
        group: Option<String>,
        /// The column to sort by [default: name].
        #[arg(long, value_enum)]
        sort: Option<SortArg>,
        /// Sort in descending order.
        #[arg(long)]
        desc: bool,
        /// Only the tokens of this tenant.
        #[arg(long, value_name = "TENANT")]
        tenant: Option<String>,
        #[command(flatten)]
        format: Format,
    },
    /// Mint a token. Prints the token alone on stdout, everything else on stderr.
    Create(Box<CreateArgs>),
    /// Show one token.
    Show(Target),
    /// Disable tokens (reversible with enable).
    Disable(Selection),
    /// Enable disabled tokens.
    Enable(Selection),
    /// Revoke tokens for good; enrolled hosts keep their enrollment.
    Revoke(Selection),
    /// Delete tokens: they leave lists, their audit trails stay.
    Delete {
        #[command(flatten)]
        select: Selection,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Give a token a new expiry (audited as updated).
    Extend {
        /// The token's name, its id, or gpt_<id>… as lists show it.
        #[arg(value_parser = clap::builder::NonEmptyStringValueParser::new())]
        name_or_id: String,
        #[command(flatten)]
        expiry: Expiry,
        /// Allow a new expiry earlier than the current one (without it, a shorter lifetime is
        /// refused: extending never cuts a token's life short by surprise).
        #[arg(long)]
        shorten: bool,
        /// Print the token as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Mint a token with another's settings and a new secret: --name NEW, and any create flag
    /// to change one (labels are added to the source's).
    Clone {
        /// The source token's name, its id, or gpt_<id>….
        #[arg(value_name = "NAME_OR_ID", value_parser = clap::builder::NonEmptyStringValueParser::new())]
        source: String,
        #[command(flatten)]
        create: Box<CreateArgs>,
    },
    /// Delete expired, revoked and used-up tokens.
    Purge {
        /// Only list what would be deleted.
        #[arg(long)]
        dry_run: bool,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
}

/// Which tokens a command acts on: names (or ids), and/or every token a filter selects.
#[derive(Debug, Args)]
pub struct Selection {
    /// Tokens by name, id, or gpt_<id>… as lists show them (several may be given).
    #[arg(value_name = "NAME_OR_ID", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub names: Vec<String>,
    /// Also every token with this status (with --group: both must match).
    #[arg(long, value_enum)]
    pub status: Option<StatusArg>,
    /// Also every token whose hosts join this group (with --status: both must match).
    #[arg(long)]
    pub group: Option<String>,
    /// Only list the tokens it would act on.
    #[arg(long)]
    pub dry_run: bool,
    /// Print each token (or each result) as JSON.
    #[arg(long)]
    pub json: bool,
}

/// A new expiry: one of a lifetime from now, a date, or none.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct Expiry {
    /// Lifetime from now: 15m, 1h, 1d, 7d…
    #[arg(long, allow_hyphen_values = true)]
    pub ttl: Option<String>,
    /// Expiry as an RFC 3339 date and time, e.g. 2030-01-31T18:00:00Z.
    #[arg(long)]
    pub expires: Option<String>,
    /// Never expires (if the daemon allows it).
    #[arg(long)]
    pub no_expiry: bool,
}

#[derive(Debug, Args)]
pub struct Target {
    /// The token's name, its id, or gpt_<id>… as lists show it.
    #[arg(value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub name_or_id: String,
    /// Print the token as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Unique name, 1–64 characters.
    #[arg(long)]
    pub name: String,
    /// Lifetime: 15m, 1h, 1d, 3d, 14d, 90d… (default: the daemon's, 3d unless configured).
    #[arg(long, group = "expiry", allow_hyphen_values = true)]
    pub ttl: Option<String>,
    /// Expiry as an RFC 3339 date and time, e.g. 2030-01-31T18:00:00Z.
    #[arg(long, group = "expiry")]
    pub expires: Option<String>,
    /// Never expires (if the daemon allows it).
    #[arg(long, group = "expiry")]
    pub no_expiry: bool,
    /// How many hosts may use it: 1 (default), a number, or unlimited.
    #[arg(long, allow_hyphen_values = true)]
    pub uses: Option<String>,
    /// Group the enrolled hosts join.
    #[arg(long)]
    pub group: Option<String>,
    /// Label handed to enrolled hosts, key=value (repeatable).
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// What it is for (up to 512 characters).
    #[arg(long)]
    pub description: Option<String>,
    /// Owner of the enrolled hosts (admins only; default: you): a member of the tenant.
    #[arg(long)]
    pub owner: Option<String>,
    /// The tenant to mint in: needed when more than one is open to you (`tenants list`).
    #[arg(long, value_name = "TENANT")]
    pub tenant: Option<String>,
    /// Only hosts from this address or CIDR may redeem it (repeatable).
    #[arg(long = "allow-cidr", value_name = "CIDR")]
    pub allowed_cidrs: Vec<String>,
    /// Not valid before this RFC 3339 time.
    #[arg(long)]
    pub not_before: Option<String>,
    /// Print {"token": {…}, "secret": "gpt_…"}.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum Hosts {
    /// List enrolled hosts.
    List {
        /// Only hosts enrolled with this token (name or id).
        #[arg(long)]
        token: Option<String>,
        /// Only the hosts of this tenant.
        #[arg(long, value_name = "TENANT")]
        tenant: Option<String>,
        #[command(flatten)]
        format: Format,
    },
    /// Remove a host from the records (audited). Its token's use count stays as it was.
    Remove {
        /// The host's id (hosts list shows it).
        #[arg(value_parser = clap::builder::NonEmptyStringValueParser::new())]
        id: String,
        /// Print the removed host as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum Tenants {
    /// The tenants you have a role in: name, your role there, and the tokens and hosts of it
    /// you see.
    List {
        /// Print JSON (admins also get each tenant's members).
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ApiTokens {
    /// Your API tokens (admins: everyone's).
    List {
        /// Only the API tokens of this tenant.
        #[arg(long, value_name = "TENANT")]
        tenant: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Create an API token for yourself. Prints the token alone on stdout.
    Create {
        /// Its name, unique among yours (1–64 characters).
        #[arg(long)]
        name: String,
        /// Lifetime (default 14d, at least 1d).
        #[arg(long, group = "api_expiry", allow_hyphen_values = true)]
        ttl: Option<String>,
        /// Expiry as an RFC 3339 date and time.
        #[arg(long, group = "api_expiry")]
        expires: Option<String>,
        /// Valid only for request paths under this prefix, e.g. /v1/tokens.
        #[arg(long)]
        path_prefix: Option<String>,
        /// Valid only when the Referer's host ends with this value.
        #[arg(long)]
        referrer: Option<String>,
        /// A note for yourself: what uses it (up to 512 characters).
        #[arg(long)]
        remark: Option<String>,
        /// What it may do: read (GET only), mint (read, and create tokens) or manage (all
        /// your role allows; the default).
        #[arg(long, value_parser = ["read", "mint", "manage"])]
        scope: Option<String>,
        /// The one tenant it acts in: needed when you hold the REST API role in several.
        #[arg(long)]
        tenant: Option<String>,
        /// Print {"api_token": {…}, "secret": "gpa_…"}.
        #[arg(long)]
        json: bool,
    },
    /// Delete an API token (by id, or one of yours by name): it stops working at once.
    Delete {
        /// The API token's id, or the name of one of yours.
        #[arg(value_parser = clap::builder::NonEmptyStringValueParser::new())]
        id_or_name: String,
    },
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub command: Option<AuditCommand>,
    /// Only events newer than this (e.g. 24h, 7d) or since an RFC 3339 time.
    #[arg(long)]
    pub since: Option<String>,
    /// Only events about this token (name or id; deleted tokens by id).
    #[arg(long)]
    pub token: Option<String>,
    /// Only events by this actor (a user name, or host:NAME@ADDRESS).
    #[arg(long)]
    pub actor: Option<String>,
    /// At most this many events (the newest; at least 1).
    #[arg(long, value_parser = positive, allow_negative_numbers = true)]
    pub limit: Option<usize>,
    /// Only events older than this sequence number: the `seq` of the oldest event of the
    /// previous page (a cursor, with --limit, to page back through the log).
    #[arg(long)]
    pub before: Option<u64>,
    /// Only the events of this tenant.
    #[arg(long, value_name = "TENANT")]
    pub tenant: Option<String>,
    /// Print the events as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the audit log's hash chain: reports OK or the first bad event.
    Verify {
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// A mistake in how the command was called (exit code 2).
#[derive(Debug)]
pub struct UsageError(pub String);

/// A count of at least 1.
fn positive(s: &str) -> Result<usize, String> {
    match s.parse::<i128>() {
        Ok(n) if n < 1 => Err("must be at least 1".into()),
        Ok(n) => usize::try_from(n).map_err(|_| format!("must be at most {}", usize::MAX)),
        Err(_) => Err(format!("{s:?} is not a whole number")),
    }
}

impl Cli {
    /// Fills `--socket` / `--server` from GATEPASS_SOCKET / GATEPASS_SERVER. A flag on the
    /// command line wins over both variables, so `redeem --server …` works on a machine that
    /// exports GATEPASS_SOCKET for its admin commands; `redeem` only ever reads GATEPASS_SERVER.
    /// Both variables and neither flag is a usage error: nothing says which daemon is meant.
    pub fn with_env(self) -> Result<Cli, UsageError> {
        self.with_vars(|k| std::env::var_os(k).filter(|v| !v.is_empty()))
    }

    fn with_vars(
        mut self,
        var: impl Fn(&str) -> Option<std::ffi::OsString>,
    ) -> Result<Cli, UsageError> {
        let server = || {
            var("GATEPASS_SERVER")
                .map(|v| {
                    v.into_string()
                        .map_err(|_| UsageError("GATEPASS_SERVER is not valid text".into()))
                })
                .transpose()
        };
        if let Some(Command::Redeem(a)) = &mut self.command {
            // Before or after `redeem`, the flag wins; then the variable.
            if a.server.is_none() {
                a.server = match self.server.take() {
                    Some(s) => Some(s),
                    None => server()?,
                };
            }
            if a.ca_pin.is_none() {
                a.ca_pin = self.ca_pin.take();
            }
            return Ok(self);
        }
        if self.socket.is_some() || self.server.is_some() {
            return Ok(self);
        }
        match (var("GATEPASS_SOCKET"), server()?) {
            (Some(_), Some(_)) => Err(UsageError(
                "GATEPASS_SOCKET and GATEPASS_SERVER are both set; pass --socket or --server to \
                 choose"
                    .into(),
            )),
            (socket, server) => {
                self.socket = socket.map(PathBuf::from);
                self.server = server;
                Ok(self)
            }
        }
    }
}

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

#[cfg(test)]
mod tests {
    #[test]
    fn a_count_out_of_range_is_named_for_what_it_is() {
        assert_eq!(positive("7"), Ok(7));
        assert_eq!(positive("0").unwrap_err(), "must be at least 1");
        assert_eq!(positive("-3").unwrap_err(), "must be at least 1");
        let huge = positive("99999999999999999999999").unwrap_err();
        assert!(huge.starts_with("must be at most"), "{huge}");
        assert!(positive("x").unwrap_err().contains("not a whole number"));
    }

    use super::*;

    fn parsed(args: &[&str], vars: &[(&str, &str)]) -> Result<Cli, UsageError> {
        let cli = Cli::try_parse_from(std::iter::once("gatepass").chain(args.iter().copied()))
            .map_err(|e| UsageError(e.to_string()))?;
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        cli.with_vars(|k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.into()))
    }

    #[test]
    fn flags_win_over_the_environment_and_redeem_reads_only_the_server() {
        let sock = ("GATEPASS_SOCKET", "/run/gp.sock");
        let server = ("GATEPASS_SERVER", "https://gp.example:8443");
        // A machine that exports the socket can still redeem against a server.
        let redeem_server = |c: Cli| match c.command {
            Some(Command::Redeem(a)) => a.server,
            _ => None,
        };
        let c = parsed(&["--server", "https://h:1", "redeem"], &[sock]).unwrap();
        assert_eq!(redeem_server(c).as_deref(), Some("https://h:1"));
        let c = parsed(&["redeem", "--server", "https://h:2"], &[sock, server]).unwrap();
        assert_eq!(redeem_server(c).as_deref(), Some("https://h:2"));
        let c = parsed(&["redeem"], &[sock, server]).unwrap();
        assert_eq!(redeem_server(c).as_deref(), Some(server.1));
        // Commands: the variable stands for its flag; a flag wins over the other variable.
        let c = parsed(&["tokens", "list"], &[sock]).unwrap();
        assert_eq!(c.socket.as_deref(), Some(std::path::Path::new(sock.1)));
        let c = parsed(&["--socket", "/tmp/x.sock", "tokens", "list"], &[server]).unwrap();
        assert_eq!((c.socket.is_some(), c.server), (true, None));
        let c = parsed(&["--server", "https://h:1", "tokens", "list"], &[sock]).unwrap();
        assert_eq!((c.socket, c.server.as_deref()), (None, Some("https://h:1")));
        // Both variables and no flag: which daemon is meant is not known.
        assert!(parsed(&["tokens", "list"], &[sock, server]).is_err());
        // Both flags: still refused.
        assert!(
            parsed(
                &[
                    "--socket",
                    "/s",
                    "--server",
                    "https://h:1",
                    "tokens",
                    "list"
                ],
                &[]
            )
            .is_err()
        );
    }

    /// Every option and argument a user can see says what it is for, and the options that
    /// go before the command are not repeated in each subcommand's list (`redeem --help`
    /// listed `--socket`, which it ignores).
    #[test]
    fn every_visible_argument_has_help_and_global_options_stay_global() {
        use clap::CommandFactory;
        fn walk(cmd: &clap::Command, path: &str, top: bool) {
            for a in cmd.get_arguments() {
                let id = a.get_id().as_str();
                if a.is_hide_set() || id == "help" || id == "version" {
                    continue;
                }
                assert!(
                    a.get_help().is_some() || a.get_long_help().is_some(),
                    "{path} {id} has no help text"
                );
                if !top {
                    let own = path.ends_with(" redeem") && matches!(id, "server" | "ca_pin");
                    assert!(
                        own || !matches!(id, "socket" | "server" | "ca_pin"),
                        "{path} repeats --{id}"
                    );
                }
            }
            for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
                walk(sub, &format!("{path} {}", sub.get_name()), false);
            }
        }
        // Built, as for --help: global options are propagated into subcommands then.
        let mut cmd = Cli::command();
        cmd.build();
        walk(&cmd, "gatepass", true);
    }

    /// Every command that takes tokens names its argument NAME_OR_ID (`tokens clone` said
    /// `<SOURCE>`), and no option shows an environment variable's value in `--help` (the CA
    /// pin showed as `[env: GATEPASS_CA_PIN=sha256:…]`).
    #[test]
    fn token_arguments_are_named_alike_and_env_values_stay_hidden() {
        use clap::CommandFactory;
        let mut cmd = Cli::command();
        cmd.build();
        let tokens = cmd.find_subcommand("tokens").expect("tokens");
        for sub in [
            "show", "disable", "enable", "revoke", "delete", "extend", "clone",
        ] {
            let usage = tokens
                .find_subcommand(sub)
                .expect(sub)
                .clone()
                .render_usage()
                .to_string();
            assert!(usage.contains("NAME_OR_ID"), "{sub}: {usage}");
        }
        fn walk(cmd: &clap::Command) {
            for a in cmd.get_arguments() {
                if a.get_env().is_some() && a.get_id() != "clipboard" {
                    assert!(
                        a.is_hide_env_values_set(),
                        "--{} shows its env value",
                        a.get_id()
                    );
                }
            }
            cmd.get_subcommands()
                .filter(|s| !s.is_hide_set())
                .for_each(walk);
        }
        walk(&cmd);
    }

    #[test]
    fn an_empty_name_or_id_is_a_usage_error() {
        let more = |cmd: &str| match cmd {
            "extend" => vec!["--ttl", "1d"],
            "clone" => vec!["--name", "web-2"],
            _ => vec![],
        };
        for cmd in [
            "show", "disable", "enable", "revoke", "delete", "extend", "clone",
        ] {
            let with = |name: &'static str| {
                let mut v = vec!["tokens", cmd, name];
                v.extend(more(cmd));
                v
            };
            assert!(parsed(&with(""), &[]).is_err(), "{cmd}");
            assert!(parsed(&with("web"), &[]).is_ok(), "{cmd}");
        }
        // A new expiry is one of --ttl, --expires, --no-expiry: exactly one.
        assert!(parsed(&["tokens", "extend", "web"], &[]).is_err());
        assert!(
            parsed(
                &["tokens", "extend", "web", "--ttl", "1d", "--no-expiry"],
                &[]
            )
            .is_err()
        );
    }
}
