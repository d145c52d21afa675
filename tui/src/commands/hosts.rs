//! `gatepass hosts list`.

use std::process::ExitCode;

use gatepass_protocol::client::Client;
use gatepass_protocol::{HostQuery, Timestamp};

use super::print_json;
use crate::cli::Hosts;
use crate::output;

pub async fn run(client: &Client, cmd: Hosts) -> anyhow::Result<ExitCode> {
    let Hosts::List { token, format } = cmd;
    let hosts = client.list_hosts(&HostQuery { token }).await?;
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
        print!("{}", output::table(&output::HOST_HEADER, &rows));
    }
    Ok(ExitCode::SUCCESS)
}
