//! `gatepass hosts list` and `gatepass hosts remove`.

use std::process::ExitCode;

use gatepass_protocol::client::Client;
use gatepass_protocol::{HostQuery, Timestamp};

use super::{print_json, tenants};
use crate::cli::Hosts;
use crate::output;

pub async fn run(client: &Client, cmd: Hosts) -> crate::error::Result<ExitCode> {
    let (token, tenant, format) = match cmd {
        Hosts::List {
            token,
            tenant,
            format,
        } => (token, tenant, format),
        Hosts::Remove { id, json } => {
            let host = client.remove_host(&id).await?;
            if json {
                print_json(&host)?;
            } else {
                eprintln!(
                    "Removed host {} ({}) enrolled with token {:?}; the token's use count is unchanged.",
                    host.id, host.hostname, host.token_name
                );
            }
            return Ok(ExitCode::SUCCESS);
        }
    };
    let column = tenants::column(client, tenant.as_deref()).await;
    let hosts = client.list_hosts(&HostQuery { token, tenant }).await?;
    if format.json {
        print_json(&hosts)?;
    } else if format.csv {
        let rows: Vec<_> = hosts.iter().map(output::host_csv_row).collect();
        print!("{}", output::csv(&output::HOST_CSV_HEADER, &rows));
    } else if hosts.is_empty() {
        eprintln!("No hosts enrolled.");
    } else {
        let now = Timestamp::now();
        let rows: Vec<_> = hosts.iter().map(|h| output::host_row(h, now)).collect();
        let (header, rows) = tenants::with_column(
            column,
            &output::HOST_HEADER,
            rows,
            hosts.iter().map(|h| h.tenant.clone()),
        );
        print!("{}", output::table(&header, &rows));
    }
    Ok(ExitCode::SUCCESS)
}
