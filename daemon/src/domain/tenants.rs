//! Tenants: who holds which role where, and the rules that follow from it — which tenants a
//! user sees, in which tenant a token is minted, who may own its hosts. Roles in `[access]`
//! hold in every tenant (global); roles in `[tenants.NAME]` hold only there. Tenant `default`
//! always exists: a store made before tenants has all its data in it, and with no tenant
//! configured it is the only one.

use std::collections::BTreeMap;

use gatepass_protocol::{DEFAULT_TENANT, Role};

/// The role lists of one place: `[access]` (global) or one tenant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Roles {
    pub admins: Vec<String>,
    pub operators: Vec<String>,
    pub auditors: Vec<String>,
    /// The REST API role: who may create API tokens.
    pub api_users: Vec<String>,
    /// Accounts that may own enrolled hosts and have no other power.
    pub members: Vec<String>,
}

impl Roles {
    /// The strongest role `user` holds in these lists.
    pub fn role_of(&self, user: &str) -> Option<Role> {
        let has = |list: &[String]| list.iter().any(|u| u == user);
        if has(&self.admins) {
            Some(Role::Admin)
        } else if has(&self.operators) {
            Some(Role::Operator)
        } else if has(&self.auditors) {
            Some(Role::Auditor)
        } else {
            None
        }
    }

    fn is_api_user(&self, user: &str) -> bool {
        self.api_users.iter().any(|u| u == user)
    }

    /// Whether `user` belongs here: a member, or anyone with a role (the REST API role too).
    fn is_member(&self, user: &str) -> bool {
        self.role_of(user).is_some()
            || self.is_api_user(user)
            || self.members.iter().any(|u| u == user)
    }
}

/// Whether `name` may name a tenant: 1–64 characters of `a-z 0-9 - _`.
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// Power order: an admin outranks an operator, who outranks an auditor.
fn rank(role: Role) -> u8 {
    match role {
        Role::Admin => 3,
        Role::Operator => 2,
        Role::Auditor => 1,
    }
}

fn stronger(a: Option<Role>, b: Option<Role>) -> Option<Role> {
    match (a, b) {
        (Some(x), Some(y)) => Some(if rank(x) >= rank(y) { x } else { y }),
        (x, None) => x,
        (None, y) => y,
    }
}

/// Why a tenant could not be chosen for a write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TenantRefusal {
    /// Several tenants are open to the caller and none was named (400 `tenant_required`).
    Required,
    /// The named tenant does not exist, or the caller has no role there (404: whether it
    /// exists is not revealed).
    Unknown(String),
}

/// Every tenant and every role, from the config.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tenants {
    global: Roles,
    /// Each configured tenant's own roles; `default` is among them even when not configured.
    tenants: BTreeMap<String, Roles>,
}

impl Tenants {
    pub fn new(global: Roles, mut tenants: BTreeMap<String, Roles>) -> Tenants {
        tenants.entry(DEFAULT_TENANT.to_owned()).or_default();
        Tenants { global, tenants }
    }

    /// Every tenant's name, `default` included.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tenants.keys().map(String::as_str)
    }

    /// Whether more than one tenant exists (then minting must name one).
    pub fn several(&self) -> bool {
        self.tenants.len() > 1
    }

    pub fn exists(&self, tenant: &str) -> bool {
        self.tenants.contains_key(tenant)
    }

    /// The role `user` holds in every tenant (`[access]`).
    pub fn global_role(&self, user: &str) -> Option<Role> {
        self.global.role_of(user)
    }

    /// The role `user` holds in `tenant`: the stronger of their global role and the tenant's
    /// own.
    pub fn role_in(&self, user: &str, tenant: &str) -> Option<Role> {
        let own = self.tenants.get(tenant).and_then(|r| r.role_of(user));
        stronger(self.global.role_of(user), own)
    }

    /// The tenants `user` has a role in, with that role.
    pub fn tenants_of(&self, user: &str) -> Vec<(&str, Role)> {
        self.tenants_with(user, None)
    }

    /// `tenants_of`, for a user who also holds `implicit` everywhere (root and the daemon's
    /// own user are admins of every tenant).
    pub fn tenants_with(&self, user: &str, implicit: Option<Role>) -> Vec<(&str, Role)> {
        self.names()
            .filter_map(|t| stronger(implicit, self.role_in(user, t)).map(|r| (t, r)))
            .collect()
    }

    /// The strongest of `roles` (a caller's roles in their tenants: what `whoami` shows).
    pub fn strongest_of(&self, roles: impl Iterator<Item = Role>) -> Option<Role> {
        roles.map(Some).fold(None, stronger)
    }

    /// Whether `user` holds the REST API role in `tenant`: listed in its `api_users`, or in
    /// `[access]` (which holds in every tenant). It is worth something only where the user has
    /// a role: an API token acts as its user's role in its tenant.
    pub fn is_api_user_in(&self, user: &str, tenant: &str) -> bool {
        self.tenants.contains_key(tenant)
            && (self.global.is_api_user(user)
                || self
                    .tenants
                    .get(tenant)
                    .is_some_and(|r| r.is_api_user(user)))
    }

    /// Whether `user` belongs to `tenant`: its members, everyone with a role there, and the
    /// members and role holders of `[access]`. Root and the daemon's own user, admins of every
    /// tenant by being who they are, are members only where they are listed.
    pub fn is_member(&self, user: &str, tenant: &str) -> bool {
        self.tenants.contains_key(tenant)
            && (self.global.is_member(user)
                || self.tenants.get(tenant).is_some_and(|r| r.is_member(user)))
    }

    /// The members of `tenant`, sorted (the console's owner field offers them).
    pub fn members(&self, tenant: &str) -> Vec<String> {
        let mut all: Vec<String> = Vec::new();
        for r in [Some(&self.global), self.tenants.get(tenant)]
            .into_iter()
            .flatten()
        {
            for list in [
                &r.admins,
                &r.operators,
                &r.auditors,
                &r.api_users,
                &r.members,
            ] {
                all.extend(list.iter().cloned());
            }
        }
        all.sort();
        all.dedup();
        all
    }

    /// The tenant a write of `user` happens in (`choose_write_tenant`).
    pub fn write_tenant(&self, user: &str, asked: Option<&str>) -> Result<String, TenantRefusal> {
        choose_write_tenant(&self.tenants_of(user), self.several(), asked)
    }
}

/// The tenant a write happens in, for a caller with roles in `mine`: the one named (`asked`),
/// which must be among them; else their only tenant; else, when `default` is the only tenant
/// there is, `default`. "All tenants" is never a place to write.
pub fn choose_write_tenant(
    mine: &[(&str, Role)],
    several: bool,
    asked: Option<&str>,
) -> Result<String, TenantRefusal> {
    if let Some(t) = asked {
        return match mine.iter().find(|(name, _)| *name == t) {
            Some((name, _)) => Ok((*name).to_owned()),
            None => Err(TenantRefusal::Unknown(t.to_owned())),
        };
    }
    match mine {
        [(only, _)] => Ok((*only).to_owned()),
        _ if !several => Ok(DEFAULT_TENANT.to_owned()),
        _ => Err(TenantRefusal::Required),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn two_tenants() -> Tenants {
        let global = Roles {
            admins: names(&["root-ish"]),
            auditors: names(&["watcher"]),
            ..Roles::default()
        };
        let acme = Roles {
            admins: names(&["alice"]),
            operators: names(&["bob", "both"]),
            members: names(&["dave"]),
            ..Roles::default()
        };
        let globex = Roles {
            auditors: names(&["gina"]),
            operators: names(&["both"]),
            api_users: names(&["ci"]),
            ..Roles::default()
        };
        Tenants::new(
            global,
            [("acme".to_string(), acme), ("globex".to_string(), globex)]
                .into_iter()
                .collect(),
        )
    }

    #[test]
    fn default_always_exists_and_is_the_only_tenant_when_none_is_configured() {
        let t = Tenants::new(
            Roles {
                operators: names(&["bob"]),
                members: names(&["dave"]),
                ..Roles::default()
            },
            BTreeMap::new(),
        );
        assert_eq!(t.names().collect::<Vec<_>>(), ["default"]);
        assert!(!t.several());
        assert_eq!(t.write_tenant("bob", None), Ok("default".into()));
        assert!(t.is_member("dave", "default") && t.is_member("bob", "default"));
        assert!(!t.is_member("nobody", "default"));
        assert_eq!(t.members("default"), ["bob", "dave"]);
    }

    #[test]
    fn roles_hold_where_they_are_given_and_global_ones_everywhere() {
        let t = two_tenants();
        assert_eq!(t.role_in("alice", "acme"), Some(Role::Admin));
        assert_eq!(t.role_in("alice", "globex"), None);
        assert_eq!(t.role_in("watcher", "globex"), Some(Role::Auditor));
        assert_eq!(t.role_in("root-ish", "default"), Some(Role::Admin));
        assert_eq!(
            t.tenants_of("both"),
            [("acme", Role::Operator), ("globex", Role::Operator)]
        );
        assert_eq!(t.tenants_of("dave"), []);
        assert!(t.is_member("dave", "acme") && !t.is_member("dave", "globex"));
        assert!(t.is_member("ci", "globex") && t.is_api_user_in("ci", "globex"));
        assert!(!t.is_api_user_in("ci", "acme") && !t.is_api_user_in("alice", "acme"));
        assert!(t.is_member("watcher", "acme"));
        assert!(!t.is_member("alice", "nowhere"));
        assert!(!t.is_member("root", "acme"));
    }

    #[test]
    fn a_write_happens_in_one_tenant() {
        let t = two_tenants();
        assert_eq!(t.write_tenant("alice", None), Ok("acme".into()));
        assert_eq!(t.write_tenant("both", None), Err(TenantRefusal::Required));
        assert_eq!(
            t.write_tenant("root-ish", None),
            Err(TenantRefusal::Required)
        );
        assert_eq!(
            t.write_tenant("root-ish", Some("globex")),
            Ok("globex".into())
        );
        assert_eq!(t.write_tenant("both", Some("globex")), Ok("globex".into()));
        assert_eq!(
            t.write_tenant("alice", Some("globex")),
            Err(TenantRefusal::Unknown("globex".into()))
        );
        assert_eq!(
            t.write_tenant("alice", Some("nowhere")),
            Err(TenantRefusal::Unknown("nowhere".into()))
        );
    }

    #[test]
    fn tenant_names_are_checked() {
        for ok in ["default", "acme", "a-b_9", &"x".repeat(64)] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", "Acme", "a b", "é", &"x".repeat(65)] {
            assert!(!valid_name(bad), "{bad}");
        }
    }
}
