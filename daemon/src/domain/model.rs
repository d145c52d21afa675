//! The rules, free of I/O: whether a token may be redeemed right now (`check_redeem`, run
//! inside the write transaction), a retry's grace window; and, from `gatepass_protocol::rules`
//! (re-exported here, one home for the daemon, the CLI and the console), what a valid name,
//! label or hostname is and how a token's lifetime is worked out.

use std::net::IpAddr;

pub use gatepass_protocol::rules::*;
use gatepass_protocol::{MaxUses, Timestamp, TokenStatus};
use ipnet::IpNet;

use super::{Denial, TokenRecord};
use crate::secrets::hash_eq;

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Whether `rec` may be redeemed now by `presented_hash` from `source`.
pub fn check_redeem(
    rec: &TokenRecord,
    presented_hash: &[u8; 32],
    source: IpAddr,
    now: Timestamp,
) -> Result<(), Denial> {
    if !hash_eq(hex(presented_hash).as_bytes(), rec.secret_hash.as_bytes()) {
        return Err(Denial::Unauthorized {
            reason: "wrong_secret",
        });
    }
    match rec.status(now) {
        TokenStatus::Revoked => return Err(Denial::Revoked),
        TokenStatus::Exhausted => return Err(Denial::Exhausted),
        TokenStatus::Expired => return Err(Denial::Expired),
        TokenStatus::Disabled => return Err(Denial::Disabled),
        TokenStatus::Active => {}
    }
    if rec.not_before.is_some_and(|nb| now < nb) {
        return Err(Denial::NotYetValid);
    }
    if !rec.allowed_cidrs.is_empty() && !source_allowed(&rec.allowed_cidrs, source) {
        return Err(Denial::SourceDenied);
    }
    Ok(())
}

fn source_allowed(cidrs: &[String], source: IpAddr) -> bool {
    // An IPv4 client seen through an IPv6 socket arrives as ::ffff:a.b.c.d.
    let source = match source {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    };
    cidrs
        .iter()
        .filter_map(|c| c.parse::<IpNet>().ok())
        .any(|n| n.contains(&source))
}

/// A retry within the grace window is allowed unless the token was revoked or disabled since.
pub fn replay_allowed(
    rec: &TokenRecord,
    enrolled_at: Timestamp,
    grace: u64,
    now: Timestamp,
) -> bool {
    let within = enrolled_at.checked_add(grace).is_some_and(|end| now <= end);
    within && rec.revoked_at.is_none() && !rec.disabled
}

/// Keeps `max_uses` sane for storage.
pub fn default_max_uses(m: Option<MaxUses>) -> MaxUses {
    m.unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn record(hash: &[u8; 32]) -> TokenRecord {
        TokenRecord {
            id: "AAAAAAAAAAAA".into(),
            name: "n".into(),
            description: String::new(),
            group: None,
            labels: BTreeMap::new(),
            owner: "o".into(),
            max_uses: MaxUses::Limited(1),
            uses: 0,
            last_used_at: None,
            last_used_by: None,
            expires_at: Some(Timestamp(2_000)),
            created_at: Timestamp(0),
            created_by: "o".into(),
            disabled: false,
            revoked_at: None,
            allowed_cidrs: vec![],
            not_before: None,
            hosts: 0,
            secret_hash: hex(hash),
            tenant: gatepass_protocol::default_tenant(),
        }
    }

    #[test]
    fn hex_is_lowercase_two_digits_per_byte() {
        let all: Vec<u8> = (0..=255).collect();
        let expected: String = all.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex(&all), expected);
        assert_eq!(hex(&[]), "");
    }

    #[test]
    fn redeem_checks_secret_status_window_and_source() {
        let h = [7u8; 32];
        let local: IpAddr = "127.0.0.1".parse().unwrap();
        let mut r = record(&h);
        assert_eq!(check_redeem(&r, &h, local, Timestamp(1_999)), Ok(()));
        assert_eq!(
            check_redeem(&r, &[8u8; 32], local, Timestamp(1)),
            Err(Denial::Unauthorized {
                reason: "wrong_secret"
            })
        );
        assert_eq!(
            check_redeem(&r, &h, local, Timestamp(2_000)),
            Err(Denial::Expired)
        );
        r.not_before = Some(Timestamp(500));
        assert_eq!(
            check_redeem(&r, &h, local, Timestamp(499)),
            Err(Denial::NotYetValid)
        );
        r.allowed_cidrs = normalise_cidrs(&["10.0.0.0/8".into(), "192.168.1.7".into()]).unwrap();
        assert_eq!(r.allowed_cidrs, vec!["10.0.0.0/8", "192.168.1.7/32"]);
        assert_eq!(
            check_redeem(&r, &h, local, Timestamp(600)),
            Err(Denial::SourceDenied)
        );
        let mapped: IpAddr = "::ffff:10.1.2.3".parse().unwrap();
        assert_eq!(check_redeem(&r, &h, mapped, Timestamp(600)), Ok(()));
        r.uses = 1;
        assert_eq!(
            check_redeem(&r, &h, mapped, Timestamp(600)),
            Err(Denial::Exhausted)
        );
        r.revoked_at = Some(Timestamp(1));
        assert_eq!(
            check_redeem(&r, &h, mapped, Timestamp(600)),
            Err(Denial::Revoked)
        );
    }
}
