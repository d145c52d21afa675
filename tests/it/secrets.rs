//! No token secret in the data folder, the daemon's log or any error body, after a scenario
//! with successes, failures and a restart.

use crate::support::Daemon;

fn files_under(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[tokio::test]
async fn secrets_never_reach_disk_logs_or_error_bodies() {
    let mut d = Daemon::start();
    let mut secrets = Vec::new();
    let mut bodies = Vec::new();
    for i in 0..5 {
        let (s, _) = d.mint(&["--name", &format!("s{i}"), "--uses", "2"]);
        secrets.push(s);
    }
    for s in &secrets {
        for host in ["a", "b", "c"] {
            bodies.push(
                d.redeem(s, &format!(r#"{{"hostname":"{host}"}}"#))
                    .await
                    .text(),
            );
        }
        // A token pasted where it does not belong ends up quoted in serde's messages.
        bodies.push(
            d.redeem(s, &format!(r#"{{"hostname":"{s}"}}"#))
                .await
                .text(),
        );
        bodies.push(
            d.redeem(s, &format!(r#"{{"hostname":5,"x":"{s}"}}"#))
                .await
                .text(),
        );
        let mut truncated = s.clone();
        truncated.pop();
        bodies.push(d.redeem(&truncated, r#"{"hostname":"t"}"#).await.text());
        let r = d
            .client()
            .raw(
                "POST",
                "/v1/tokens",
                Some(format!(r#"{{"name":{s:?},"max_uses":"{s}"}}"#).into_bytes()),
            )
            .await
            .unwrap();
        bodies.push(r.text());
    }
    d.cli_ok(&["tokens", "revoke", "s0"]);
    bodies.push(d.redeem(&secrets[0], r#"{"hostname":"z"}"#).await.text());
    d.restart();
    bodies.push(
        d.redeem(&secrets[1], r#"{"hostname":"after"}"#)
            .await
            .text(),
    );
    d.kill();

    let mut files = Vec::new();
    files_under(&d.data_dir(), &mut files);
    files.push(d.log_path());
    assert!(files.len() >= 8, "{files:?}");
    let log = std::fs::read_to_string(d.log_path()).unwrap();
    assert!(
        log.contains("redeem"),
        "the log is not empty, so the check means something"
    );
    for s in &secrets {
        // The part after the public id is the secret; any 12 characters of it would be a leak.
        let secret_part = &s[16..38];
        for chunk in [&secret_part[..12], &secret_part[10..]] {
            for f in &files {
                let bytes = std::fs::read(f).unwrap();
                assert!(
                    !bytes.windows(chunk.len()).any(|w| w == chunk.as_bytes()),
                    "secret found in {}",
                    f.display()
                );
            }
            for b in &bodies {
                assert!(!b.contains(chunk), "secret found in an answer: {b}");
            }
        }
    }
}
