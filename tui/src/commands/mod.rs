//! The scriptable commands: each takes parsed arguments and a client, prints to stdout (data)
//! and stderr (everything else), and returns an exit code or an error for `main` to print.

mod apitokens;
mod audit;
mod backup;
mod docs;
mod doctor;
mod hosts;
mod redeem;
mod tenants;
mod tokens;

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use gatepass_protocol::client::{Client, Endpoint, HttpsTarget, TrustMode};
use gatepass_protocol::token::{self, TokenKind};
use gatepass_protocol::{TokenQuery, TokenStatus};
use zeroize::Zeroizing;

use crate::cli::{Cli, Command, UsageError};
use crate::error::{Context, Result};
use crate::local;

/// The API token for `--server`: `GATEPASS_API_TOKEN`, else a no-echo prompt on a terminal.
fn api_token() -> Result<Zeroizing<String>> {
    let raw = match std::env::var("GATEPASS_API_TOKEN") {
        Ok(t) => Zeroizing::new(t),
        Err(_) if std::io::stdin().is_terminal() => Zeroizing::new(rpassword::prompt_password(
            "API token (gpa_…, not echoed): ",
        )?),
        Err(_) => {
            return Err(UsageError(
                "--server needs an API token: set GATEPASS_API_TOKEN (no terminal to ask on)"
                    .into(),
            )
            .into());
        }
    };
    let parsed = token::parse_kind(&raw, TokenKind::Api).context("the API token")?;
    Ok(Zeroizing::new(parsed.expose().to_owned()))
}

/// The client the flags ask for: the Unix socket by default, or the HTTPS admin listener.
/// The flag is true when the user named the endpoint (no local daemon is started then).
fn client_for(cli: &Cli) -> Result<(Client, bool)> {
    if let Some(url) = &cli.server {
        let pin = cli.ca_pin.clone().ok_or_else(|| {
            UsageError(
                "--server needs --ca-pin (or GATEPASS_CA_PIN): gatepassd prints it at start".into(),
            )
        })?;
        let target = HttpsTarget::parse(url, TrustMode::Pin(pin))?;
        let token = api_token()?;
        let endpoint = Endpoint::Https {
            target,
            api_token: Some(token.to_string()),
        };
        return Ok((Client::new(endpoint), true));
    }
    let explicit = cli.socket.is_some();
    let socket = cli
        .socket
        .clone()
        .unwrap_or_else(gatepass_protocol::paths::default_socket);
    Ok((Client::unix(&socket), explicit))
}

pub async fn dispatch(cli: Cli) -> Result<ExitCode> {
    let cli = cli.with_env()?;
    // A host being enrolled has nothing but this binary: no socket, no API token.
    if let Some(Command::Redeem(mut args)) = cli.command {
        let (server, pin) = (args.server.take(), args.ca_pin.take());
        return Ok(redeem::run(args, server, pin).await);
    }
    match &cli.command {
        Some(Command::Completions { shell }) => {
            print!("{}", docs::completions(*shell));
            return Ok(ExitCode::SUCCESS);
        }
        Some(Command::Man) => {
            std::io::stdout().write_all(&docs::man_page()?)?;
            return Ok(ExitCode::SUCCESS);
        }
        _ => {}
    }
    let (client, explicit) = client_for(&cli)?;
    // A command with no socket named, for a user without a daemon of their own: the system
    // daemon's (as the console finds it), or a line naming what an admin must set.
    let client = match &cli.command {
        Some(_) if !explicit && !gatepass_protocol::paths::default_socket().exists() => {
            match crate::local::system_daemon().await? {
                crate::local::System::Reachable(system) => system,
                crate::local::System::Absent => client,
            }
        }
        _ => client,
    };
    match cli.command {
        None if std::io::stdout().is_terminal() && std::io::stdin().is_terminal() => {
            console(client, explicit, &cli).await
        }
        None => status(client, explicit).await,
        Some(Command::Tokens(t)) => tokens::run(&client, t).await,
        Some(Command::Hosts(h)) => hosts::run(&client, h).await,
        Some(Command::Audit(a)) => audit::run(&client, a).await,
        Some(Command::Tenants(t)) => tenants::run(&client, t).await,
        Some(Command::ApiTokens(a)) => apitokens::run(&client, a).await,
        Some(Command::Doctor) => doctor::run(&client, cli.clipboard).await,
        Some(Command::Backup { file }) => backup::run(&client, &file).await,
        #[cfg(feature = "embedded-daemon")]
        Some(Command::InternalDaemon(_)) => Ok(ExitCode::SUCCESS),
        Some(Command::Completions { .. } | Command::Man) => Ok(ExitCode::SUCCESS),
        // Handled above, before any client is built.
        Some(Command::Redeem(_)) => Ok(ExitCode::SUCCESS),
    }
}

/// No subcommand on a terminal: the console, after starting a local daemon when none answers
/// at the default socket (the console says so in its header).
async fn console(client: Client, explicit: bool, cli: &Cli) -> Result<ExitCode> {
    let mut started = None;
    let client = match explicit {
        true => client,
        false => match local::system_daemon().await? {
            local::System::Reachable(system) => system,
            local::System::Absent => client,
        },
    };
    // When the daemon named explicitly does not answer, the console opens anyway: it shows the
    // error and keeps reconnecting.
    if let Err(e) = client.whoami().await
        && e.is_unreachable()
        && !explicit
    {
        started = Some(local::start_daemon().await?);
    }
    let opts = crate::console::Options {
        readonly: cli.readonly,
        mouse: cli.mouse,
        clipboard: cli.clipboard,
    };
    crate::console::run(client, started, opts).await
}

/// No subcommand and no terminal: connect (starting a local daemon if needed) and summarise.
async fn status(client: Client, explicit_socket: bool) -> Result<ExitCode> {
    let mut started = None;
    let client = match explicit_socket {
        true => client,
        false => match local::system_daemon().await? {
            local::System::Reachable(system) => system,
            local::System::Absent => client,
        },
    };
    let who = match client.whoami().await {
        Ok(w) => w,
        Err(e) if e.is_unreachable() && !explicit_socket => {
            let info = local::start_daemon().await?;
            let w = client
                .whoami()
                .await
                .context("the local daemon started but does not answer")?;
            started = Some(info);
            w
        }
        Err(e) => return Err(e.into()),
    };
    let tokens = client.list_tokens(&TokenQuery::default()).await?;
    println!(
        "Gatepass {} — {}",
        env!("CARGO_PKG_VERSION"),
        client.endpoint().describe()
    );
    if let Some(info) = started {
        println!(
            "Started a local daemon (pid {}; data in {}; log in {}).",
            info.pid,
            info.data_dir.display(),
            info.log.display()
        );
    }
    println!(
        "You are {} ({}). Hosts redeem at {} (CA pin {}).",
        who.user, who.role, who.redeem_url, who.ca_pin
    );
    let count = |s: TokenStatus| tokens.iter().filter(|t| t.status == s).count();
    println!(
        "Tokens: {} — {} active, {} disabled, {} expired, {} exhausted, {} revoked.",
        tokens.len(),
        count(TokenStatus::Active),
        count(TokenStatus::Disabled),
        count(TokenStatus::Expired),
        count(TokenStatus::Exhausted),
        count(TokenStatus::Revoked)
    );
    println!();
    println!("Mint a token:    gatepass tokens create --name web-rollout --ttl 1d");
    println!("List tokens:     gatepass tokens list");
    println!("Audit trail:     gatepass audit --since 24h");
    println!("All commands:    gatepass --help");
    Ok(ExitCode::SUCCESS)
}

/// Asks a yes/no question on the terminal; refuses (with a usage error) when there is none.
pub fn confirm(question: &str, expected: Option<&str>) -> Result<bool> {
    if !std::io::stdin().is_terminal() {
        return Err(UsageError("no terminal to confirm on: pass --yes".into()).into());
    }
    let mut err = std::io::stderr();
    match expected {
        Some(word) => write!(err, "{question}\nType {word:?} to confirm: ")?,
        None => write!(err, "{question} [y/N] ")?,
    }
    err.flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let answer = line.trim();
    Ok(match expected {
        Some(word) => answer == word,
        None => answer.eq_ignore_ascii_case("y") || answer.eq_ignore_ascii_case("yes"),
    })
}

pub fn print_json<T: serde::Serialize>(value: &T) -> Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}
