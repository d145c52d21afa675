//! The JSON bodies of the admin and redeem APIs. Requests refuse unknown fields, so a typo in a
//! script is an error instead of a silently ignored setting.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::Error;

/// A point in time, in whole seconds since the Unix epoch (64-bit: years up to 9999 work).
/// On the wire it is an RFC 3339 string in UTC, e.g. `2030-01-31T18:00:00Z`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z: the range RFC 3339 can write.
    pub const MIN: Timestamp = Timestamp(-62_135_596_800);
    pub const MAX: Timestamp = Timestamp(253_402_300_799);

    pub fn now() -> Timestamp {
        Timestamp(OffsetDateTime::now_utc().unix_timestamp())
    }

    pub fn seconds(self) -> i64 {
        self.0
    }

    /// Adds seconds, or `None` past year 9999.
    pub fn checked_add(self, secs: u64) -> Option<Timestamp> {
        let secs = i64::try_from(secs).ok()?;
        let t = self.0.checked_add(secs)?;
        (t <= Self::MAX.0).then_some(Timestamp(t))
    }

    pub fn parse(input: &str) -> Result<Timestamp, Error> {
        let input = input.trim();
        // The form this crate writes (UTC, whole seconds) is read directly; anything else
        // (offsets, fractions) goes through the full RFC 3339 parser.
        if let Some(t) = parse_utc_seconds(input.as_bytes()) {
            return Ok(t);
        }
        let t = OffsetDateTime::parse(input, &Rfc3339).map_err(|_| Error::Time {
            input: input.to_owned(),
        })?;
        Ok(Timestamp(t.unix_timestamp()))
    }

    /// `YYYY-MM-DDTHH:MM:SSZ` (what the wire and the store carry; lists hold many of them, so
    /// this is written directly rather than through a general formatter).
    pub fn to_rfc3339(self) -> String {
        if !(Self::MIN.0..=Self::MAX.0).contains(&self.0) {
            return self.0.to_string();
        }
        let days = self.0.div_euclid(86_400);
        let sod = self.0.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        let mut b = *b"0000-00-00T00:00:00Z";
        let put = |b: &mut [u8; 20], at: usize, v: i64, width: usize| {
            let mut v = v;
            for i in (0..width).rev() {
                b[at + i] = b'0' + (v % 10) as u8;
                v /= 10;
            }
        };
        put(&mut b, 0, y, 4);
        put(&mut b, 5, m, 2);
        put(&mut b, 8, d, 2);
        put(&mut b, 11, sod / 3600, 2);
        put(&mut b, 14, sod / 60 % 60, 2);
        put(&mut b, 17, sod % 60, 2);
        String::from_utf8_lossy(&b).into_owned()
    }
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (H. Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// (year, month, day) to days since 1970-01-01 (H. Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Exactly `YYYY-MM-DDTHH:MM:SSZ` with valid fields, or `None` (the caller falls back to the
/// full parser, which also gives the error message).
fn parse_utc_seconds(b: &[u8]) -> Option<Timestamp> {
    if b.len() != 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[19] != b'Z' {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<i64> {
        b[from..to].iter().try_fold(0i64, |acc, c| {
            c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
        })
    };
    let (y, mo, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (h, mi, sec) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = match mo {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if y < 1 || d < 1 || d > month_days || h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    Some(Timestamp(
        days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec,
    ))
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Timestamp::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// How many times a token may be redeemed: a number ≥ 1 or `"unlimited"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MaxUses {
    Limited(u64),
    Unlimited,
}

impl Default for MaxUses {
    fn default() -> Self {
        MaxUses::Limited(1)
    }
}

impl MaxUses {
    /// Largest finite limit: beyond it, say "unlimited".
    pub const MAX_LIMIT: u64 = 1_000_000_000;

    pub fn parse(input: &str) -> Result<MaxUses, String> {
        let s = input.trim();
        if s.eq_ignore_ascii_case("unlimited") || s == "∞" {
            return Ok(MaxUses::Unlimited);
        }
        match s.parse::<u64>() {
            Ok(0) => Err("uses must be at least 1 (or unlimited)".into()),
            Ok(n) if n > Self::MAX_LIMIT => Err(format!(
                "uses must be at most {} (or unlimited)",
                Self::MAX_LIMIT
            )),
            Ok(n) => Ok(MaxUses::Limited(n)),
            // Digits too many for any number: too large, not "not a number".
            Err(_) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => Err(format!(
                "uses must be at most {} (or unlimited)",
                Self::MAX_LIMIT
            )),
            Err(_) => Err(format!("uses must be a number or \"unlimited\", not {s:?}")),
        }
    }

    pub fn allows(self, uses: u64) -> bool {
        match self {
            MaxUses::Limited(n) => uses < n,
            MaxUses::Unlimited => true,
        }
    }
}

impl fmt::Display for MaxUses {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MaxUses::Limited(n) => write!(f, "{n}"),
            MaxUses::Unlimited => f.write_str("∞"),
        }
    }
}

impl Serialize for MaxUses {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            MaxUses::Limited(n) => s.serialize_u64(*n),
            MaxUses::Unlimited => s.serialize_str("unlimited"),
        }
    }
}

impl<'de> Deserialize<'de> for MaxUses {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // A visitor, not a detour through `serde_json::Value`: lists decode one per token.
        struct V;
        const MSG: &str = "max_uses must be a positive integer or \"unlimited\"";
        fn wrong<E: serde::de::Error>() -> Result<MaxUses, E> {
            Err(E::custom(MSG))
        }
        impl<'v> serde::de::Visitor<'v> for V {
            type Value = MaxUses;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(MSG)
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<MaxUses, E> {
                MaxUses::parse(&n.to_string()).map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<MaxUses, E> {
                MaxUses::parse(&n.to_string()).map_err(E::custom)
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<MaxUses, E> {
                if s == "unlimited" {
                    Ok(MaxUses::Unlimited)
                } else {
                    wrong()
                }
            }
            fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<MaxUses, E> {
                wrong()
            }
            fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<MaxUses, E> {
                wrong()
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<MaxUses, E> {
                wrong()
            }
            fn visit_seq<A: serde::de::SeqAccess<'v>>(self, _: A) -> Result<MaxUses, A::Error> {
                wrong()
            }
            fn visit_map<A: serde::de::MapAccess<'v>>(self, _: A) -> Result<MaxUses, A::Error> {
                wrong()
            }
        }
        d.deserialize_any(V)
    }
}

/// A token's status, derived from its fields; first match wins in the order listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenStatus {
    Revoked,
    Exhausted,
    Expired,
    Disabled,
    Active,
}

impl TokenStatus {
    pub const ALL: [TokenStatus; 5] = [
        TokenStatus::Active,
        TokenStatus::Disabled,
        TokenStatus::Expired,
        TokenStatus::Exhausted,
        TokenStatus::Revoked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TokenStatus::Revoked => "revoked",
            TokenStatus::Exhausted => "exhausted",
            TokenStatus::Expired => "expired",
            TokenStatus::Disabled => "disabled",
            TokenStatus::Active => "active",
        }
    }

    pub fn parse(s: &str) -> Option<TokenStatus> {
        Self::ALL.into_iter().find(|st| st.as_str() == s.trim())
    }

    /// The rule of PRODUCT.md: revoked → exhausted → expired → disabled → active.
    pub fn derive(
        revoked: bool,
        uses: u64,
        max_uses: MaxUses,
        expires_at: Option<Timestamp>,
        disabled: bool,
        now: Timestamp,
    ) -> TokenStatus {
        if revoked {
            TokenStatus::Revoked
        } else if !max_uses.allows(uses) {
            TokenStatus::Exhausted
        } else if expires_at.is_some_and(|e| now >= e) {
            TokenStatus::Expired
        } else if disabled {
            TokenStatus::Disabled
        } else {
            TokenStatus::Active
        }
    }
}

impl fmt::Display for TokenStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An enrollment token as the admin API shows it: never its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    pub id: String,
    /// `gpt_<id>…`: what lists show in place of the token.
    pub prefix: String,
    pub name: String,
    pub description: String,
    pub group: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub owner: String,
    pub max_uses: MaxUses,
    pub uses: u64,
    pub last_used_at: Option<Timestamp>,
    pub last_used_by: Option<String>,
    pub expires_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub created_by: String,
    pub disabled: bool,
    pub revoked_at: Option<Timestamp>,
    pub allowed_cidrs: Vec<String>,
    pub not_before: Option<Timestamp>,
    /// Hosts enrolled with this token and still on record.
    pub hosts: u64,
    /// The tenant the token was minted in (`default` for tokens made before tenants).
    #[serde(default = "default_tenant")]
    pub tenant: String,
    pub status: TokenStatus,
}

/// The fields of a token that lists sort and filter by, borrowed: from a [`Token`], or straight
/// from a token's binary form (`binary::skim_token_fields`), so a large list can be filtered and
/// sorted without building a `Token` for each entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenKeys<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub description: &'a str,
    pub group: Option<&'a str>,
    pub owner: &'a str,
    pub max_uses: MaxUses,
    pub uses: u64,
    pub last_used_at: Option<Timestamp>,
    pub expires_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub tenant: &'a str,
    pub status: TokenStatus,
}

impl Token {
    pub fn keys(&self) -> TokenKeys<'_> {
        TokenKeys {
            id: &self.id,
            name: &self.name,
            description: &self.description,
            group: self.group.as_deref(),
            owner: &self.owner,
            max_uses: self.max_uses,
            uses: self.uses,
            last_used_at: self.last_used_at,
            expires_at: self.expires_at,
            created_at: self.created_at,
            tenant: &self.tenant,
            status: self.status,
        }
    }

    /// Recomputes `status` for the given time.
    pub fn status_at(&self, now: Timestamp) -> TokenStatus {
        TokenStatus::derive(
            self.revoked_at.is_some(),
            self.uses,
            self.max_uses,
            self.expires_at,
            self.disabled,
            now,
        )
    }
}

/// `POST /v1/tokens`. At most one of `ttl`, `expires_at` and `no_expiry`; none means the
/// daemon's default lifetime.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTokenRequest {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_uses: Option<MaxUses>,
    /// Lifetime as a duration string (`15m`, `3d`) or a number of seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<DurationValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_expiry: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_cidrs: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<Timestamp>,
    /// The tenant to mint in; needed when more than one is open to the caller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
}

/// A duration given either as seconds (a JSON number) or as text (`"3d"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DurationValue(pub u64);

impl Serialize for DurationValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::duration::format_duration(self.0))
    }
}

impl<'de> Deserialize<'de> for DurationValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let msg = "ttl must be a duration such as \"15m\" or \"3d\", or a number of seconds";
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::Number(n) => match n.as_u64() {
                Some(v) if v <= crate::duration::MAX_SECONDS => Ok(DurationValue(v)),
                _ => Err(serde::de::Error::custom(msg)),
            },
            serde_json::Value::String(s) => crate::duration::parse_duration(&s)
                .map(DurationValue)
                .map_err(serde::de::Error::custom),
            _ => Err(serde::de::Error::custom(msg)),
        }
    }
}

/// The answer to `POST /v1/tokens`: the only time the secret is ever sent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateTokenResponse {
    pub token: Token,
    pub secret: String,
    /// A ready-to-paste command for the host (reads the token from the environment).
    pub join_command: String,
}

impl Drop for CreateTokenResponse {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.secret);
    }
}

/// `PATCH /v1/tokens/{id}`: only the fields present change. `name` is immutable and refused.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchTokenRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
    /// `"2030-01-01T00:00:00Z"` sets an expiry, `null` removes it, absent leaves it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "double_option"
    )]
    pub expires_at: Option<Option<Timestamp>>,
}

fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// A host enrolled with a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Host {
    pub id: String,
    pub hostname: String,
    pub token_id: String,
    pub token_name: String,
    pub group: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub owner: String,
    pub source_addr: String,
    pub enrolled_at: Timestamp,
    /// `sha256:` + hex of the host key's SubjectPublicKeyInfo, when a CSR was sent.
    pub key_fingerprint: Option<String>,
    pub facts: BTreeMap<String, serde_json::Value>,
    /// Its token's tenant (`default` for hosts enrolled before tenants).
    #[serde(default = "default_tenant")]
    pub tenant: String,
}

/// `POST /v1/redeem` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedeemRequest {
    pub hostname: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csr: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub facts: BTreeMap<String, serde_json::Value>,
}

/// `201` answer to a redemption.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedeemResponse {
    pub host_id: String,
    pub hostname: String,
    pub group: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub owner: String,
    /// The tenant the host joined: its token's.
    #[serde(default = "default_tenant")]
    pub tenant: String,
    pub ca_pem: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_pem: Option<String>,
}

/// What an audit event records. Its wire form (and the form the hash chain covers) is the
/// snake_case name; an action this build does not know (from a newer daemon) keeps its name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    /// A token was minted.
    Created,
    /// A token's description, labels, group or expiry changed (`details` says which).
    Updated,
    Enabled,
    Disabled,
    Revoked,
    Deleted,
    /// A host enrolled with a token.
    Redeemed,
    /// A host's retry within the grace window got its answer again.
    RedeemReplayed,
    /// A redemption was refused (`details.reason`).
    RedeemFailed,
    /// An address was refused for too many failed redemptions.
    RedeemRateLimited,
    HostRemoved,
    ApiTokenCreated,
    ApiTokenDeleted,
    /// An admin request was refused for want of a role.
    Denied,
    BackupTaken,
    /// The daemon started without a journal it refused (`--accept-journal-loss`).
    JournalLossAccepted,
    /// An action this build does not know, by its name.
    #[serde(untagged)]
    Other(String),
}

impl AuditAction {
    pub fn as_str(&self) -> &str {
        use AuditAction::*;
        match self {
            Created => "created",
            Updated => "updated",
            Enabled => "enabled",
            Disabled => "disabled",
            Revoked => "revoked",
            Deleted => "deleted",
            Redeemed => "redeemed",
            RedeemReplayed => "redeem_replayed",
            RedeemFailed => "redeem_failed",
            RedeemRateLimited => "redeem_rate_limited",
            HostRemoved => "host_removed",
            ApiTokenCreated => "api_token_created",
            ApiTokenDeleted => "api_token_deleted",
            Denied => "denied",
            BackupTaken => "backup_taken",
            JournalLossAccepted => "journal_loss_accepted",
            Other(name) => name,
        }
    }
}

impl From<&str> for AuditAction {
    /// The action of that name (`Other` when this build does not know it).
    fn from(name: &str) -> AuditAction {
        use serde::de::value::{Error, StrDeserializer};
        AuditAction::deserialize(StrDeserializer::<Error>::new(name))
            .unwrap_or_else(|_| AuditAction::Other(name.to_owned()))
    }
}

impl std::fmt::Display for AuditAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of the append-only audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub seq: u64,
    pub at: Timestamp,
    /// A user name, or `host:<hostname>@<address>` for redemptions.
    pub actor: String,
    pub action: AuditAction,
    /// Usually a token id; empty when the attempt named no valid token.
    pub target: String,
    #[serde(default)]
    pub target_name: Option<String>,
    pub details: BTreeMap<String, String>,
    /// Hex SHA-256 of the previous event's canonical form (all zeros for the first).
    pub prev_hash: String,
    /// The tenant the event belongs to (its token's, or its actor's); `default` for events
    /// written before tenants. The canonical form the chain hashes leaves out `default`, so the
    /// events of a store made before tenants keep their hashes.
    #[serde(default = "default_tenant")]
    pub tenant: String,
}

/// What a caller may do over the admin API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Every token; may mint for another owner.
    Admin,
    /// Mints and manages their own tokens.
    Operator,
    /// Reads everything, changes nothing.
    Auditor,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::Auditor => "auditor",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a change event on `/v1/events` is about (also its SSE event name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// A token was created or changed (`token` holds it).
    Token,
    /// A token was deleted (`token_id`).
    TokenDeleted,
    /// A host enrolled (`host`).
    Host,
    /// An audit event was appended (`audit`).
    Audit,
    /// Events were missed (the subscriber fell behind, or a PostgreSQL node lost its listening
    /// connection to the database): the subscriber should list again.
    Resync,
    /// A kind this build does not know (from a newer daemon): ignored.
    #[serde(other)]
    Unknown,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Token => "token",
            ChangeKind::TokenDeleted => "token_deleted",
            ChangeKind::Host => "host",
            ChangeKind::Audit => "audit",
            ChangeKind::Resync => "resync",
            ChangeKind::Unknown => "unknown",
        }
    }
}

/// `GET /v1/whoami`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WhoAmI {
    pub user: String,
    pub uid: Option<u32>,
    pub role: Role,
    pub daemon_version: String,
    /// The redeem endpoint's base URL, e.g. `https://127.0.0.1:8443`.
    pub redeem_url: String,
    /// `sha256:` + hex of the CA certificate's SubjectPublicKeyInfo.
    pub ca_pin: String,
    pub default_ttl_seconds: u64,
    pub allow_no_expiry: bool,
}

/// What `GET /v1/events` sends (as the SSE `data:` of an event named after `kind`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeEvent {
    pub kind: ChangeKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<Token>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<Host>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit: Option<AuditEvent>,
}

impl ChangeEvent {
    /// `resync`: the subscriber missed changes and should list again.
    pub fn resync() -> ChangeEvent {
        ChangeEvent {
            kind: ChangeKind::Resync,
            token: None,
            token_id: None,
            host: None,
            audit: None,
        }
    }
}

/// What an API token may do. A request outside it is refused with 403 `scope_denied`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApiScope {
    /// Reads only (GET).
    Read,
    /// Reads, and minting enrollment tokens (`POST /v1/tokens`): for automation that mints one
    /// token per host and does nothing else.
    Mint,
    /// All that its user's role allows.
    #[default]
    Manage,
}

impl ApiScope {
    pub const ALL: [ApiScope; 3] = [ApiScope::Read, ApiScope::Mint, ApiScope::Manage];

    pub fn as_str(self) -> &'static str {
        match self {
            ApiScope::Read => "read",
            ApiScope::Mint => "mint",
            ApiScope::Manage => "manage",
        }
    }

    /// `read`, `mint` or `manage`.
    pub fn parse(s: &str) -> Option<ApiScope> {
        ApiScope::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// Whether a request (`method` on `path`) is inside this scope. A backup holds the whole
    /// store: only `manage` takes one.
    pub fn allows(self, method: &str, path: &str) -> bool {
        let read = (method == "GET" || method == "HEAD") && path != "/v1/backup";
        match self {
            ApiScope::Manage => true,
            ApiScope::Read => read,
            ApiScope::Mint => read || (method == "POST" && path == "/v1/tokens"),
        }
    }
}

/// The tenant that always exists: everything made before tenants is in it, and with no tenant
/// configured it is the only one.
pub const DEFAULT_TENANT: &str = "default";

/// `DEFAULT_TENANT`, owned (serde's default for records made before tenants).
pub fn default_tenant() -> String {
    DEFAULT_TENANT.to_owned()
}

/// One tenant open to the caller, as `GET /v1/tenants` lists them (by name): the caller's role
/// there, the live tokens and the hosts of it the caller sees, and — for whoever may mint for
/// others there (its admins) — the accounts a token may be minted for (`members`, sorted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantSummary {
    pub name: String,
    pub role: Role,
    pub tokens: u64,
    pub hosts: u64,
    /// The tenant's members (its `members` and everyone with a role there); empty unless the
    /// caller may mint for another owner in it.
    #[serde(default)]
    pub members: Vec<String>,
}

/// A personal API token (`gpa_…`) for the HTTPS admin listener, as lists show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiToken {
    pub id: String,
    /// `gpa_<id>…`
    pub prefix: String,
    pub name: String,
    /// The user the token acts as (its creator).
    pub user: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    /// Valid only for request paths under this prefix.
    pub path_prefix: Option<String>,
    /// Valid only when the Referer's host ends with this value.
    pub referrer: Option<String>,
    pub remark: String,
    /// What it may do (`manage` for API tokens made before scopes).
    #[serde(default)]
    pub scope: ApiScope,
    /// The tenant it was created in (`default` for API tokens made before tenants).
    #[serde(default = "default_tenant")]
    pub tenant: String,
}

/// `POST /v1/api-tokens`: always for the caller. Expiry defaults to 14 days, at least 1 day.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateApiTokenRequest {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<DurationValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referrer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remark: Option<String>,
    /// What the token may do; default `manage`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<ApiScope>,
    /// The one tenant it acts in: needed when the caller holds the REST API role in several
    /// (else their only one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
}

/// The answer to `POST /v1/api-tokens`: the only time the secret is sent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateApiTokenResponse {
    pub api_token: ApiToken,
    pub secret: String,
}

impl Drop for CreateApiTokenResponse {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.secret);
    }
}

/// Columns tokens can be sorted by (`?sort=` and `--sort`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortColumn {
    Name,
    Status,
    Uses,
    LastUsed,
    Group,
    Owner,
    Expires,
    #[default]
    Created,
    Description,
}

impl SortColumn {
    pub const ALL: [SortColumn; 9] = [
        SortColumn::Name,
        SortColumn::Status,
        SortColumn::Uses,
        SortColumn::LastUsed,
        SortColumn::Group,
        SortColumn::Owner,
        SortColumn::Expires,
        SortColumn::Created,
        SortColumn::Description,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SortColumn::Name => "name",
            SortColumn::Status => "status",
            SortColumn::Uses => "uses",
            SortColumn::LastUsed => "last_used",
            SortColumn::Group => "group",
            SortColumn::Owner => "owner",
            SortColumn::Expires => "expires",
            SortColumn::Created => "created",
            SortColumn::Description => "description",
        }
    }

    pub fn parse(s: &str) -> Option<SortColumn> {
        let s = s.trim().to_ascii_lowercase().replace('-', "_");
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// Orders two tokens by this column (ascending), ties broken by name then id so the order
    /// is total and stable across refreshes.
    pub fn compare(self, a: &Token, b: &Token) -> std::cmp::Ordering {
        self.compare_keys(&a.keys(), &b.keys())
    }

    /// Two numbers per token that order tokens as [`SortColumn::compare_keys`] does wherever
    /// they differ (where they are equal, `compare_keys` decides): the column's value (or the
    /// first bytes of its text), then the first 16 bytes of the name. Sorting a large list on
    /// them compares integers instead of strings scattered over memory.
    ///
    /// The name only counts when the first number holds the column's whole value: for texts
    /// (cut to their first bytes) it is 0, so equal first numbers leave the order to
    /// `compare_keys`. Whether a first number is whole depends on that number alone, so tokens
    /// with equal first numbers agree on it.
    pub fn prefix_key(self, k: &TokenKeys<'_>) -> (u128, u128) {
        /// A timestamp as an unsigned number in the same order.
        fn ts(t: Timestamp) -> u128 {
            u128::from((t.0 as u64) ^ (1 << 63))
        }
        use crate::text::text_prefix as text;
        let (primary, whole) = match self {
            SortColumn::Name => (0, true),
            SortColumn::Status => (k.status as u128, true),
            // Uses, then the limit: a limit of n ranks n, unlimited ranks u64::MAX (which a
            // limit of u64::MAX would share: not whole).
            SortColumn::Uses => {
                let limit = match k.max_uses {
                    MaxUses::Limited(n) => n,
                    MaxUses::Unlimited => u64::MAX,
                };
                (
                    (u128::from(k.uses) << 64) | u128::from(limit),
                    limit != u64::MAX,
                )
            }
            SortColumn::LastUsed => (k.last_used_at.map_or(0, |t| ts(t) + 1), true),
            // No group first, then groups by their first 15 bytes.
            SortColumn::Group => (k.group.map_or(0, |g| (1 << 120) | (text(g) >> 8)), false),
            SortColumn::Owner => (text(k.owner), false),
            SortColumn::Expires => (k.expires_at.map_or(1 << 64, ts), true),
            SortColumn::Created => (ts(k.created_at), true),
            SortColumn::Description => (text(k.description), false),
        };
        (primary, if whole { text(k.name) } else { 0 })
    }

    /// [`SortColumn::compare`] on borrowed keys.
    pub fn compare_keys(self, a: &TokenKeys<'_>, b: &TokenKeys<'_>) -> std::cmp::Ordering {
        use crate::text::text_order;
        use std::cmp::Ordering;
        let primary = match self {
            SortColumn::Name => Ordering::Equal,
            SortColumn::Status => a.status.cmp(&b.status),
            SortColumn::Uses => a.uses.cmp(&b.uses).then(a.max_uses.cmp(&b.max_uses)),
            SortColumn::LastUsed => a.last_used_at.cmp(&b.last_used_at),
            SortColumn::Group => match (a.group, b.group) {
                (Some(x), Some(y)) => text_order(x, y),
                (x, y) => x.is_some().cmp(&y.is_some()),
            },
            SortColumn::Owner => text_order(a.owner, b.owner),
            // No expiry sorts after every date.
            SortColumn::Expires => match (a.expires_at, b.expires_at) {
                (Some(x), Some(y)) => x.cmp(&y),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            },
            SortColumn::Created => a.created_at.cmp(&b.created_at),
            SortColumn::Description => text_order(a.description, b.description),
        };
        primary
            .then_with(|| text_order(a.name, b.name))
            .then_with(|| a.id.cmp(b.id))
    }
}

/// Query of `GET /v1/tokens`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<TokenStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Case-insensitive text found in name, description, group, owner or id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort: Option<SortColumn>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub desc: bool,
    /// Only the tokens of this tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
}

/// Query of `GET /v1/hosts`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostQuery {
    /// Token id or name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Only the hosts of this tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
}

/// Query of `GET /v1/api-tokens`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiTokenQuery {
    /// Only the API tokens of this tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
}

/// Query of `GET /v1/audit`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only events at or after this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<Timestamp>,
    /// Token id (events about that token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// Only events with a sequence number above this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<u64>,
    /// Only events with a sequence number below this one: the cursor for the next (older)
    /// page is the `seq` of the oldest event of this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<u64>,
    /// At most this many events (the newest); default 1000, at most 100000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
    /// Only the events of this tenant (applied by the daemon's API, not by the engines).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
}

#[cfg(test)]
mod tests {

    mod sort_prefix {
        use super::super::*;

        /// Texts that share long prefixes, hold NULs, or end where another goes on.
        const TEXTS: [&str; 13] = [
            "",
            "a",
            "A",
            "b",
            "Zulu",
            "aaaaaaaaaaaaaaaA",
            "a\0",
            "aaaaaaaaaaaaaaa",
            "aaaaaaaaaaaaaaaa",
            "aaaaaaaaaaaaaaaaX",
            "aaaaaaaaaaaaaaaaY",
            "aaaaaaaaaaaaaaa\0Z",
            "é",
        ];

        fn keys(i: usize, r: &mut u64) -> TokenKeys<'static> {
            let mut next = || {
                *r ^= *r << 13;
                *r ^= *r >> 7;
                *r ^= *r << 17;
                *r
            };
            let mut text = || TEXTS[(next() % TEXTS.len() as u64) as usize];
            let (name, description, owner, group) = (text(), text(), text(), text());
            let stamps = [i64::MIN, -1, 0, 1, 1_700_000_000, i64::MAX];
            let mut stamp = || stamps[(next() % stamps.len() as u64) as usize];
            let (t1, t2, t3) = (Timestamp(stamp()), Timestamp(stamp()), Timestamp(stamp()));
            let n = next();
            let limits = [
                MaxUses::Limited(1),
                MaxUses::Limited(2),
                MaxUses::Limited(u64::MAX - 1),
                MaxUses::Limited(u64::MAX),
                MaxUses::Unlimited,
            ];
            TokenKeys {
                id: ["id1", "id2", "id3"][i % 3],
                name,
                description,
                group: (n % 3 != 0).then_some(group),
                owner,
                max_uses: limits[(n >> 8) as usize % limits.len()],
                uses: [0, 1, u64::MAX][(n >> 16) as usize % 3],
                last_used_at: (n & (1 << 20) != 0).then_some(t1),
                expires_at: (n & (1 << 21) != 0).then_some(t2),
                created_at: t3,
                tenant: "default",
                status: TokenStatus::ALL[(n >> 24) as usize % 5],
            }
        }

        #[test]
        fn where_prefix_keys_differ_they_order_as_the_full_comparison() {
            let mut r = 0x9E37_79B9_7F4A_7C15;
            let tokens: Vec<_> = (0..250).map(|i| keys(i, &mut r)).collect();
            for column in SortColumn::ALL {
                let pk: Vec<_> = tokens.iter().map(|k| column.prefix_key(k)).collect();
                let mut decided = 0;
                for (a, ka) in tokens.iter().zip(&pk) {
                    for (b, kb) in tokens.iter().zip(&pk) {
                        if ka != kb {
                            decided += 1;
                            assert_eq!(
                                ka.cmp(kb),
                                column.compare_keys(a, b),
                                "{column:?}: {a:?} vs {b:?}"
                            );
                        }
                    }
                }
                // The keys decide most pairs (else they would be of no use).
                assert!(decided > tokens.len() * tokens.len() / 2, "{column:?}");
            }
        }
    }

    mod timestamps {
        use super::super::Timestamp;
        use proptest::prelude::*;
        use time::OffsetDateTime;
        use time::format_description::well_known::Rfc3339;

        fn reference(t: i64) -> String {
            OffsetDateTime::from_unix_timestamp(t)
                .unwrap()
                .format(&Rfc3339)
                .unwrap()
        }

        proptest! {
            /// The direct writer and reader agree with the general RFC 3339 ones everywhere in
            /// the range, 0001 to 9999.
            #[test]
            fn fast_paths_match_the_general_formatter(t in Timestamp::MIN.0..=Timestamp::MAX.0) {
                let s = Timestamp(t).to_rfc3339();
                prop_assert_eq!(&s, &reference(t));
                prop_assert_eq!(Timestamp::parse(&s).unwrap(), Timestamp(t));
            }
        }

        #[test]
        fn edges_and_what_falls_back() {
            for t in [
                Timestamp::MIN.0,
                -1,
                0,
                951_782_400,
                2_147_483_647,
                4_294_967_295,
                Timestamp::MAX.0,
            ] {
                assert_eq!(Timestamp(t).to_rfc3339(), reference(t));
            }
            // Offsets and fractions take the general path and mean the same instant.
            assert_eq!(
                Timestamp::parse("2030-01-31T19:00:00+01:00").unwrap(),
                Timestamp::parse("2030-01-31T18:00:00Z").unwrap()
            );
            assert_eq!(
                Timestamp::parse("2030-01-31T18:00:00.9Z").unwrap().0,
                Timestamp::parse("2030-01-31T18:00:00Z").unwrap().0
            );
            // Impossible dates are refused, not wrapped.
            for bad in [
                "2026-02-29T00:00:00Z",
                "2026-13-01T00:00:00Z",
                "2026-04-31T00:00:00Z",
                "2026-01-01T24:00:00Z",
                "2026-1-01T00:00:00Z",
            ] {
                assert!(Timestamp::parse(bad).is_err(), "{bad}");
            }
            assert_eq!(
                Timestamp::parse("2024-02-29T12:00:00Z")
                    .unwrap()
                    .to_rfc3339(),
                "2024-02-29T12:00:00Z"
            );
        }
    }
    use super::*;

    #[test]
    fn audit_actions_keep_their_wire_names_and_unknown_ones_keep_theirs() {
        use AuditAction::*;
        let all = [
            Created,
            Updated,
            Enabled,
            Disabled,
            Revoked,
            Deleted,
            Redeemed,
            RedeemReplayed,
            RedeemFailed,
            RedeemRateLimited,
            HostRemoved,
            ApiTokenCreated,
            ApiTokenDeleted,
            Denied,
            BackupTaken,
            JournalLossAccepted,
        ];
        for a in all {
            // The hash chain covers the JSON: a name must never change.
            let json = serde_json::to_string(&a).unwrap();
            assert_eq!(json, format!("\"{}\"", a.as_str()));
            assert_eq!(serde_json::from_str::<AuditAction>(&json).unwrap(), a);
        }
        let newer: AuditAction = serde_json::from_str("\"token_cloned\"").unwrap();
        assert_eq!(newer, Other("token_cloned".into()));
        assert_eq!(serde_json::to_string(&newer).unwrap(), "\"token_cloned\"");
        assert_eq!(newer.to_string(), "token_cloned");
        assert_eq!(AuditAction::from("host_removed"), HostRemoved);
        assert_eq!(AuditAction::from("token_cloned"), newer);
    }

    #[test]
    fn timestamps_cover_2038_2106_and_9999() {
        for s in [
            "2038-01-19T03:14:08Z",
            "2106-02-07T06:28:16Z",
            "9999-12-31T23:59:59Z",
        ] {
            let t = Timestamp::parse(s).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(t.to_rfc3339(), s);
            let json = serde_json::to_string(&t).unwrap_or_default();
            assert_eq!(serde_json::from_str::<Timestamp>(&json).ok(), Some(t));
        }
        assert_eq!(Timestamp::MAX.to_rfc3339(), "9999-12-31T23:59:59Z");
        assert_eq!(Timestamp::MAX.checked_add(1), None);
        assert_eq!(Timestamp(0).checked_add(u64::MAX), None);
        assert!(Timestamp::parse("10000-01-01T00:00:00Z").is_err());
        assert!(Timestamp::parse("yesterday").is_err());
    }

    #[test]
    fn max_uses_accepts_numbers_and_unlimited_only() {
        let ok = |s: &str| serde_json::from_str::<MaxUses>(s).ok();
        assert_eq!(ok("1"), Some(MaxUses::Limited(1)));
        assert_eq!(ok("\"unlimited\""), Some(MaxUses::Unlimited));
        for bad in [
            "0",
            "-1",
            "1.5",
            "\"5\"",
            "null",
            "99999999999999999999999",
            "true",
        ] {
            assert_eq!(ok(bad), None, "{bad}");
        }
        assert_eq!(MaxUses::parse("unlimited"), Ok(MaxUses::Unlimited));
        assert!(MaxUses::parse("0").is_err());
        // Too large says so, whether or not it fits a u64.
        for big in ["1000000001", "99999999999999999999999"] {
            let e = MaxUses::parse(big).unwrap_err();
            assert!(e.contains("at most 1000000000"), "{big}: {e}");
        }
        assert!(
            MaxUses::parse("12x")
                .unwrap_err()
                .contains("must be a number")
        );
    }

    #[test]
    fn status_follows_the_documented_order() {
        let now = Timestamp(1_000);
        let past = Some(Timestamp(10));
        let one = MaxUses::Limited(1);
        assert_eq!(
            TokenStatus::derive(true, 1, one, past, true, now),
            TokenStatus::Revoked
        );
        assert_eq!(
            TokenStatus::derive(false, 1, one, past, true, now),
            TokenStatus::Exhausted
        );
        assert_eq!(
            TokenStatus::derive(false, 0, one, past, true, now),
            TokenStatus::Expired
        );
        assert_eq!(
            TokenStatus::derive(false, 0, one, None, true, now),
            TokenStatus::Disabled
        );
        assert_eq!(
            TokenStatus::derive(false, 0, one, None, false, now),
            TokenStatus::Active
        );
        // Expiry is to the second: at the instant itself the token is expired.
        assert_eq!(
            TokenStatus::derive(false, 0, one, Some(now), false, now),
            TokenStatus::Expired
        );
    }

    #[test]
    fn requests_refuse_unknown_fields() {
        let r = serde_json::from_str::<CreateTokenRequest>(r#"{"name":"a","colour":"red"}"#);
        assert!(r.is_err());
        let r = serde_json::from_str::<PatchTokenRequest>(r#"{"disabled":true,"colour":"red"}"#);
        assert!(r.is_err());
    }

    /// Every field of a PATCH is optional: a body naming one field (what `tokens disable` and
    /// `tokens extend` send) parses, and the others stay "leave as it is". A parse failure is a
    /// failure here, never a default.
    #[test]
    fn a_patch_names_only_what_it_changes() {
        let parse = |json: &str| {
            serde_json::from_str::<PatchTokenRequest>(json)
                .unwrap_or_else(|e| panic!("{json} does not parse: {e}"))
        };
        let p = parse(r#"{"expires_at":null}"#);
        assert_eq!(p.expires_at, Some(None));
        assert_eq!(
            p,
            PatchTokenRequest {
                expires_at: Some(None),
                ..Default::default()
            }
        );
        assert_eq!(parse(r#"{}"#), PatchTokenRequest::default());
        let p = parse(r#"{"disabled":true}"#);
        assert_eq!((p.disabled, p.expires_at), (Some(true), None));
        let p = parse(r#"{"expires_at":"2030-01-01T00:00:00Z"}"#);
        assert_eq!(
            p.expires_at,
            Some(Some(Timestamp::parse("2030-01-01T00:00:00Z").unwrap()))
        );
        let p = parse(r#"{"description":"d","labels":{"plan":"gold"}}"#);
        assert_eq!(p.description.as_deref(), Some("d"));
        assert_eq!(p.labels.map(|l| l.len()), Some(1));
        // What the client sends for `tokens disable` comes back the same.
        let disable = PatchTokenRequest {
            disabled: Some(true),
            ..Default::default()
        };
        let sent = serde_json::to_string(&disable).unwrap();
        assert_eq!(sent, r#"{"disabled":true}"#);
        assert_eq!(parse(&sent), disable);
    }
}
