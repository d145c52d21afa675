//! `gatepass-console-bench`: how the console holds up at scale. Starts a real release daemon,
//! mints `--tokens` tokens (100,000 by default) over its socket, times listing them all over
//! the socket, notes the daemon's idle memory, then loads them into the console's real state
//! and times key press → frame (update, re-sort/re-filter, draw) for scrolling, sorting,
//! filtering and a live change, on ratatui's TestBackend at 120×40.
//!
//! `cargo run --release -p gatepass-bench --bin gatepass-console-bench -- --tokens 100000`

use std::time::{Duration, Instant};

use clap::Parser;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use gatepass::console::app::{App, Msg, update};
use gatepass::console::draw::draw;
use gatepass::console::theme::Theme;
use gatepass_bench::{BenchDaemon, mint, ms, pct, status_kib};
use gatepass_protocol::binary;
use gatepass_protocol::{ChangeEvent, MaxUses, Timestamp, TokenQuery};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

#[derive(Debug, Parser)]
struct Args {
    #[arg(long, default_value_t = 100_000)]
    tokens: usize,
    /// Times each operation is repeated.
    #[arg(long, default_value_t = 40)]
    rounds: usize,
    /// Times the whole list is fetched over the socket.
    #[arg(long, default_value_t = 5)]
    lists: usize,
}

struct Bench {
    app: App,
    term: Terminal<TestBackend>,
    rows: Vec<(String, Vec<Duration>)>,
}

impl Bench {
    /// Applies the messages, then rebuilds what changed and draws: one key → one frame.
    fn frame(&mut self, msgs: Vec<Msg>) -> anyhow::Result<Duration> {
        let t = Instant::now();
        for m in msgs {
            update(&mut self.app, m);
        }
        self.app.refresh();
        let app = &self.app;
        self.term.draw(|f| draw(f, app))?;
        Ok(t.elapsed())
    }

    fn record(&mut self, name: &str, mut v: Vec<Duration>) {
        v.sort();
        self.rows.push((name.to_owned(), v));
    }
}

fn key(c: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(c, KeyModifiers::NONE))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let daemon = BenchDaemon::start()?;
    let client = daemon.client();
    let t = Instant::now();
    mint(&client, "bench", args.tokens, MaxUses::Limited(5), 64).await?;
    let minted = t.elapsed();
    // Idle: nothing in flight for two seconds (the store checkpoints after one).
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_minted = daemon.rss_kib();

    // Listing every token over the socket, as the console does on connect.
    eprintln!("listing (daemon pid {})", daemon.child.id());
    let mut lists = Vec::new();
    let mut tokens = Vec::new();
    for _ in 0..args.lists {
        let t = Instant::now();
        let list = client.list_tokens(&TokenQuery::default()).await?;
        lists.push(t.elapsed());
        // Freeing the previous list (700,000 strings) is not part of listing: outside the time.
        tokens = list;
    }
    lists.sort();
    // The same list split in two: the daemon's answer arriving, then the client decoding it.
    let t = Instant::now();
    let raw = client
        .raw_accepting("GET", "/v1/tokens", None, Some(binary::TOKEN_LIST))
        .await?;
    let fetched = t.elapsed();
    let t = Instant::now();
    let decoded = binary::decode_tokens(&raw.body)?;
    let decode = t.elapsed();
    anyhow::ensure!(decoded == tokens, "the two lists differ");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss = daemon.rss_kib();
    let pid = daemon.child.id();
    let rss_parts = [status_kib(pid, "RssAnon"), status_kib(pid, "RssFile")];
    // What a script's JSON list (a `Token` built for every record) leaves behind.
    let json = client.raw("GET", "/v1/tokens", None).await?;
    let json_mib = json.body.len() as f64 / 1048576.0;
    drop(json);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_json = daemon.rss_kib();
    if std::env::var_os("GATEPASS_BENCH_RSS_TRACE").is_some() {
        for s in 0..8 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            eprintln!("rss after {} s: {:?} KiB", s + 3, daemon.rss_kib());
        }
    }

    let (w, h) = (120, 40);
    let mut app = App::new(
        "bench".into(),
        false,
        Theme { color: true },
        Timestamp::now(),
    );
    update(&mut app, Msg::Resize(w, h));
    let mut b = Bench {
        app,
        term: Terminal::new(TestBackend::new(w, h))?,
        rows: Vec::new(),
    };
    let t = Instant::now();
    b.frame(vec![Msg::Tokens(tokens.clone())])?;
    let first = t.elapsed();

    let n = args.rounds;
    let mut v = Vec::new();
    for _ in 0..n {
        v.push(b.frame(vec![key(KeyCode::Down)])?);
    }
    b.record("scroll ↓ (one row)", v);
    let mut v = Vec::new();
    for _ in 0..n {
        v.push(b.frame(vec![key(KeyCode::PageDown)])?);
    }
    b.record("scroll PgDn", v);
    // Sort: s opens the chooser (one frame), then ↓ and Enter pick the next column (timed).
    let mut v = Vec::new();
    for i in 0..n {
        b.frame(vec![key(KeyCode::Char('s'))])?;
        let mut keys = vec![key(KeyCode::Home)];
        keys.clear();
        if i % 2 == 0 {
            keys.push(key(KeyCode::Down));
        } else {
            keys.push(key(KeyCode::Up));
        }
        b.frame(keys)?;
        v.push(b.frame(vec![key(KeyCode::Enter)])?);
    }
    b.record("sort (choose a column)", v);
    let mut v = Vec::new();
    for _ in 0..n {
        b.frame(vec![key(KeyCode::Char('s'))])?;
        v.push(b.frame(vec![key(KeyCode::Enter)])?);
    }
    b.record("sort (flip direction)", v);
    // Filter: each typed character re-filters and re-sorts all tokens.
    let mut v = Vec::new();
    for _ in 0..(n / 8).max(1) {
        b.frame(vec![key(KeyCode::Char('/'))])?;
        for c in "bench-12".chars() {
            v.push(b.frame(vec![key(KeyCode::Char(c))])?);
        }
        v.push(b.frame(vec![key(KeyCode::Esc)])?);
    }
    b.record("filter (type a character)", v);
    // A host redeems: one token changes, live.
    let mut v = Vec::new();
    for i in 0..n {
        let mut t = tokens[(i * 7919) % tokens.len()].clone();
        t.uses += 1;
        let ev = ChangeEvent {
            kind: gatepass_protocol::ChangeKind::Token,
            token: Some(t),
            token_id: None,
            host: None,
            audit: None,
        };
        v.push(b.frame(vec![Msg::Change(Box::new(ev))])?);
    }
    b.record("live change (one token)", v);

    println!("console at scale: {} tokens, frame {w}×{h}", tokens.len());
    println!(
        "  minted over the socket in {:.1} s; list all over the socket: min {:.0} ms, median {:.0} ms; \
         daemon RSS idle: {}",
        minted.as_secs_f64(),
        ms(lists[0]),
        ms(pct(&lists, 0.5)),
        rss.map(|k| format!("{:.1} MiB", k as f64 / 1024.0))
            .unwrap_or_else(|| "n/a".into())
    );
    if let [Some(anon), Some(file)] = rss_parts {
        println!(
            "  of which: {:.1} MiB anonymous (heap, page cache), {:.1} MiB mapped files (the binary)",
            anon as f64 / 1024.0,
            file as f64 / 1024.0
        );
    }
    println!(
        "  daemon RSS idle after minting, before any list: {}",
        rss_minted
            .map(|k| format!("{:.1} MiB", k as f64 / 1024.0))
            .unwrap_or_else(|| "n/a".into())
    );
    println!(
        "  of which: answer received {:.0} ms ({:.1} MiB binary), decoded by the client {:.0} ms",
        ms(fetched),
        raw.body.len() as f64 / 1048576.0,
        ms(decode)
    );
    println!(
        "  daemon RSS idle after one JSON list too ({json_mib:.1} MiB of JSON): {}",
        rss_json
            .map(|k| format!("{:.1} MiB", k as f64 / 1024.0))
            .unwrap_or_else(|| "n/a".into())
    );
    println!(
        "  first load into the console (sort + draw): {:.1} ms",
        ms(first)
    );
    println!(
        "  {:<28} {:>6} {:>8} {:>8} {:>8}",
        "key → frame", "n", "p50 ms", "p99 ms", "max ms"
    );
    for (name, v) in &b.rows {
        println!(
            "  {:<28} {:>6} {:>8.2} {:>8.2} {:>8.2}",
            name,
            v.len(),
            ms(pct(v, 0.5)),
            ms(pct(v, 0.99)),
            ms(v.last().copied().unwrap_or_default())
        );
    }
    Ok(())
}
