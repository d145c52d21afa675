//! The interactive console (`gatepass` with no subcommand): views of tokens, hosts, the audit
//! log and API tokens, live over the daemon's server-sent events, with the create form, the
//! one-time reveal and confirmations. `app` holds the shared state, the messages and `update`;
//! each screen (`list`, `form`, `reveal`, `confirm`, `detail`, `help`, `chooser`) holds its
//! keys and its drawing; `draw` lays the screen out, `widgets` fits text to columns, `keymap`
//! is the one table of keys; this module is the runtime that connects them to the terminal,
//! the daemon (through the protocol client only), the clipboard and files. The lists are
//! loaded for the tenant the console shows (`T`), which the runtime follows through a watch.

pub mod app;
pub mod calendar;
pub mod chooser;
pub mod clipboard;
pub mod confirm;
pub mod detail;
pub mod draw;
pub mod files;
pub mod form;
pub mod help;
pub mod keymap;
pub mod list;
pub mod reveal;
pub mod table;
pub mod theme;
pub mod timefmt;
pub mod widgets;

#[cfg(test)]
pub(crate) mod fixtures;
#[cfg(test)]
mod snapshots;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Context, Result};
use crossterm::event::{Event, EventStream};
use futures_util::StreamExt;
use gatepass_protocol::client::{Client, ClientError, Endpoint};
use gatepass_protocol::{AuditQuery, HostQuery, PatchTokenRequest, Timestamp, TokenQuery};
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};
use tokio::sync::watch;
use zeroize::Zeroizing;

use self::app::{App, Cmd, ConfirmKind, Msg, Pasted, update};
use self::clipboard::{ClipEnv, ClipboardMode, SystemClipboard};
use self::theme::Theme;

pub use self::timefmt::init_local_offset;

/// How many audit events the console loads (the newest).
pub const AUDIT_WINDOW: usize = 5_000;

/// The console's command-line options.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    pub readonly: bool,
    pub mouse: bool,
    pub clipboard: ClipboardMode,
}

/// What reaches the event loop besides the terminal: messages for `update`, and bytes for the
/// terminal itself (OSC 52), written between frames so they never tear a frame.
enum Inbox {
    Msg(Msg),
    Terminal(Zeroizing<Vec<u8>>),
}

type Tx = UnboundedSender<Inbox>;

/// The tenant the lists are loaded for (`None`: all), and how many times it was chosen: a
/// load started for an earlier choice is dropped rather than shown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Shown {
    tenant: Option<String>,
    choice: u64,
}

type Following = watch::Receiver<Shown>;

fn send(tx: &Tx, msg: Msg) -> bool {
    tx.send(Inbox::Msg(msg)).is_ok()
}

/// Restores the terminal however the console ends (errors included; panics have ratatui's hook).
struct Restore {
    mouse: bool,
}

impl Drop for Restore {
    fn drop(&mut self) {
        if self.mouse {
            let _ = crossterm::execute!(std::io::stdout(), crossterm::event::DisableMouseCapture);
        }
        let _ = crossterm::execute!(std::io::stdout(), crossterm::event::DisableBracketedPaste);
        ratatui::restore();
    }
}

/// Runs the console until the operator quits. `started` says a local daemon was started for it.
pub async fn run(
    client: Client,
    started: Option<crate::local::Started>,
    opts: Options,
) -> Result<ExitCode> {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(crate::cli::UsageError(
            "the console needs a terminal; for scripts use a command (gatepass --help)".into(),
        )
        .into());
    }
    let endpoint = client.endpoint().describe();
    let mut terminal = ratatui::try_init().context("cannot take over the terminal")?;
    let _restore = Restore { mouse: opts.mouse };
    if opts.mouse {
        crossterm::execute!(std::io::stdout(), crossterm::event::EnableMouseCapture)?;
    }
    // A paste arrives whole (one frame), so a pasted token's secret is never drawn on its way to
    // being cut out of the filter.
    crossterm::execute!(std::io::stdout(), crossterm::event::EnableBracketedPaste)?;
    let mut app = App::new(endpoint, opts.readonly, Theme::from_env(), Timestamp::now());
    app.started = started;
    app.mouse = opts.mouse;
    let size = terminal.size()?;
    app.size = (size.width, size.height);

    let (tx, mut rx) = unbounded_channel::<Inbox>();
    let (shown_tx, shown) = watch::channel(Shown::default());
    let conn = tokio::spawn(connection(client.clone(), tx.clone(), shown.clone()));
    let clip = Arc::new(SystemClipboard::default());
    let mut keys = EventStream::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut sighup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;

    let mut draw_needed = true;
    loop {
        if draw_needed {
            app.refresh();
            terminal.draw(|f| draw::draw(f, &app))?;
            draw_needed = false;
        }
        let first = tokio::select! {
            ev = keys.next() => match ev {
                Some(Ok(Event::Key(k))) => Inbox::Msg(Msg::Key(k)),
                Some(Ok(Event::Mouse(m))) => Inbox::Msg(Msg::Mouse(m)),
                Some(Ok(Event::Paste(p))) => Inbox::Msg(Msg::Paste(Pasted(Zeroizing::new(p)))),
                Some(Ok(Event::Resize(w, h))) => Inbox::Msg(Msg::Resize(w, h)),
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(e).context("reading the terminal"),
                None => break,
            },
            Some(m) = rx.recv() => m,
            _ = tick.tick() => Inbox::Msg(Msg::Tick(Timestamp::now())),
            _ = sigterm.recv() => break,
            _ = sighup.recv() => break,
        };
        // Take everything already waiting before drawing: a burst of live changes costs one frame.
        let mut batch = vec![first];
        while let Ok(m) = rx.try_recv() {
            batch.push(m);
        }
        for item in batch {
            match item {
                Inbox::Terminal(bytes) => {
                    let out = terminal.backend_mut();
                    out.write_all(&bytes)?;
                    out.flush()?;
                }
                Inbox::Msg(msg) => {
                    #[cfg(debug_assertions)]
                    panic_if_asked(&msg);
                    let cmds = update(&mut app, msg);
                    draw_needed |= app.dirty;
                    // Before any command: a reload it asks for loads the tenant now shown.
                    shown_tx.send_if_modified(|s| {
                        let now = Shown {
                            tenant: app.tenant.clone(),
                            choice: app.tenant_gen,
                        };
                        let changed = *s != now;
                        *s = now;
                        changed
                    });
                    for cmd in cmds {
                        if let Cmd::ClearScreen = cmd {
                            blank(&mut terminal)?;
                            draw_needed = true;
                        } else {
                            run_cmd(cmd, &client, &tx, &shown, &clip, opts.clipboard);
                        }
                    }
                }
            }
        }
        if app.quit {
            break;
        }
    }
    conn.abort();
    // Nothing that was on screen (a reveal included) survives in the terminal.
    blank(&mut terminal)?;
    Ok(ExitCode::SUCCESS)
}

/// A test seam, in debug builds only (release builds never have it): with
/// `GATEPASS_TEST_PANIC_KEY=K` in its environment, the console panics when K is pressed, so the
/// end-to-end tests can see a panic restore the terminal as the real binary runs.
#[cfg(debug_assertions)]
fn panic_if_asked(msg: &Msg) {
    use crossterm::event::KeyCode;
    static KEY: std::sync::OnceLock<Option<char>> = std::sync::OnceLock::new();
    let key = KEY.get_or_init(|| {
        std::env::var("GATEPASS_TEST_PANIC_KEY")
            .ok()
            .and_then(|k| k.chars().next())
    });
    if let (Msg::Key(k), Some(want)) = (msg, key)
        && k.code == KeyCode::Char(*want)
    {
        panic!("the test panic asked for by GATEPASS_TEST_PANIC_KEY");
    }
}

/// Overwrites every cell with a blank frame, so the next frame is drawn whole. (Unlike
/// `Terminal::clear`, this never asks the terminal for the cursor position, which a slow or
/// unusual terminal may not answer in time.)
fn blank(terminal: &mut ratatui::DefaultTerminal) -> std::io::Result<()> {
    terminal.draw(|f| f.render_widget(ratatui::widgets::Clear, f.area()))?;
    Ok(())
}

/// Keeps the console connected: who am I, every list, then live changes; on any failure it
/// says so and tries again with a short backoff.
async fn connection(client: Client, tx: Tx, shown: Following) {
    tokio::spawn(store_probe(client.clone(), tx.clone()));
    let mut backoff = Duration::from_millis(500);
    loop {
        match client.whoami().await {
            Ok(w) => {
                if !send(&tx, Msg::Connected(w)) {
                    return;
                }
            }
            Err(e) => {
                if !send(&tx, Msg::Lost(e.to_string())) {
                    return;
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(4));
                continue;
            }
        }
        backoff = Duration::from_millis(500);
        // Subscribe before listing, so no change falls between the list and the stream.
        let stream = client.events().await;
        load_all(&client, &tx, &shown).await;
        match stream {
            Ok(mut s) => loop {
                match s.next().await {
                    Some(Ok(ev)) => {
                        if !send(&tx, Msg::Change(Box::new(ev))) {
                            return;
                        }
                    }
                    Some(Err(e)) => {
                        send(&tx, Msg::Lost(format!("the event stream broke: {e}")));
                        break;
                    }
                    None => {
                        send(&tx, Msg::Lost("the daemon closed the event stream".into()));
                        break;
                    }
                }
            },
            // The HTTPS admin listener has no event stream: poll instead.
            Err(_) if matches!(client.endpoint(), Endpoint::Https { .. }) => loop {
                tokio::time::sleep(Duration::from_secs(2)).await;
                if client.whoami().await.is_err() {
                    break;
                }
                load_all(&client, &tx, &shown).await;
            },
            Err(e) => {
                send(&tx, Msg::Lost(e.to_string()));
            }
        }
        tokio::time::sleep(backoff).await;
    }
}

/// Asks the daemon every few seconds whether its store serves (`/healthz`): a daemon that
/// answers while its store does not (a PostgreSQL node cut off from its database) keeps the
/// event stream open, so only this tells the header. Ends with the console.
async fn store_probe(client: Client, tx: Tx) {
    let mut last = false;
    while !tx.is_closed() {
        // An unreachable daemon is the connection's to say.
        let down = client.healthz().await.is_ok_and(|r| r.status == 503);
        if down != last {
            if !send(&tx, Msg::StoreDown(down)) {
                return;
            }
            last = down;
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
}

/// The tenants open to the caller, then every list for the tenant shown. A list that comes
/// back after another tenant was chosen is dropped: the load for that one follows.
async fn load_all(client: &Client, tx: &Tx, shown: &Following) {
    match client.list_tenants().await {
        Ok(v) => send(tx, Msg::Tenants(Some(v))),
        // A daemon from before tenants: everything is in `default`.
        Err(ClientError::Api { status: 404, .. } | ClientError::Decode { status: 404, .. }) => {
            send(tx, Msg::Tenants(None))
        }
        Err(e) => send(tx, failed("Listing tenants", e)),
    };
    let Shown { tenant, choice } = shown.borrow().clone();
    let current = || shown.borrow().choice == choice;
    let lists = |msg: Msg| current() && send(tx, msg);
    let (tokens, hosts, audit) = list_queries(tenant);
    match client.list_tokens(&tokens).await {
        Ok(v) => lists(Msg::Tokens(v)),
        Err(e) => send(tx, failed("Listing tokens", e)),
    };
    match client.list_hosts(&hosts).await {
        Ok(v) => lists(Msg::Hosts(v)),
        Err(e) => send(tx, failed("Listing hosts", e)),
    };
    match client.audit(&audit).await {
        Ok(v) => lists(Msg::Audit(v)),
        Err(e) => send(tx, failed("Reading the audit log", e)),
    };
    let api = client.list_api_tokens().await.map_err(|e| e.to_string());
    lists(Msg::ApiTokens(api));
}

/// What the lists of `tenant` (`None`: all tenants) are asked for with: its tokens, its hosts
/// and its newest audit events.
pub fn list_queries(tenant: Option<String>) -> (TokenQuery, HostQuery, AuditQuery) {
    let tokens = TokenQuery {
        tenant: tenant.clone(),
        ..TokenQuery::default()
    };
    let hosts = HostQuery {
        tenant: tenant.clone(),
        ..HostQuery::default()
    };
    let audit = AuditQuery {
        limit: Some(AUDIT_WINDOW),
        tenant,
        ..AuditQuery::default()
    };
    (tokens, hosts, audit)
}

fn failed(what: &str, e: impl std::fmt::Display) -> Msg {
    Msg::ActionFailed {
        what: what.to_owned(),
        error: e.to_string(),
    }
}

/// Runs `work` on the runtime and hands its message to the event loop.
fn answer(tx: Tx, work: impl std::future::Future<Output = Msg> + Send + 'static) {
    tokio::spawn(async move {
        send(&tx, work.await);
    });
}

fn removed(kind: ConfirmKind, id: String, name: String) -> Msg {
    Msg::Removed { kind, id, name }
}

/// One marked token's part of a confirmation: the token as it is after, `None` if deleted.
async fn bulk_one(
    client: &Client,
    kind: ConfirmKind,
    id: &str,
) -> Result<Option<gatepass_protocol::Token>, String> {
    let patch = |disabled| PatchTokenRequest {
        disabled: Some(disabled),
        ..PatchTokenRequest::default()
    };
    let r = match kind {
        ConfirmKind::Revoke => client.revoke_token(id).await.map(Some),
        ConfirmKind::Delete => client.delete_token(id).await.map(|_| None),
        ConfirmKind::Disable => client.patch_token(id, &patch(true)).await.map(Some),
        ConfirmKind::Enable => client.patch_token(id, &patch(false)).await.map(Some),
        // Not offered on marked rows.
        ConfirmKind::RemoveHost | ConfirmKind::DeleteApiToken => return Err("not a token".into()),
    };
    r.map_err(|e| e.to_string())
}

/// Starts the work a command asks for; its answer comes back as a message.
fn run_cmd(
    cmd: Cmd,
    client: &Client,
    tx: &Tx,
    shown: &Following,
    clip: &Arc<SystemClipboard>,
    mode: ClipboardMode,
) {
    let client = client.clone();
    let tx = tx.clone();
    match cmd {
        Cmd::Quit | Cmd::ClearScreen => {}
        Cmd::Reload => {
            let shown = shown.clone();
            tokio::spawn(async move { load_all(&client, &tx, &shown).await });
        }
        Cmd::Create(req) => answer(tx, async move {
            match client.create_token(&req).await {
                Ok(r) => Msg::Created(Box::new(r)),
                Err(e) => Msg::CreateFailed(e.to_string()),
            }
        }),
        Cmd::SetDisabled { id, disabled } => answer(tx, async move {
            let patch = PatchTokenRequest {
                disabled: Some(disabled),
                ..PatchTokenRequest::default()
            };
            match client.patch_token(&id, &patch).await {
                Ok(token) => Msg::TokenChanged {
                    token: Box::new(token),
                    what: if disabled { "Disabled" } else { "Enabled" }.into(),
                },
                Err(e) => failed(if disabled { "Disabling" } else { "Enabling" }, e),
            }
        }),
        Cmd::Revoke { id } => answer(tx, async move {
            match client.revoke_token(&id).await {
                Ok(token) => Msg::TokenChanged {
                    token: Box::new(token),
                    what: "Revoked".into(),
                },
                Err(e) => failed("Revoking", e),
            }
        }),
        Cmd::Delete { id, name } => answer(tx, async move {
            match client.delete_token(&id).await {
                Ok(_) => removed(ConfirmKind::Delete, id, name),
                Err(e) => failed("Deleting", e),
            }
        }),
        Cmd::RemoveHost { id, name } => answer(tx, async move {
            match client.remove_host(&id).await {
                Ok(_) => removed(ConfirmKind::RemoveHost, id, name),
                Err(e) => failed("Removing the host", e),
            }
        }),
        Cmd::DeleteApiToken { id, name } => answer(tx, async move {
            match client.delete_api_token(&id).await {
                Ok(_) => removed(ConfirmKind::DeleteApiToken, id, name),
                Err(e) => failed("Deleting the API token", e),
            }
        }),
        Cmd::LoadDetail { id } => answer(tx, async move {
            let hosts = client.token_hosts(&id).await.map_err(|e| e.to_string());
            let q = AuditQuery {
                token: Some(id.clone()),
                ..AuditQuery::default()
            };
            let audit = client.audit(&q).await.map_err(|e| e.to_string());
            Msg::DetailLoaded { id, hosts, audit }
        }),
        Cmd::Copy { text: secret, what } => {
            let clip = Arc::clone(clip);
            tokio::task::spawn_blocking(move || {
                let env = ClipEnv::from_env();
                let mut osc = Zeroizing::new(Vec::new());
                let result = clipboard::copy(&secret, mode, env, clip.as_ref(), &mut *osc);
                drop(secret);
                if !osc.is_empty() {
                    let _ = tx.send(Inbox::Terminal(osc));
                }
                send(&tx, Msg::Copied(result.message(env.tmux, what)));
            });
        }
        Cmd::Extend { id, expires_at } => answer(tx, async move {
            let patch = PatchTokenRequest {
                expires_at: Some(expires_at),
                ..PatchTokenRequest::default()
            };
            match client.patch_token(&id, &patch).await {
                Ok(token) => Msg::TokenChanged {
                    token: Box::new(token),
                    what: "Extended".into(),
                },
                Err(e) => failed("Extending", e),
            }
        }),
        Cmd::Bulk { kind, targets } => answer(tx, async move {
            let mut results = Vec::with_capacity(targets.len());
            for t in targets {
                let r = bulk_one(&client, kind, &t.id).await;
                results.push((t, r));
            }
            Msg::BulkDone { kind, results }
        }),
        Cmd::Export { stem, rows, body } => {
            tokio::task::spawn_blocking(move || {
                let dir = files::private_folder();
                let r = files::write_new(&dir, &stem, "csv", body.as_bytes())
                    .map(|p| (rows, p))
                    .map_err(|e| e.to_string());
                send(&tx, Msg::Exported(r));
            });
        }
        Cmd::WriteSecret { name, secret } => {
            tokio::task::spawn_blocking(move || {
                let dir = files::private_folder();
                let r = files::write_secret(&dir, &name, &secret).map_err(|e| e.to_string());
                send(&tx, Msg::Wrote(r));
            });
        }
    }
}
