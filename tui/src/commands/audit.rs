//! `gatepass audit` and `gatepass audit verify`.

use std::process::ExitCode;

use gatepass_protocol::client::Client;
use gatepass_protocol::{AuditQuery, Timestamp};

use super::{print_json, tenants};
use crate::cli::{AuditArgs, AuditCommand, UsageError};
use crate::output;

/// `--since 24h` (a duration back from now) or `--since 2030-01-01T00:00:00Z`.
fn parse_since(s: &str, now: Timestamp) -> Result<Timestamp, UsageError> {
    if let Ok(t) = Timestamp::parse(s) {
        return Ok(t);
    }
    let secs = gatepass_protocol::duration::parse_duration(s).map_err(|_| {
        UsageError(format!(
            "--since {s:?}: expected a duration (24h, 7d) or an RFC 3339 time"
        ))
    })?;
    Ok(Timestamp(now.0.saturating_sub(secs as i64)))
}

pub async fn run(client: &Client, a: AuditArgs) -> crate::error::Result<ExitCode> {
    if let Some(AuditCommand::Verify { json }) = a.command {
        let check: serde_json::Value =
            // It walks the whole log: minutes for a large one (the daemon allows as long).
            gatepass_protocol::client::decode(
                client
                    .clone()
                    .with_timeout(std::time::Duration::from_secs(600))
                    .raw("GET", "/v1/audit/verify", None)
                    .await?,
            )?;
        let bad = check.get("first_bad").and_then(|v| v.as_u64());
        let events = check.get("events").and_then(|v| v.as_u64()).unwrap_or(0);
        let problem = check.get("problem").and_then(|v| v.as_str());
        let tables: Vec<&str> = check
            .get("tables")
            .and_then(|v| v.as_array())
            .map(|a| a.iter().filter_map(|p| p.as_str()).collect())
            .unwrap_or_default();
        let broken = bad.is_some() || problem.is_some() || !tables.is_empty();
        if json {
            print_json(&check)?;
        } else if let Some(seq) = bad {
            println!("audit log BROKEN at event {seq}: {}", problem.unwrap_or(""));
            print!("{}", break_lines(&check));
        } else if !tables.is_empty() {
            println!("audit log OK: {events} events, hash chain intact");
            println!("tables DISAGREE with the audit log:");
            for p in &tables {
                println!("  {p}");
            }
        } else if let Some(p) = problem {
            println!("audit log BROKEN: {p}");
            print!("{}", break_lines(&check));
        } else {
            println!("audit log OK: {events} events, hash chain intact, tables agree");
        }
        return Ok(if broken {
            ExitCode::from(crate::exit::FAILURE)
        } else {
            ExitCode::SUCCESS
        });
    }
    let now = Timestamp::now();
    let since = a
        .since
        .as_deref()
        .map(|s| parse_since(s, now))
        .transpose()?;
    let q = AuditQuery {
        since,
        token: a.token,
        actor: a.actor,
        after: None,
        before: a.before,
        limit: a.limit,
        tenant: a.tenant,
    };
    let column = tenants::column(client, q.tenant.as_deref()).await;
    let events = client.audit(&q).await?;
    if a.json {
        print_json(&events)?;
    } else if events.is_empty() {
        eprintln!("No audit events match.");
    } else {
        let rows: Vec<_> = events.iter().map(output::audit_row).collect();
        let (header, rows) = tenants::with_column(
            column,
            &output::AUDIT_HEADER,
            rows,
            events.iter().map(|e| e.tenant.clone()),
        );
        print!("{}", output::table(&header, &rows));
    }
    Ok(ExitCode::SUCCESS)
}

/// The events where the chain breaks (`at_break` of the verify answer), one line each: by
/// position and hash, and what happened where the reader sees the event's tenant; another
/// tenant's as `#123 <hash> (another tenant)`.
fn break_lines(check: &serde_json::Value) -> String {
    let mut out = String::new();
    for link in check
        .get("at_break")
        .and_then(|v| v.as_array())
        .into_iter()
        .flatten()
    {
        let seq = link.get("seq").and_then(|v| v.as_u64()).unwrap_or(0);
        let hash = link.get("hash").and_then(|v| v.as_str()).unwrap_or("?");
        let other = link.get("other_tenant").and_then(|v| v.as_bool()) == Some(true);
        let event = link
            .get("event")
            .and_then(|e| serde_json::from_value::<gatepass_protocol::AuditEvent>(e.clone()).ok());
        let what = match (other, event) {
            (true, _) => "(another tenant)".to_owned(),
            (false, Some(e)) => {
                let row = output::audit_row(&e);
                let said = row.get(1..5).map(|r| r.join(" ")).unwrap_or_default();
                format!("{said} (tenant {})", e.tenant)
            }
            (false, None) => "(cannot be read)".to_owned(),
        };
        out.push_str(&format!("  #{seq} {hash} {what}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_tenants_event_at_a_break_is_printed_by_its_hash() {
        let h = "ab".repeat(32);
        let check = serde_json::json!({
            "events": 6, "first_bad": 7, "problem": "event 7 does not follow",
            "at_break": [
                {"seq": 6, "hash": h, "event": {
                    "seq": 6, "at": "2030-01-01T00:00:00Z", "actor": "gus", "action": "created",
                    "target": "AbCdEfGh1234", "target_name": "db", "details": {},
                    "prev_hash": "00", "tenant": "globex"}},
                {"seq": 7, "hash": h, "other_tenant": true},
            ]
        });
        let text = break_lines(&check);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[1], format!("  #7 {h} (another tenant)"));
        assert!(lines[0].starts_with(&format!("  #6 {h} ")), "{text}");
        assert!(
            lines[0].contains("gus") && lines[0].ends_with("(tenant globex)"),
            "{text}"
        );
    }

    #[test]
    fn since_takes_durations_and_dates() {
        let now = Timestamp(100_000);
        assert_eq!(parse_since("1h", now).ok(), Some(Timestamp(96_400)));
        assert_eq!(
            parse_since("1970-01-01T00:00:10Z", now).ok(),
            Some(Timestamp(10))
        );
        assert!(parse_since("yesterday", now).is_err());
    }
}
