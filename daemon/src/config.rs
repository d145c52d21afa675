//! The daemon's TOML configuration, with the defaults documented in `assets/gatepassd.toml`
//! (which is also what a first start writes when no config exists).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use gatepass_protocol::types::DurationValue;
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::model::LifetimePolicy;

/// The documented example, written on first start.
pub const EXAMPLE: &str = include_str!("../../assets/gatepassd.toml");

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub data_dir: Option<PathBuf>,
    pub socket: Option<PathBuf>,
    pub redeem: RedeemConfig,
    pub tokens: TokenConfig,
    pub tls: TlsConfig,
    pub limits: LimitsConfig,
    pub access: AccessConfig,
    pub admin: AdminConfig,
    pub store: StoreConfig,
    /// `[tenants.NAME]`: each tenant's own roles and members (`default` always exists).
    pub tenants: BTreeMap<String, TenantConfig>,
    pub log: LogConfig,
    pub metrics: MetricsConfig,
    /// `--accept-journal-loss`: start even if the journal is refused (never from the file).
    #[serde(skip)]
    pub accept_journal_loss: bool,
    /// The test seam `GATEPASSD_TEST_HOLD_CHECKPOINTS_FILE` (never from the file; set only in a
    /// build with the `test-seams` feature): while that file exists, checkpoints wait.
    #[serde(skip)]
    pub test_hold_checkpoints: Option<std::path::PathBuf>,
}

/// The store itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// Verify every page of the database before starting (refuse a file altered at rest).
    pub check_on_start: bool,
    /// A PostgreSQL database (`postgres://USER@HOST:PORT/DB?...`) shared by several daemons;
    /// none: the embedded store in the data folder. Also `--store`, `GATEPASSD_STORE`.
    pub url: Option<String>,
    /// A file holding the database password (else `PGPASSWORD`); never put one in `url`.
    pub password_file: Option<PathBuf>,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            check_on_start: true,
            url: None,
            password_file: None,
        }
    }
}

/// Who may do what over the admin API, in every tenant (global roles). The daemon's own user
/// and root are always admins.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccessConfig {
    pub admins: Vec<String>,
    pub operators: Vec<String>,
    pub auditors: Vec<String>,
    /// The REST API role: who may create API tokens.
    pub api_users: Vec<String>,
    /// Accounts that may own enrolled hosts and have no other power.
    pub members: Vec<String>,
    /// A group whose members may open the socket (its folder becomes 0750 and setgid).
    pub socket_group: Option<String>,
}

/// One tenant's roles (`[tenants.NAME]`): they hold in that tenant only.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TenantConfig {
    pub admins: Vec<String>,
    pub operators: Vec<String>,
    pub auditors: Vec<String>,
    pub api_users: Vec<String>,
    pub members: Vec<String>,
}

impl TenantConfig {
    fn roles(&self) -> crate::domain::tenants::Roles {
        crate::domain::tenants::Roles {
            admins: self.admins.clone(),
            operators: self.operators.clone(),
            auditors: self.auditors.clone(),
            api_users: self.api_users.clone(),
            members: self.members.clone(),
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One readable line; without a timestamp when stderr is the journal's.
    #[default]
    Text,
    /// One JSON object a line.
    Json,
}

/// The optional plain-HTTP metrics listener (loopback only).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    pub listen: Option<String>,
}

/// The optional HTTPS admin listener (API tokens only).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminConfig {
    pub listen: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedeemConfig {
    pub listen: String,
    pub public_url: Option<String>,
    pub grace_window: DurationValue,
    pub max_body: usize,
    pub cert_days: u32,
}

impl Default for RedeemConfig {
    fn default() -> Self {
        RedeemConfig {
            listen: gatepass_protocol::paths::DEFAULT_LISTEN.into(),
            public_url: None,
            grace_window: DurationValue(600),
            max_body: 16 * 1024,
            cert_days: 365,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TokenConfig {
    pub default_ttl: DurationValue,
    pub max_ttl: Option<DurationValue>,
    pub allow_no_expiry: bool,
}

impl Default for TokenConfig {
    fn default() -> Self {
        TokenConfig {
            default_ttl: DurationValue(3 * 86_400),
            max_ttl: None,
            allow_no_expiry: true,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    pub server_names: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    pub admin_max_body: usize,
    pub header_timeout: DurationValue,
    pub request_timeout: DurationValue,
    /// Refused redemptions (of every kind) per source address and minute before 429.
    pub redeem_failures_per_minute: u32,
    /// Refused redemptions per token and minute, of requests that held its secret, before 429.
    pub redeem_refusals_per_token_per_minute: u32,
    pub rate_limit_addresses: usize,
    /// Memory the store may use to cache database pages, in MiB.
    pub store_cache_mib: usize,
    /// Size of the redo journal that makes write batches durable, in MiB (preallocated; 0 makes
    /// every batch a durable database commit instead).
    pub journal_mib: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            admin_max_body: 64 * 1024,
            header_timeout: DurationValue(10),
            request_timeout: DurationValue(30),
            redeem_failures_per_minute: 10,
            redeem_refusals_per_token_per_minute: 60,
            rate_limit_addresses: 100_000,
            store_cache_mib: 24,
            journal_mib: 64,
        }
    }
}

impl Config {
    pub fn parse(text: &str, path: &Path) -> Result<Config, Error> {
        let cfg: Config = toml::from_str(text).map_err(|e| Error::Config {
            path: path.to_owned(),
            message: e.message().to_owned(),
        })?;
        cfg.validate(path)?;
        Ok(cfg)
    }

    pub fn load(path: &Path) -> Result<Config, Error> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io(format!("reading config {}", path.display()), e))?;
        Config::parse(&text, path)
    }

    fn validate(&self, path: &Path) -> Result<(), Error> {
        let bad = |message: &str| {
            Err(Error::Config {
                path: path.to_owned(),
                message: message.into(),
            })
        };
        if self.tokens.default_ttl.0 == 0 {
            return bad("tokens.default_ttl must be at least 1s");
        }
        if let Some(max) = self.tokens.max_ttl
            && self.tokens.default_ttl.0 > max.0
        {
            return bad("tokens.default_ttl is longer than tokens.max_ttl");
        }
        if self.redeem.max_body < 1024 || self.limits.admin_max_body < 1024 {
            return bad("body limits must be at least 1024 bytes");
        }
        if self.limits.header_timeout.0 == 0 || self.limits.request_timeout.0 == 0 {
            return bad("timeouts must be at least 1s");
        }
        if let Some(bad_name) = self
            .tenants
            .keys()
            .find(|n| !crate::domain::tenants::valid_name(n))
        {
            return bad(&format!(
                "tenants.{bad_name:?}: a tenant's name is 1-64 characters of a-z 0-9 - _"
            ));
        }
        if let Some(l) = &self.metrics.listen {
            let loopback = l
                .parse::<std::net::SocketAddr>()
                .is_ok_and(|a| a.ip().is_loopback());
            if !loopback {
                return bad(
                    "metrics.listen must be a loopback address and port (127.0.0.1:9464, [::1]:9464): it answers without credentials",
                );
            }
        }
        if self.limits.redeem_failures_per_minute == 0
            || self.limits.redeem_refusals_per_token_per_minute == 0
            || self.limits.rate_limit_addresses < 16
        {
            return bad(
                "limits.redeem_failures_per_minute and redeem_refusals_per_token_per_minute must be ≥ 1, and rate_limit_addresses ≥ 16",
            );
        }
        Ok(())
    }

    pub fn data_dir(&self) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(gatepass_protocol::paths::default_data_dir)
    }

    pub fn socket(&self) -> PathBuf {
        self.socket
            .clone()
            .unwrap_or_else(gatepass_protocol::paths::default_socket)
    }

    /// Who holds which role where: `[access]` (every tenant) and `[tenants.NAME]`.
    pub fn tenants(&self) -> crate::domain::tenants::Tenants {
        let a = &self.access;
        let global = crate::domain::tenants::Roles {
            admins: a.admins.clone(),
            operators: a.operators.clone(),
            auditors: a.auditors.clone(),
            api_users: a.api_users.clone(),
            members: a.members.clone(),
        };
        crate::domain::tenants::Tenants::new(
            global,
            self.tenants
                .iter()
                .map(|(name, t)| (name.clone(), t.roles()))
                .collect(),
        )
    }

    pub fn lifetime_policy(&self) -> LifetimePolicy {
        LifetimePolicy {
            default_ttl: self.tokens.default_ttl.0,
            max_ttl: self.tokens.max_ttl.map(|d| d.0),
            allow_no_expiry: self.tokens.allow_no_expiry && self.tokens.max_ttl.is_none(),
        }
    }

    /// Names in the redeem certificate: the defaults, this machine's name, and the configured.
    pub fn server_names(&self) -> Vec<String> {
        let mut names: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
        if let Ok(h) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
            let h = h.trim();
            if !h.is_empty() {
                names.push(h.to_owned());
            }
        }
        names.extend(self.tls.server_names.iter().cloned());
        let mut seen = std::collections::BTreeSet::new();
        names.retain(|n| seen.insert(n.clone()));
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_example_is_exactly_the_defaults() {
        let cfg = Config::parse(EXAMPLE, Path::new("example")).unwrap();
        let defaults = Config::default();
        assert_eq!(
            toml::to_string(&cfg).unwrap(),
            toml::to_string(&defaults).unwrap()
        );
    }

    #[test]
    fn bad_configs_name_the_problem() {
        let e = Config::parse("[tokens]\ndefault_ttl = \"0s\"", Path::new("c")).unwrap_err();
        assert!(e.to_string().contains("default_ttl"), "{e}");
        let e = Config::parse("colour = 1", Path::new("c")).unwrap_err();
        assert!(e.to_string().contains("colour"), "{e}");
        let e = Config::parse("[tokens]\ndefault_ttl = \"3x\"", Path::new("c")).unwrap_err();
        assert!(e.to_string().contains("unit"), "{e}");
        let e = Config::parse("[metrics]\nlisten = \"0.0.0.0:9464\"", Path::new("c")).unwrap_err();
        assert!(e.to_string().contains("loopback"), "{e}");
        let e = Config::parse("[log]\nformat = \"xml\"", Path::new("c")).unwrap_err();
        assert!(e.to_string().contains("xml"), "{e}");
        let c = Config::parse(
            "[log]\nformat = \"json\"\n[metrics]\nlisten = \"[::1]:9464\"",
            Path::new("c"),
        )
        .unwrap();
        assert_eq!(c.log.format, LogFormat::Json);
    }
}
