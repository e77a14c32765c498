//! A gRPC health probe that takes `grpc_health_probe`'s flags and exit
//! codes, so container images need no external tool.
//!
//! Flags (Go style, one or two dashes, `-flag value` or `-flag=value`):
//! `-addr` (required; `:50051` means localhost), `-service`,
//! `-connect-timeout` and `-rpc-timeout` (Go durations: `1s`, `500ms`, `1m`),
//! `-user-agent`, `-v`. Exit codes: 0 serving, 1 bad arguments,
//! 2 connection failure, 3 RPC failure, 4 not serving.

use std::time::Duration;

use tonic::transport::Endpoint;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

pub const EXIT_SERVING: i32 = 0;
pub const EXIT_BAD_ARGUMENTS: i32 = 1;
pub const EXIT_CONNECTION_FAILURE: i32 = 2;
pub const EXIT_RPC_FAILURE: i32 = 3;
pub const EXIT_UNHEALTHY: i32 = 4;

/// Parsed probe flags.
#[derive(Clone, Debug, PartialEq)]
pub struct ProbeArgs {
    pub addr: String,
    pub service: String,
    pub connect_timeout: Duration,
    pub rpc_timeout: Duration,
    pub user_agent: String,
    pub verbose: bool,
}

/// Parses a Go duration such as `1s`, `1.5s`, `300ms`, `2m`, `1m30s`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("invalid duration {s:?}");
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    let mut total = 0.0f64;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let value: f64 = rest[..num_len].parse().map_err(|_| bad())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += value * scale;
        rest = &rest[unit_len..];
    }
    Ok(Duration::from_secs_f64(total))
}

/// Parses the probe's arguments (without the program name).
pub fn parse_args<I: IntoIterator<Item = String>>(args: I) -> Result<ProbeArgs, String> {
    let mut out = ProbeArgs {
        addr: String::new(),
        service: String::new(),
        connect_timeout: Duration::from_secs(1),
        rpc_timeout: Duration::from_secs(1),
        user_agent: "grpc_health_probe".into(),
        verbose: false,
    };
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        let Some(flag) = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) else {
            return Err(format!("unexpected argument {arg:?}"));
        };
        let (name, inline) = match flag.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (flag, None),
        };
        if name == "v" {
            out.verbose = inline.is_none_or(|v| v != "false");
            continue;
        }
        if name == "h" || name == "help" {
            return Err(USAGE.into());
        }
        let value = match inline {
            Some(v) => v,
            None => it
                .next()
                .ok_or_else(|| format!("flag needs an argument: -{name}"))?,
        };
        match name {
            "addr" => out.addr = value,
            "service" => out.service = value,
            "connect-timeout" => out.connect_timeout = parse_duration(&value)?,
            "rpc-timeout" => out.rpc_timeout = parse_duration(&value)?,
            "user-agent" => out.user_agent = value,
            "tls" | "tls-ca-cert" | "tls-client-cert" | "tls-client-key" | "tls-no-verify"
            | "tls-server-name" | "spiffe" | "alts" | "gzip" => {
                return Err(format!("-{name} is not supported by this probe"));
            }
            _ => return Err(format!("flag provided but not defined: -{name}")),
        }
    }
    if out.addr.is_empty() {
        return Err("-addr not specified".into());
    }
    if out.connect_timeout.is_zero() {
        return Err("-connect-timeout must be greater than zero".into());
    }
    if out.rpc_timeout.is_zero() {
        return Err("-rpc-timeout must be greater than zero".into());
    }
    Ok(out)
}

pub const USAGE: &str = "usage: atlas-probe -addr HOST:PORT [-service NAME] \
[-connect-timeout 1s] [-rpc-timeout 1s] [-user-agent UA] [-v]";

/// Checks the health of `args.service` at `args.addr`; returns the exit code
/// and the line to print.
pub async fn probe(args: &ProbeArgs) -> (i32, String) {
    let addr = if args.addr.starts_with(':') {
        format!("127.0.0.1{}", args.addr)
    } else {
        args.addr.clone()
    };
    let uri = if addr.contains("://") {
        addr.clone()
    } else {
        format!("http://{addr}")
    };
    let endpoint = match Endpoint::from_shared(uri) {
        Ok(e) => e
            .connect_timeout(args.connect_timeout)
            .user_agent(args.user_agent.clone()),
        Err(e) => {
            return (
                EXIT_BAD_ARGUMENTS,
                format!("invalid -addr {:?}: {e}", args.addr),
            );
        }
    };
    let endpoint = match endpoint {
        Ok(e) => e,
        Err(e) => return (EXIT_BAD_ARGUMENTS, format!("invalid -user-agent: {e}")),
    };
    let channel = match tokio::time::timeout(args.connect_timeout, endpoint.connect()).await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => {
            return (
                EXIT_CONNECTION_FAILURE,
                format!("error: failed to connect service at {:?}: {e}", args.addr),
            );
        }
        Err(_) => {
            return (
                EXIT_CONNECTION_FAILURE,
                format!(
                    "timeout: failed to connect service {:?} within {:?}",
                    args.addr, args.connect_timeout
                ),
            );
        }
    };
    let mut client = HealthClient::new(channel);
    let request = HealthCheckRequest {
        service: args.service.clone(),
    };
    let reply = match tokio::time::timeout(args.rpc_timeout, client.check(request)).await {
        Ok(Ok(r)) => r.into_inner(),
        Ok(Err(status)) => {
            return (
                EXIT_RPC_FAILURE,
                format!(
                    "error: health rpc failed: rpc error: code = {:?} desc = {}",
                    status.code(),
                    status.message()
                ),
            );
        }
        Err(_) => {
            return (
                EXIT_RPC_FAILURE,
                format!(
                    "timeout: health rpc did not complete within {:?}",
                    args.rpc_timeout
                ),
            );
        }
    };
    let status = ServingStatus::try_from(reply.status).unwrap_or(ServingStatus::Unknown);
    if status == ServingStatus::Serving {
        (EXIT_SERVING, "status: SERVING".into())
    } else {
        (
            EXIT_UNHEALTHY,
            format!(
                "service unhealthy (responded with {:?})",
                status.as_str_name()
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Result<ProbeArgs, String> {
        parse_args(v.iter().map(|s| s.to_string()))
    }

    #[test]
    fn go_style_flags() {
        let a = args(&[
            "-addr=:50051",
            "-service",
            "egodriver.EgodriverService",
            "--rpc-timeout=2s",
        ])
        .unwrap();
        assert_eq!(a.addr, ":50051");
        assert_eq!(a.service, "egodriver.EgodriverService");
        assert_eq!(a.rpc_timeout, Duration::from_secs(2));
        assert_eq!(a.connect_timeout, Duration::from_secs(1));
    }

    #[test]
    fn bad_arguments() {
        assert!(args(&[]).is_err());
        assert!(args(&["-addr"]).is_err());
        assert!(args(&["-addr=:1", "-bogus=1"]).is_err());
        assert!(args(&["-addr=:1", "-connect-timeout=soon"]).is_err());
        assert!(args(&["-addr=:1", "-tls"]).is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("").is_err());
    }
}
