//! Refused redemptions in the audit log: repeated identical refusals become one event.
//!
//! A refusal (`redeem_failed`) is identical to another when it refuses the same token, for
//! the same reason, to the same source address. The first of a kind is written at once; the
//! ones that follow within `window` seconds of it are counted in memory and written, when the
//! window ends, as one event whose details add `count` (how many refusals it stands for),
//! `first_at` and `last_at`. Each written event joins the hash chain like any other, so the
//! chain covers every refusal — and the log grows with distinct facts, not with a client's
//! request rate. The count still open when the daemon stops is written at shutdown; a crash
//! may lose at most one window of repeats of each kind (never a change: a refusal changes
//! nothing). Memory is bounded: past `capacity` kinds open, every open count is written out.

use std::collections::HashMap;
use std::sync::Mutex;

use gatepass_protocol::Timestamp;

use super::AuditDraft;

/// How long repeats of one refusal are gathered into one event.
pub const WINDOW: i64 = 60;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Kind {
    target: String,
    reason: String,
    source: String,
}

#[derive(Debug)]
struct Open {
    /// The first refusal of the window (written at once): the repeats' event copies it.
    first: AuditDraft,
    repeats: u64,
    first_repeat: Timestamp,
    last_repeat: Timestamp,
}

#[derive(Debug)]
pub struct RefusalLog {
    window: i64,
    capacity: usize,
    open: Mutex<HashMap<Kind, Open>>,
}

impl Open {
    /// The event standing for the repeats, or nothing when there were none.
    fn summary(self) -> Option<AuditDraft> {
        if self.repeats == 0 {
            return None;
        }
        let mut ev = self.first;
        ev.at = self.last_repeat;
        ev.details
            .insert("count".to_string(), self.repeats.to_string());
        ev.details
            .insert("first_at".to_string(), self.first_repeat.to_rfc3339());
        ev.details
            .insert("last_at".to_string(), self.last_repeat.to_rfc3339());
        Some(ev)
    }
}

impl RefusalLog {
    pub fn new(window: i64, capacity: usize) -> RefusalLog {
        RefusalLog {
            window: window.max(1),
            capacity: capacity.max(1),
            open: Mutex::default(),
        }
    }

    /// Takes one refusal's event; returns the events to write now (none while it repeats an
    /// open kind).
    pub fn note(&self, draft: AuditDraft) -> Vec<AuditDraft> {
        let detail = |k: &str| draft.details.get(k).cloned().unwrap_or_default();
        let kind = Kind {
            target: draft.target.clone(),
            reason: detail("reason"),
            source: detail("source"),
        };
        let Ok(mut open) = self.open.lock() else {
            return vec![draft];
        };
        let mut out = Vec::new();
        if let Some(o) = open.get_mut(&kind) {
            if draft.at.0 < o.first.at.0 + self.window {
                if o.repeats == 0 {
                    o.first_repeat = draft.at;
                }
                o.repeats += 1;
                o.last_repeat = draft.at;
                return out;
            }
            out.extend(open.remove(&kind).and_then(Open::summary));
        }
        if open.len() >= self.capacity {
            out.extend(open.drain().filter_map(|(_, o)| o.summary()));
        }
        open.insert(
            kind,
            Open {
                first: draft.clone(),
                repeats: 0,
                first_repeat: draft.at,
                last_repeat: draft.at,
            },
        );
        out.push(draft);
        out
    }

    /// The events of windows that ended by `now`.
    pub fn due(&self, now: Timestamp) -> Vec<AuditDraft> {
        let Ok(mut open) = self.open.lock() else {
            return Vec::new();
        };
        let ended: Vec<Kind> = open
            .iter()
            .filter(|(_, o)| now.0 >= o.first.at.0 + self.window)
            .map(|(k, _)| k.clone())
            .collect();
        ended
            .into_iter()
            .filter_map(|k| open.remove(&k).and_then(Open::summary))
            .collect()
    }

    /// Every open count, as events (at shutdown).
    pub fn drain(&self) -> Vec<AuditDraft> {
        match self.open.lock() {
            Ok(mut open) => open.drain().filter_map(|(_, o)| o.summary()).collect(),
            Err(_) => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatepass_protocol::AuditAction;
    use std::collections::BTreeMap;

    fn refusal(at: i64, source: &str) -> AuditDraft {
        let mut details = BTreeMap::new();
        details.insert("reason".to_string(), "token_exhausted".to_string());
        details.insert("source".to_string(), source.to_string());
        AuditDraft {
            at: Timestamp(at),
            actor: format!("host:h@{source}"),
            action: AuditAction::RedeemFailed,
            target: "tok".into(),
            target_name: Some("name".into()),
            details,
            tenant: gatepass_protocol::default_tenant(),
        }
    }

    #[test]
    fn repeats_become_one_event_with_a_count_and_a_span() {
        let log = RefusalLog::new(60, 100);
        assert_eq!(
            log.note(refusal(100, "10.0.0.1")).len(),
            1,
            "the first at once"
        );
        for t in 101..=150 {
            assert!(log.note(refusal(t, "10.0.0.1")).is_empty());
        }
        // Another source is another kind.
        assert_eq!(log.note(refusal(120, "10.0.0.2")).len(), 1);
        assert!(log.due(Timestamp(159)).is_empty());
        let due = log.due(Timestamp(160));
        assert_eq!(due.len(), 1);
        let d = &due[0].details;
        assert_eq!(d["count"], "50");
        assert_eq!(d["first_at"], Timestamp(101).to_rfc3339());
        assert_eq!(d["last_at"], Timestamp(150).to_rfc3339());
        // A refusal after the window opens a new one; the other source had no repeats.
        assert_eq!(log.note(refusal(161, "10.0.0.1")).len(), 1);
        assert!(log.drain().is_empty());
    }

    #[test]
    fn a_full_log_writes_its_counts_out() {
        let log = RefusalLog::new(60, 2);
        log.note(refusal(1, "a"));
        log.note(refusal(2, "a"));
        log.note(refusal(1, "b"));
        let out = log.note(refusal(3, "c"));
        assert_eq!(out.len(), 2, "a's repeat and c: {out:#?}");
        assert!(log.drain().is_empty());
    }
}
