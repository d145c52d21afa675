//! `gatepass tokens …`: list, create, show, disable, enable, revoke, delete, purge.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::process::ExitCode;

use gatepass_protocol::client::Client;
use gatepass_protocol::types::DurationValue;
use gatepass_protocol::{
    CreateTokenRequest, MaxUses, PatchTokenRequest, SortColumn, Timestamp, TokenQuery, TokenStatus,
};
use serde::Serialize;

use super::{confirm, print_json, tenants};
use crate::cli::{CreateArgs, Expiry, Selection, SortArg, StatusArg, Tokens, UsageError};
use crate::error::{Context, Error, Result};
use crate::output;

/// The status the daemon filters by (expiring soon: active ones; never used: any).
fn status_of(s: StatusArg) -> Option<TokenStatus> {
    match s {
        StatusArg::Active | StatusArg::ExpiringSoon => Some(TokenStatus::Active),
        StatusArg::Disabled => Some(TokenStatus::Disabled),
        StatusArg::Expired => Some(TokenStatus::Expired),
        StatusArg::Exhausted => Some(TokenStatus::Exhausted),
        StatusArg::Revoked => Some(TokenStatus::Revoked),
        StatusArg::NeverUsed => None,
    }
}

/// What the daemon cannot filter by: the rest of the status filter, here.
fn keeps(s: Option<StatusArg>, t: &gatepass_protocol::Token, now: Timestamp) -> bool {
    match s {
        Some(StatusArg::ExpiringSoon) => output::expiring_soon(t, now),
        Some(StatusArg::NeverUsed) => t.uses == 0,
        _ => true,
    }
}

fn sort_of(s: SortArg) -> SortColumn {
    match s {
        SortArg::Name => SortColumn::Name,
        SortArg::Status => SortColumn::Status,
        SortArg::Uses => SortColumn::Uses,
        SortArg::LastUsed => SortColumn::LastUsed,
        SortArg::Group => SortColumn::Group,
        SortArg::Owner => SortColumn::Owner,
        SortArg::Expires => SortColumn::Expires,
        SortArg::Created => SortColumn::Created,
        SortArg::Description => SortColumn::Description,
    }
}

fn usage(msg: impl Into<String>) -> Error {
    UsageError(msg.into()).into()
}

pub async fn run(client: &Client, cmd: Tokens) -> Result<ExitCode> {
    let now = Timestamp::now();
    match cmd {
        Tokens::List {
            status,
            group,
            sort,
            desc,
            tenant,
            format,
        } => {
            let column = tenants::column(client, tenant.as_deref()).await;
            let q = TokenQuery {
                status: status.and_then(status_of),
                group,
                tenant,
                // As the console opens: by name (the daemon's own default is by expiry).
                sort: Some(sort.map_or(SortColumn::Name, sort_of)),
                desc,
                ..Default::default()
            };
            let mut tokens = client.list_tokens(&q).await?;
            tokens.retain(|t| keeps(status, t, now));
            if format.json {
                print_json(&tokens)?;
            } else if format.csv {
                let rows: Vec<_> = tokens.iter().map(output::token_csv_row).collect();
                print!("{}", output::csv(&output::TOKEN_CSV_HEADER, &rows));
            } else if tokens.is_empty() && (status.is_some() || q.group.is_some()) {
                eprintln!("No tokens match these filters.");
            } else if tokens.is_empty() {
                eprintln!("No tokens. Mint one with: gatepass tokens create --name NAME");
            } else {
                // On a terminal long descriptions are cut to keep rows on one line; into a
                // pipe or a file every value is printed whole.
                let whole = !std::io::stdout().is_terminal();
                let rows: Vec<_> = tokens
                    .iter()
                    .map(|t| output::token_row(t, now, whole))
                    .collect();
                let (header, rows) = tenants::with_column(
                    column,
                    &output::TOKEN_HEADER,
                    rows,
                    tokens.iter().map(|t| t.tenant.clone()),
                );
                print!("{}", output::table(&header, &rows));
                let differ = tokens.iter().filter(|t| output::counts_differ(t)).count();
                if differ > 0 {
                    eprintln!(
                        "! {differ} token(s) have fewer enrolled hosts on record than uses (hosts were removed)."
                    );
                }
            }
        }
        Tokens::Create(args) => create(client, *args).await?,
        Tokens::Show(t) => {
            let token = client.get_token(&t.name_or_id).await?;
            if t.json {
                print_json(&token)?;
            } else {
                print!("{}", output::token_details(&token, now));
            }
        }
        Tokens::Disable(sel) if sel.is_many() => {
            return bulk(client, Act::Disable, sel, true).await;
        }
        Tokens::Enable(sel) if sel.is_many() => return bulk(client, Act::Enable, sel, true).await,
        Tokens::Revoke(sel) if sel.is_many() => return bulk(client, Act::Revoke, sel, true).await,
        Tokens::Delete { select, yes } if select.is_many() => {
            return bulk(client, Act::Delete, select, yes).await;
        }
        Tokens::Disable(t) => {
            let token = client.patch_token(t.one()?, &disable(true)).await?;
            report(&token, t.json, "disabled")?;
        }
        Tokens::Enable(t) => {
            let token = client.patch_token(t.one()?, &disable(false)).await?;
            report(&token, t.json, "enabled")?;
        }
        Tokens::Revoke(t) => {
            let token = client.revoke_token(t.one()?).await?;
            report(&token, t.json, "revoked")?;
            if !t.json && token.hosts > 0 {
                eprintln!(
                    "The {} host(s) already enrolled keep their enrollment; no new host can use it.",
                    token.hosts
                );
            }
        }
        Tokens::Extend {
            name_or_id,
            expiry,
            shorten,
            json,
        } => extend(client, &name_or_id, expiry, shorten, json).await?,
        Tokens::Clone { source, create } => clone(client, &source, *create).await?,
        Tokens::Delete { select, yes } => {
            let name_or_id = select.one()?;
            let token = client.get_token(name_or_id).await?;
            if !yes {
                let question = format!(
                    "Delete token {} ({}, {} uses, {} enrolled host(s))? It leaves lists; its audit trail and hosts stay.",
                    output::quoted(&token.name),
                    token.status,
                    output::uses(&token),
                    token.hosts
                );
                // An active token could still enroll hosts: make the operator type its name.
                let expected = (token.status == TokenStatus::Active).then_some(token.name.as_str());
                if !confirm(&question, expected)? {
                    eprintln!("Not deleted.");
                    return Ok(ExitCode::from(crate::exit::FAILURE));
                }
            }
            client.delete_token(&token.id).await?;
            eprintln!(
                "Deleted token {} ({}).",
                output::quoted(&token.name),
                token.id
            );
        }
        Tokens::Purge { dry_run, yes } => {
            let all = client.list_tokens(&TokenQuery::default()).await?;
            let done: Vec<_> = all
                .into_iter()
                .filter(|t| {
                    matches!(
                        t.status,
                        TokenStatus::Expired | TokenStatus::Revoked | TokenStatus::Exhausted
                    )
                })
                .collect();
            if done.is_empty() {
                eprintln!("Nothing to purge.");
                return Ok(ExitCode::SUCCESS);
            }
            let whole = !std::io::stdout().is_terminal();
            let rows: Vec<_> = done
                .iter()
                .map(|t| output::token_row(t, now, whole))
                .collect();
            print!("{}", output::table(&output::TOKEN_HEADER, &rows));
            if dry_run {
                eprintln!("{} token(s) would be deleted (dry run).", done.len());
                return Ok(ExitCode::SUCCESS);
            }
            if !yes && !confirm(&format!("Delete these {} token(s)?", done.len()), None)? {
                eprintln!("Nothing deleted.");
                return Ok(ExitCode::from(crate::exit::FAILURE));
            }
            for t in &done {
                client
                    .delete_token(&t.id)
                    .await
                    .with_context(|| format!("deleting {}", t.name))?;
            }
            eprintln!("Deleted {} token(s).", done.len());
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn report(token: &gatepass_protocol::Token, json: bool, what: &str) -> Result<()> {
    if json {
        print_json(token)
    } else {
        eprintln!(
            "Token {} ({}) {what}; status now {}.",
            output::quoted(&token.name),
            token.id,
            token.status
        );
        Ok(())
    }
}

fn parse_labels(list: &[String]) -> Result<BTreeMap<String, String>> {
    let mut labels = BTreeMap::new();
    for l in list {
        let (k, v) = l
            .split_once('=')
            .ok_or_else(|| usage(format!("--label {l:?}: expected KEY=VALUE")))?;
        labels.insert(k.trim().to_owned(), v.to_owned());
    }
    // The daemon's own rules, checked here so a bad flag is a usage error (exit 2).
    gatepass_protocol::rules::validate_labels(&labels)
        .map_err(|e| usage(format!("--label: {e}")))?;
    Ok(labels)
}

/// A `--ttl`: a duration of at least one second.
pub(super) fn lifetime(t: &str) -> Result<DurationValue> {
    match gatepass_protocol::duration::parse_duration(t) {
        Ok(0) => Err(usage("--ttl: must be at least 1 second")),
        Ok(secs) => Ok(DurationValue(secs)),
        Err(e) => Err(usage(format!("--ttl: {e}"))),
    }
}

/// What `tokens create --json` prints.
#[derive(Serialize)]
struct Created<'a> {
    token: &'a gatepass_protocol::Token,
    secret: &'a str,
}

async fn create(client: &Client, a: CreateArgs) -> Result<()> {
    // The daemon's own rules, checked here so a bad flag is a usage error (exit 2); what only
    // the daemon knows (a name taken, its lifetime cap) it still says itself.
    use gatepass_protocol::rules as model;
    model::validate_name("--name", &a.name).map_err(usage)?;
    model::validate_description(a.description.as_deref().unwrap_or(""))
        .map_err(|e| usage(format!("--{e}")))?;
    if let Some(g) = &a.group {
        model::validate_name("--group", g).map_err(usage)?;
    }
    if let Some(o) = &a.owner {
        model::validate_name("--owner", o).map_err(usage)?;
    }
    let now = Timestamp::now();
    let ttl = a.ttl.as_deref().map(lifetime).transpose()?;
    let expires_at = match &a.expires {
        Some(t) => Some(Timestamp::parse(t).map_err(|e| usage(format!("--expires: {e}")))?),
        None => None,
    };
    if let Some(at) = expires_at
        && at <= now
    {
        return Err(usage(format!("--expires: {at} is not in the future")));
    }
    // When the token expires, if the flags say (else the daemon's default decides).
    let ends = match (&ttl, expires_at) {
        (Some(t), _) => Some(
            now.checked_add(t.0)
                .ok_or_else(|| usage("--ttl: reaches beyond the year 9999"))?,
        ),
        (None, at) => at,
    };
    let not_before = match &a.not_before {
        Some(t) => Some(Timestamp::parse(t).map_err(|e| usage(format!("--not-before: {e}")))?),
        None => None,
    };
    if let (Some(nb), Some(end)) = (not_before, ends)
        && nb >= end
    {
        return Err(usage(format!(
            "--not-before: {nb} is not before the expiry ({end})"
        )));
    }
    let max_uses = match &a.uses {
        Some(u) => Some(MaxUses::parse(u).map_err(|e| usage(format!("--uses: {e}")))?),
        None => None,
    };
    let req = CreateTokenRequest {
        name: a.name,
        description: a.description,
        group: a.group,
        labels: parse_labels(&a.labels)?,
        owner: a.owner,
        max_uses,
        ttl,
        expires_at,
        no_expiry: a.no_expiry,
        allowed_cidrs: {
            gatepass_protocol::rules::normalise_cidrs(&a.allowed_cidrs)
                .map_err(|e| usage(format!("--allow-cidr: {e}")))?;
            a.allowed_cidrs
        },
        not_before,
        tenant: a.tenant,
    };
    let created = match client.create_token(&req).await {
        Ok(c) => c,
        Err(e) => return Err(tenants::explain_required(client, e).await),
    };
    let t = &created.token;
    if a.json {
        print_json(&Created {
            token: t,
            secret: &created.secret,
        })?;
    } else {
        // The token alone on stdout, so $(gatepass tokens create …) captures just it.
        println!("{}", created.secret);
    }
    let uses = match t.max_uses {
        MaxUses::Limited(1) => "single-use".to_owned(),
        MaxUses::Limited(n) => format!("{n} uses"),
        MaxUses::Unlimited => "unlimited uses".to_owned(),
    };
    let expiry = match t.expires_at {
        Some(e) => format!(
            "expires {e} ({})",
            output::when(Some(e), Timestamp::now(), "")
        ),
        None => "never expires".to_owned(),
    };
    eprintln!(
        "Created token {} (id {}, {uses}, {expiry}).",
        output::quoted(&t.name),
        t.id
    );
    eprintln!("It is shown this once and cannot be recovered. On the host, run:");
    eprintln!("  {}", created.join_command);
    eprintln!("and paste the token at the prompt (or set GATEPASS_TOKEN in its environment).");
    Ok(())
}

/// The patch that disables a token, or enables it.
fn disable(disabled: bool) -> PatchTokenRequest {
    PatchTokenRequest {
        disabled: Some(disabled),
        ..Default::default()
    }
}

/// What a command does to each selected token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Act {
    Revoke,
    Disable,
    Enable,
    Delete,
}

impl Act {
    /// "revoked", as results say it.
    fn done(self) -> &'static str {
        match self {
            Act::Revoke => "revoked",
            Act::Disable => "disabled",
            Act::Enable => "enabled",
            Act::Delete => "deleted",
        }
    }

    /// "revoke", as a dry run says what it would do.
    fn verb(self) -> &'static str {
        match self {
            Act::Revoke => "revoke",
            Act::Disable => "disable",
            Act::Enable => "enable",
            Act::Delete => "delete",
        }
    }

    /// Does it to one token: the token as it is after (`None`: deleted).
    async fn apply(
        self,
        client: &Client,
        name_or_id: &str,
    ) -> Result<Option<gatepass_protocol::Token>> {
        Ok(match self {
            Act::Revoke => Some(client.revoke_token(name_or_id).await?),
            Act::Disable => Some(client.patch_token(name_or_id, &disable(true)).await?),
            Act::Enable => Some(client.patch_token(name_or_id, &disable(false)).await?),
            Act::Delete => {
                client.delete_token(name_or_id).await?;
                None
            }
        })
    }
}

impl Selection {
    /// More than the one named token: several names, a filter, or a dry run.
    fn is_many(&self) -> bool {
        self.names.len() != 1 || self.status.is_some() || self.group.is_some() || self.dry_run
    }

    /// The one token named (when not [`Selection::is_many`]).
    fn one(&self) -> Result<&str> {
        match self.names.as_slice() {
            [one] => Ok(one),
            _ => Err(usage("name a token (or use --status / --group)")),
        }
    }
}

/// One result of a command on several tokens, as `--json` prints it.
#[derive(Serialize)]
struct Outcome<'a> {
    name: &'a str,
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    done: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// The tokens a selection names: each name (looked up, so a wrong one fails before anything
/// changes), then every token the filters select, each once, in list order.
async fn selected(client: &Client, sel: &Selection) -> Result<Vec<gatepass_protocol::Token>> {
    let mut out: Vec<gatepass_protocol::Token> = Vec::new();
    for n in &sel.names {
        let t = client
            .get_token(n)
            .await
            .with_context(|| format!("{n:?}"))?;
        if !out.iter().any(|x| x.id == t.id) {
            out.push(t);
        }
    }
    if sel.status.is_some() || sel.group.is_some() {
        let q = TokenQuery {
            status: sel.status.and_then(status_of),
            group: sel.group.clone(),
            sort: Some(SortColumn::Name),
            ..Default::default()
        };
        let now = Timestamp::now();
        for t in client.list_tokens(&q).await? {
            if keeps(sel.status, &t, now) && !out.iter().any(|x| x.id == t.id) {
                out.push(t);
            }
        }
    }
    Ok(out)
}

/// Revoke, disable, enable or delete several tokens: the list first (all of it, with
/// --dry-run), one confirmation for a deletion (active ones: type their count), then each
/// token's result; exit 1 when any failed.
async fn bulk(client: &Client, act: Act, sel: Selection, yes: bool) -> Result<ExitCode> {
    if sel.names.is_empty() && sel.status.is_none() && sel.group.is_none() {
        return Err(usage("name tokens, or select them with --status / --group"));
    }
    let all = selected(client, &sel).await?;
    // Revocation is final: a revoked token is not revoked, disabled or enabled again.
    let skips =
        |t: &gatepass_protocol::Token| act != Act::Delete && t.status == TokenStatus::Revoked;
    for t in all.iter().filter(|t| skips(t)) {
        eprintln!(
            "skipped   {} ({}): revoked already; revocation is final",
            output::quoted(&t.name),
            t.id
        );
    }
    let now = Timestamp::now();
    let whole = !std::io::stdout().is_terminal();
    if sel.dry_run {
        return dry_run(act, &all, &skips, sel.json, now, whole);
    }
    let tokens: Vec<_> = all.into_iter().filter(|t| !skips(t)).collect();
    if tokens.is_empty() {
        eprintln!("No tokens to act on.");
        return Ok(ExitCode::SUCCESS);
    }
    // The selection is shown where it is to be confirmed; otherwise each token's line below
    // says what was done to it.
    if act == Act::Delete && !yes {
        if !sel.json {
            let rows: Vec<_> = tokens
                .iter()
                .map(|t| output::token_row(t, now, whole))
                .collect();
            print!("{}", output::table(&output::TOKEN_HEADER, &rows));
        }
        let active = tokens
            .iter()
            .filter(|t| t.status == TokenStatus::Active)
            .count();
        let n = tokens.len().to_string();
        let question = format!(
            "Delete these {n} token(s)? They leave lists; their audit trails and hosts stay."
        );
        // Active tokens could still enroll hosts: make the operator type how many.
        if !confirm(&question, (active > 0).then_some(n.as_str()))? {
            eprintln!("Nothing deleted.");
            return Ok(ExitCode::from(crate::exit::FAILURE));
        }
    }
    let mut failed = 0;
    let mut outcomes = Vec::new();
    for t in &tokens {
        let r = act.apply(client, &t.id).await;
        let (done, error) = match r {
            Ok(_) => (Some(act.done()), None),
            Err(e) => {
                failed += 1;
                (None, Some(e.one_line()))
            }
        };
        if !sel.json {
            match &error {
                None => eprintln!("{:<9} {} ({})", act.done(), output::quoted(&t.name), t.id),
                Some(e) => eprintln!("failed    {} ({}): {e}", output::quoted(&t.name), t.id),
            }
        }
        outcomes.push(Outcome {
            name: &t.name,
            id: &t.id,
            done,
            error,
        });
    }
    if sel.json {
        print_json(&outcomes)?;
    }
    eprintln!(
        "{} {} of {} token(s){}.",
        capitalised(act.done()),
        tokens.len() - failed,
        tokens.len(),
        if failed > 0 {
            "; see the failures above"
        } else {
            ""
        }
    );
    Ok(if failed > 0 {
        ExitCode::from(crate::exit::FAILURE)
    } else {
        ExitCode::SUCCESS
    })
}

/// A dry run reports every selected token — those it would act on and those it would skip
/// (it listed only the first kind, so `revoke a b --dry-run` with `b` revoked showed only
/// `a`) — and changes nothing.
fn dry_run(
    act: Act,
    all: &[gatepass_protocol::Token],
    skips: &dyn Fn(&gatepass_protocol::Token) -> bool,
    json: bool,
    now: Timestamp,
    whole: bool,
) -> Result<ExitCode> {
    #[derive(Serialize)]
    struct Would<'a> {
        name: &'a str,
        id: &'a str,
        status: String,
        would: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<&'static str>,
    }
    let skipped = all.iter().filter(|t| skips(t)).count();
    if json {
        let v: Vec<Would<'_>> = all
            .iter()
            .map(|t| Would {
                name: &t.name,
                id: &t.id,
                status: t.status.to_string(),
                would: if skips(t) { "skip" } else { act.verb() },
                reason: skips(t).then_some("revoked already; revocation is final"),
            })
            .collect();
        print_json(&v)?;
    } else if !all.is_empty() {
        let rows: Vec<_> = all
            .iter()
            .map(|t| output::token_row(t, now, whole))
            .collect();
        print!("{}", output::table(&output::TOKEN_HEADER, &rows));
    }
    let skip_note = if skipped > 0 {
        format!(", {skipped} skipped")
    } else {
        String::new()
    };
    eprintln!(
        "{} token(s) would be {}{skip_note} (dry run: nothing changed).",
        all.len() - skipped,
        act.done()
    );
    Ok(ExitCode::SUCCESS)
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// `tokens extend`: a new expiry, from now (--ttl), a date, or none; a PATCH of expires_at,
/// which the daemon checks against its lifetime rules and audits as `updated`.
async fn extend(
    client: &Client,
    name_or_id: &str,
    e: Expiry,
    shorten: bool,
    json: bool,
) -> Result<()> {
    let now = Timestamp::now();
    let expires_at = if e.no_expiry {
        None
    } else if let Some(t) = &e.ttl {
        Some(
            now.checked_add(lifetime(t)?.0)
                .ok_or_else(|| usage("--ttl: reaches beyond the year 9999"))?,
        )
    } else {
        let t = e.expires.as_deref().unwrap_or_default();
        let at = Timestamp::parse(t).map_err(|e| usage(format!("--expires: {e}")))?;
        if at <= now {
            return Err(usage(format!("--expires: {at} is not in the future")));
        }
        Some(at)
    };
    let current = client.get_token(name_or_id).await?;
    if let Some(new) = expires_at
        && !shorten
        && current.expires_at.is_none_or(|old| new < old)
    {
        let now_text = match current.expires_at {
            Some(old) => format!("expires {old}"),
            None => "never expires".to_owned(),
        };
        return Err(Error::Failed(format!(
            "not extended: token {} {now_text}, and the new expiry {new} is earlier; pass \
             --shorten to cut its life short",
            output::quoted(&current.name)
        )));
    }
    let patch = PatchTokenRequest {
        expires_at: Some(expires_at),
        ..Default::default()
    };
    let token = client.patch_token(&current.id, &patch).await?;
    if json {
        return print_json(&token);
    }
    let when = match token.expires_at {
        Some(at) => format!("expires {at} ({})", output::when(Some(at), now, "")),
        None => "never expires".to_owned(),
    };
    eprintln!(
        "Token {} ({}) now {when}.",
        output::quoted(&token.name),
        token.id
    );
    Ok(())
}

/// `tokens clone`: the source's settings, each create flag given replacing one (labels added
/// to the source's), minted under the new name with a new secret.
async fn clone(client: &Client, source: &str, mut a: CreateArgs) -> Result<()> {
    let src = client.get_token(source).await?;
    if a.description.is_none() && !src.description.is_empty() {
        a.description = Some(src.description.clone());
    }
    if a.group.is_none() {
        a.group = src.group.clone();
    }
    // Only an admin names an owner; anyone else mints for themselves, as the source was.
    if a.owner.is_none() && client.whoami().await?.role == gatepass_protocol::Role::Admin {
        a.owner = Some(src.owner.clone());
    }
    if a.uses.is_none() {
        a.uses = Some(match src.max_uses {
            MaxUses::Limited(n) => n.to_string(),
            MaxUses::Unlimited => "unlimited".to_owned(),
        });
    }
    if a.ttl.is_none() && a.expires.is_none() && !a.no_expiry {
        match src.expires_at {
            // The same lifetime, from now.
            Some(e) => a.ttl = Some(format!("{}s", e.0.saturating_sub(src.created_at.0).max(1))),
            None => a.no_expiry = true,
        }
    }
    let mut labels: Vec<String> = src.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    labels.append(&mut a.labels);
    a.labels = labels;
    if a.allowed_cidrs.is_empty() {
        a.allowed_cidrs = src.allowed_cidrs.clone();
    }
    if a.tenant.is_none() {
        a.tenant = Some(src.tenant.clone());
    }
    eprintln!("Cloning {} ({}).", output::quoted(&src.name), src.id);
    create(client, a).await
}
