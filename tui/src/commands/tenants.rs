//! `gatepass tenants list`: the tenants open to the caller, with their role there and the
//! tokens and hosts of each they see; and what the other commands need of tenants — whether a
//! list shows a TENANT column, and the words for a mint that must name its tenant.

use std::process::ExitCode;

use gatepass_protocol::client::{Client, ClientError};
use gatepass_protocol::{ErrorCode, TenantSummary};

use super::print_json;
use crate::cli::Tenants;
use crate::error::{Error, Result};
use crate::output;

pub const TENANT_HEADER: [&str; 4] = ["NAME", "ROLE", "TOKENS", "HOSTS"];

pub fn tenant_row(t: &TenantSummary) -> Vec<String> {
    vec![
        t.name.clone(),
        t.role.to_string(),
        t.tokens.to_string(),
        t.hosts.to_string(),
    ]
}

pub async fn run(client: &Client, cmd: Tenants) -> Result<ExitCode> {
    let Tenants::List { json } = cmd;
    let list = client.list_tenants().await?;
    if json {
        print_json(&list)?;
    } else {
        let rows: Vec<_> = list.iter().map(tenant_row).collect();
        print!("{}", output::table(&TENANT_HEADER, &rows));
    }
    Ok(ExitCode::SUCCESS)
}

/// Whether a list shows a TENANT column: the caller sees more than one tenant and did not
/// name one (`--tenant`). A daemon that lists no tenants has one.
pub async fn column(client: &Client, asked: Option<&str>) -> bool {
    asked.is_none() && client.list_tenants().await.is_ok_and(|l| l.len() > 1)
}

/// `header` and `rows` with a TENANT column first (`tenants`: each row's), when `show`.
pub fn with_column<'a>(
    show: bool,
    header: &[&'a str],
    mut rows: Vec<Vec<String>>,
    tenants: impl Iterator<Item = String>,
) -> (Vec<&'a str>, Vec<Vec<String>>) {
    if !show {
        return (header.to_vec(), rows);
    }
    for (row, t) in rows.iter_mut().zip(tenants) {
        row.insert(0, t);
    }
    let mut h = vec!["TENANT"];
    h.extend_from_slice(header);
    (h, rows)
}

/// A mint refused for naming no tenant, said as the command line would fix it: "use --tenant
/// NAME; yours: a, b". Any other error is passed on as it is.
pub async fn explain_required(client: &Client, e: ClientError) -> Error {
    let ClientError::Api {
        code: ErrorCode::TenantRequired,
        ..
    } = &e
    else {
        return e.into();
    };
    match client.list_tenants().await {
        Ok(list) => {
            let names: Vec<&str> = list.iter().map(|t| t.name.as_str()).collect();
            Error::Failed(format!(
                "several tenants are open to you: use --tenant NAME; yours: {}",
                names.join(", ")
            ))
        }
        Err(_) => e.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tenant_column_comes_first_and_only_when_asked() {
        let rows = vec![vec!["a".to_string()], vec!["b".to_string()]];
        let (h, r) = with_column(false, &["NAME"], rows.clone(), std::iter::empty());
        assert_eq!((h, r), (vec!["NAME"], rows.clone()));
        let (h, r) = with_column(
            true,
            &["NAME"],
            rows,
            ["x", "y"].map(String::from).into_iter(),
        );
        assert_eq!(h, ["TENANT", "NAME"]);
        assert_eq!(r, [["x", "a"], ["y", "b"]]);
    }
}
