//! `gatepass apitokens list|create|delete`: personal API tokens for the HTTPS admin listener.

use std::process::ExitCode;

use gatepass_protocol::client::Client;
use gatepass_protocol::{ApiTokenQuery, CreateApiTokenRequest, Timestamp};

use super::{print_json, tenants};
use crate::cli::{ApiTokens, UsageError};
use crate::output;

/// The shortest life the daemon gives an API token (PRODUCT: "minimum 1 day").
const API_TOKEN_MIN_TTL: u64 = 86_400;

pub async fn run(client: &Client, cmd: ApiTokens) -> crate::error::Result<ExitCode> {
    match cmd {
        ApiTokens::List { tenant, json } => {
            let column = tenants::column(client, tenant.as_deref()).await;
            let list = client.list_api_tokens_in(&ApiTokenQuery { tenant }).await?;
            if json {
                print_json(&list)?;
            } else if list.is_empty() {
                eprintln!("No API tokens. Create one with: gatepass apitokens create --name NAME");
            } else {
                let now = Timestamp::now();
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|t| {
                        vec![
                            t.name.clone(),
                            t.id.clone(),
                            t.user.clone(),
                            t.scope.as_str().to_owned(),
                            output::when(Some(t.expires_at), now, "-"),
                            t.path_prefix.clone().unwrap_or_else(|| "-".into()),
                            t.referrer.clone().unwrap_or_else(|| "-".into()),
                            t.remark.clone(),
                        ]
                    })
                    .collect();
                let header = [
                    "NAME", "ID", "USER", "SCOPE", "EXPIRES", "PATH", "REFERRER", "REMARK",
                ];
                let (header, rows) = tenants::with_column(
                    column,
                    &header,
                    rows,
                    list.iter().map(|t| t.tenant.clone()),
                );
                print!("{}", output::table(&header, &rows));
            }
        }
        ApiTokens::Create {
            name,
            ttl,
            expires,
            path_prefix,
            referrer,
            remark,
            scope,
            tenant,
            json,
        } => {
            gatepass_protocol::rules::validate_name("--name", &name).map_err(UsageError)?;
            if let Some(r) = &remark {
                gatepass_protocol::rules::validate_description(r)
                    .map_err(|e| UsageError(format!("--remark: {e}")))?;
            }
            let ttl = match ttl
                .as_deref()
                .map(gatepass_protocol::duration::parse_duration)
            {
                None => None,
                Some(Ok(secs)) if secs >= API_TOKEN_MIN_TTL => {
                    Some(gatepass_protocol::types::DurationValue(secs))
                }
                Some(Ok(_)) => {
                    return Err(
                        UsageError("--ttl: an API token must live at least 1 day".into()).into(),
                    );
                }
                Some(Err(e)) => return Err(UsageError(format!("--ttl: {e}")).into()),
            };
            let expires_at = match expires {
                Some(t) => {
                    Some(Timestamp::parse(&t).map_err(|e| UsageError(format!("--expires: {e}")))?)
                }
                None => None,
            };
            if let Some(at) = expires_at
                && at.0 < Timestamp::now().0.saturating_add(API_TOKEN_MIN_TTL as i64)
            {
                return Err(UsageError(format!(
                    "--expires: {at} is less than a day away; an API token must live at least 1 day"
                ))
                .into());
            }
            let req = CreateApiTokenRequest {
                name,
                ttl,
                expires_at,
                path_prefix,
                referrer,
                remark,
                scope: scope
                    .as_deref()
                    .and_then(gatepass_protocol::ApiScope::parse),
                tenant,
            };
            let created = client.create_api_token(&req).await?;
            if json {
                print_json(
                    &serde_json::json!({"api_token": &created.api_token, "secret": &created.secret}),
                )?;
            } else {
                println!("{}", created.secret);
            }
            let t = &created.api_token;
            eprintln!(
                "Created API token {:?} (id {}) for {}, acting in tenant {}, expires {}. It is \
                 shown this once.",
                t.name, t.id, t.user, t.tenant, t.expires_at
            );
            eprintln!(
                "Use it with: GATEPASS_API_TOKEN=… gatepass --server https://HOST:PORT --ca-pin PIN …"
            );
        }
        ApiTokens::Delete { id_or_name } => {
            let t = client.delete_api_token(&id_or_name).await?;
            eprintln!(
                "Deleted API token {:?} ({}); it no longer works.",
                t.name, t.id
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
