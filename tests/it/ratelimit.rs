//! Failed redemptions from one address are limited (429 with Retry-After), while a valid
//! redemption from another address goes through at once; the limit is audited.

use gatepass_protocol::client::{HttpsTarget, TrustMode};

use crate::support::{Daemon, assert_error};

#[tokio::test]
async fn a_flood_of_bad_tokens_gets_429_while_other_addresses_are_not_slowed() {
    let d = Daemon::start_with_config("[limits]\nredeem_failures_per_minute = 10\n");
    let (good, _) = d.mint(&["--name", "good", "--uses", "unlimited"]);
    let json = [("content-type", "application/json")];
    let mut statuses = Vec::new();
    for i in 0..15 {
        let bad = format!("Bearer gpt_flood{i}");
        let headers = [json[0], ("authorization", bad.as_str())];
        let r = d
            .target()
            .request(
                "POST",
                "/v1/redeem",
                &headers,
                br#"{"hostname":"x"}"#.to_vec(),
            )
            .await
            .unwrap();
        statuses.push(r.status);
        if r.status == 429 {
            assert_error(&r, 429, "too_many_requests");
            let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
            assert!((1..=60).contains(&retry), "Retry-After {retry}");
        }
    }
    assert_eq!(&statuses[..10], &[401; 10]);
    assert_eq!(&statuses[10..], &[429; 5]);
    // From 127.0.0.1 even the valid token waits now...
    assert_error(
        &d.redeem(&good, r#"{"hostname":"a"}"#).await,
        429,
        "too_many_requests",
    );
    // ...but another address is not slowed at all.
    let mut other = HttpsTarget::parse(&d.redeem_url, TrustMode::Pin(d.pin.clone())).unwrap();
    other.local_addr = Some("127.0.0.2".parse().unwrap());
    let auth = format!("Bearer {good}");
    let r = other
        .request(
            "POST",
            "/v1/redeem",
            &[json[0], ("authorization", &auth)],
            br#"{"hostname":"b"}"#.to_vec(),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    // Used-up or expired tokens are not attacks: they never count toward the limit.
    let (once, _) = d.mint(&["--name", "once"]);
    let r = other
        .request(
            "POST",
            "/v1/redeem",
            &[json[0], ("authorization", &format!("Bearer {once}"))],
            br#"{"hostname":"c"}"#.to_vec(),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201);
    for _ in 0..12 {
        let r = other
            .request(
                "POST",
                "/v1/redeem",
                &[json[0], ("authorization", &format!("Bearer {once}"))],
                br#"{"hostname":"c"}"#.to_vec(),
            )
            .await
            .unwrap();
        assert_error(&r, 410, "token_exhausted");
    }
    // After the window, 127.0.0.1 may try again.
    d.set_clock_offset(61);
    assert_eq!(d.redeem(&good, r#"{"hostname":"a"}"#).await.status, 201);
    // The limit was audited once, with the address.
    let audit: serde_json::Value = serde_json::from_str(&d.cli_ok(&["audit", "--json"])).unwrap();
    let limited: Vec<_> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "redeem_rate_limited")
        .collect();
    assert_eq!(limited.len(), 1);
    assert_eq!(limited[0]["details"]["source"], "127.0.0.1");
}
