//! The scriptable commands: each takes parsed arguments and a client, prints to stdout (data)
//! and stderr (everything else), and returns an exit code or an error for `main` to print.

mod audit;
mod hosts;
mod tokens;

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::Context;
use gatepass_protocol::client::Client;
use gatepass_protocol::{TokenQuery, TokenStatus};

use crate::cli::{Cli, Command, UsageError};
use crate::local;

pub async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    let explicit = cli.socket.is_some();
    let socket = cli
        .socket
        .unwrap_or_else(gatepass_protocol::paths::default_socket);
    let client = Client::unix(&socket);
    match cli.command {
        None => status(client, explicit).await,
        Some(Command::Tokens(t)) => tokens::run(&client, t).await,
        Some(Command::Hosts(h)) => hosts::run(&client, h).await,
        Some(Command::Audit(a)) => audit::run(&client, a).await,
        Some(Command::InternalDaemon(_)) => Ok(ExitCode::SUCCESS),
    }
}

/// No subcommand: connect (starting a local daemon if needed) and summarise.
async fn status(client: Client, explicit_socket: bool) -> anyhow::Result<ExitCode> {
    let mut started = None;
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
        "Tokens: {} — {} active, {} disabled, {} expired, {} used up, {} revoked.",
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
pub fn confirm(question: &str, expected: Option<&str>) -> anyhow::Result<bool> {
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

pub fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}
