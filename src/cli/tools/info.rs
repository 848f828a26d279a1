//! What caproto-info does once its arguments are parsed: connect every PV,
//! collect what the server told us (and, if asked, one metadata reading),
//! and print cainfo's block or a JSON line per PV.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};

use crate::cli::args::info::{InfoArgs, InfoFormat};
use crate::cli::output::info::{cainfo_text, json_error, json_text, PvInfo};
use crate::cli::tools::backend::{Backend, ToolError};
use crate::cli::tools::client_backend::ClientBackend;
use crate::cli::tools::get::{EXIT_FAILED, EXIT_OK};
use crate::proto::dbr::DbrType;

/// The first name `hosts` (text in `/etc/hosts` format) gives `ip`.
pub fn hosts_name(ip: IpAddr, hosts: &str) -> Option<String> {
    hosts.lines().find_map(|line| {
        let line = line.split('#').next().unwrap_or("");
        let mut words = line.split_whitespace();
        let addr: IpAddr = words.next()?.parse().ok()?;
        if addr == ip {
            words.next().map(str::to_owned)
        } else {
            None
        }
    })
}

/// cainfo's `Host:` text: the server's host name from `/etc/hosts` where it
/// has one (cainfo asks the resolver; no DNS query is made here), else its
/// address, then `:port`.
pub fn host_text(server: SocketAddr) -> String {
    let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    let host = hosts_name(server.ip(), &hosts).unwrap_or_else(|| server.ip().to_string());
    format!("{host}:{}", server.port())
}

/// Inspect every PV and print, in the order given. Failures go to `err`
/// (and, with `--format json`, as an object with an `error` field); the
/// exit status is 1 if any PV could not be inspected.
pub async fn run_info(
    args: &InfoArgs,
    backend: &ClientBackend,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    let timeout = args.channel.timeout();
    let channels = backend.connect(&args.pv_names, timeout).await;
    let mut status = EXIT_OK;
    for (pv, ch) in args.pv_names.iter().zip(channels) {
        let result = async {
            let ch = ch?;
            let info = ch
                .info()
                .ok_or_else(|| ToolError::Disconnected { pv: pv.clone() })?;
            let meta = match args.class() {
                Some(class) => {
                    let t = DbrType::Value(class.dbr_class(), info.native_type);
                    let reading = backend.get(&ch, t, Some(1), timeout).await?;
                    Some((t, reading.reading.meta))
                }
                None => None,
            };
            Ok::<_, ToolError>(PvInfo {
                name: pv.clone(),
                host: host_text(info.server),
                server: info.server,
                access: info.access_rights,
                native: info.native_type,
                count: info.count,
                meta,
            })
        }
        .await;
        let written = match (&result, args.format) {
            (Ok(info), InfoFormat::Cainfo) => out.write_all(cainfo_text(info).as_bytes()),
            (Ok(info), InfoFormat::Json) => writeln!(out, "{}", json_text(info)),
            (Err(e), InfoFormat::Json) => {
                let state = match e {
                    ToolError::NotFound { .. } => "not found",
                    ToolError::Disconnected { .. } => "disconnected",
                    _ => "connected",
                };
                writeln!(out, "{}", json_error(pv, state, &e.to_string()))
            }
            (Err(_), InfoFormat::Cainfo) => Ok(()),
        };
        if let Err(e) = result {
            let _ = writeln!(err, "{e}");
            status = EXIT_FAILED;
        }
        if written.is_err() {
            return status; // stdout closed (e.g. piped into head)
        }
    }
    let _ = out.flush();
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_come_from_the_hosts_file() {
        let hosts = "# comment\n127.0.0.1 localhost runsc\n10.0.0.2\tioc2 ioc2.lab # x\n";
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            hosts_name(ip("127.0.0.1"), hosts).as_deref(),
            Some("localhost")
        );
        assert_eq!(hosts_name(ip("10.0.0.2"), hosts).as_deref(), Some("ioc2"));
        assert_eq!(hosts_name(ip("10.0.0.3"), hosts), None);
    }
}
