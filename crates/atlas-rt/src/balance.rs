//! Client-side load balancing over every address of a name.
//!
//! On Docker Swarm a service with `endpoint_mode: dnsrr` has no virtual IP:
//! `tasks.<service>` resolves to one A record per running replica. A gRPC
//! client holding one HTTP/2 connection would send everything to the replica
//! it happened to connect to. [`Balanced`] resolves the name itself, keeps one
//! lazily connected endpoint per address and re-resolves every
//! [`Options::refresh`], so replicas that come and go are picked up:
//!
//! - [`Balanced::channel`] is a tonic [`Channel`] built on
//!   [`Channel::balance_channel`]: every request goes to one of the current
//!   addresses, chosen by tower's power-of-two-choices balancer (two random
//!   endpoints, the one with fewer requests pending). Use it for stateless
//!   calls.
//! - [`Balanced::pin`] hands out one address's own channel for a stateful
//!   conversation (a simulator world, a policy session) whose calls must all
//!   reach the same replica; it picks the address with the fewest pins alive,
//!   rotating among equals.
//!
//! Where the addresses come from is a [`Resolve`]: [`Dns`] for names, a fixed
//! list for a literal IP, or any closure returning the current set.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tonic::transport::channel::Change;
use tonic::transport::{Channel, Endpoint};

/// Default pause between two resolutions of a name.
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(3);

/// Environment variable the command lines read the refresh period from
/// (seconds, fractions allowed).
pub const REFRESH_ENV: &str = "ATLAS_RESOLVE_INTERVAL_S";

/// The future a [`Resolve`] returns: the current set of addresses.
pub type ResolveFuture = Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send>>;

/// A source of the addresses behind a target.
///
/// Implemented by [`Dns`], [`Fixed`] and by every
/// `Fn() -> impl Future<Output = io::Result<Vec<SocketAddr>>>` closure, so a
/// caller (a test, a service registry) can change the set at run time.
pub trait Resolve: Send + Sync + 'static {
    /// Resolves the addresses once. An error keeps the last known set.
    fn resolve(&self) -> ResolveFuture;
}

impl<F, Fut> Resolve for F
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'static,
{
    fn resolve(&self) -> ResolveFuture {
        Box::pin(self())
    }
}

/// Resolves a host name through the system resolver
/// ([`tokio::net::lookup_host`]). IPv4 addresses win when there are any,
/// because a name like `localhost` maps to `::1` too while servers commonly
/// listen on `0.0.0.0` or `127.0.0.1` only; IPv6 is used for IPv6-only names.
#[derive(Clone, Debug)]
pub struct Dns {
    host: String,
    port: u16,
}

impl Dns {
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Self {
            host: host.into(),
            port,
        }
    }
}

impl Resolve for Dns {
    fn resolve(&self) -> ResolveFuture {
        let (host, port) = (self.host.clone(), self.port);
        Box::pin(async move {
            let all: BTreeSet<SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
                .await?
                .collect();
            let v4: Vec<SocketAddr> = all.iter().filter(|a| a.is_ipv4()).copied().collect();
            Ok(if v4.is_empty() {
                all.into_iter().collect()
            } else {
                v4
            })
        })
    }
}

/// A set of addresses that never changes (a literal IP address).
#[derive(Clone, Debug)]
pub struct Fixed(pub Vec<SocketAddr>);

impl Resolve for Fixed {
    fn resolve(&self) -> ResolveFuture {
        let addrs = self.0.clone();
        Box::pin(async move { Ok(addrs) })
    }
}

/// Errors of target parsing and resolution.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid address {addr:?}: {message}")]
    InvalidAddress { addr: String, message: String },
    #[error("cannot resolve {target}: {message}")]
    Resolve { target: String, message: String },
    #[error("{target} resolves to no address")]
    NoAddress { target: String },
    #[error("cannot connect to {target}: {message}")]
    Unreachable { target: String, message: String },
}

/// Connection settings of every endpoint, and the re-resolution period.
#[derive(Clone, Debug)]
pub struct Options {
    /// Pause between two resolutions.
    pub refresh: Duration,
    /// Timeout of one TCP connect.
    pub connect_timeout: Duration,
    /// Disable Nagle's algorithm: a control loop sends small messages.
    pub tcp_nodelay: bool,
    /// HTTP/2 keep-alive ping interval (detects dead peers on idle
    /// connections), `None` for none.
    pub keep_alive: Option<Duration>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            refresh: DEFAULT_REFRESH,
            connect_timeout: Duration::from_secs(5),
            tcp_nodelay: true,
            keep_alive: Some(Duration::from_secs(30)),
        }
    }
}

impl Options {
    /// The defaults with another refresh period (a command line's
    /// `--resolve-interval`, parsed by [`parse_refresh`]).
    pub fn with_refresh(refresh: Duration) -> Self {
        Self {
            refresh,
            ..Self::default()
        }
    }

    fn endpoint(&self, scheme: &str, addr: SocketAddr) -> Result<Endpoint, Error> {
        let uri = format!("{scheme}://{addr}");
        let e = Endpoint::from_shared(uri.clone()).map_err(|e| Error::InvalidAddress {
            addr: uri,
            message: e.to_string(),
        })?;
        let e = e
            .connect_timeout(self.connect_timeout)
            .tcp_nodelay(self.tcp_nodelay);
        Ok(match self.keep_alive {
            Some(every) => e.http2_keep_alive_interval(every),
            None => e,
        })
    }
}

/// Parses a refresh period in seconds (`"2"`, `"0.5"`).
pub fn parse_refresh(s: &str) -> Result<Duration, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 3600.0 => Ok(Duration::from_secs_f64(v)),
        _ => Err(format!("{s:?} is not a number of seconds in (0, 3600]")),
    }
}

/// A parsed `host:port` or `scheme://host:port` target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub scheme: String,
    pub host: String,
    pub port: u16,
}

impl Target {
    /// Parses `host:port`, `[v6]:port` or `http://host:port[/]`.
    pub fn parse(addr: &str) -> Result<Self, Error> {
        let invalid = |message: &str| Error::InvalidAddress {
            addr: addr.into(),
            message: message.into(),
        };
        let full = if addr.contains("://") {
            addr.to_string()
        } else {
            format!("http://{addr}")
        };
        let uri: http::Uri = full
            .parse()
            .map_err(|e: http::uri::InvalidUri| invalid(&e.to_string()))?;
        let scheme = uri.scheme_str().unwrap_or("http");
        if scheme != "http" {
            return Err(invalid("only http:// endpoints are supported (no TLS)"));
        }
        if uri.path_and_query().is_some_and(|p| p.as_str() != "/") {
            return Err(invalid("a gRPC endpoint takes no path"));
        }
        let host = uri
            .host()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| invalid("no host"))?;
        let port = uri
            .port_u16()
            .ok_or_else(|| invalid("no port (want host:port)"))?;
        if port == 0 {
            return Err(invalid("port 0"));
        }
        Ok(Self {
            scheme: scheme.into(),
            host: host.trim_start_matches('[').trim_end_matches(']').into(),
            port,
        })
    }

    /// The literal IP address, when the host is one.
    pub fn ip(&self) -> Option<IpAddr> {
        self.host.parse().ok()
    }

    /// The resolver this target calls for: [`Fixed`] for an IP, else [`Dns`].
    pub fn resolver(&self) -> Box<dyn Resolve> {
        match self.ip() {
            Some(ip) => Box::new(Fixed(vec![SocketAddr::new(ip, self.port)])),
            None => Box::new(Dns::new(self.host.clone(), self.port)),
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "{}://[{}]:{}", self.scheme, self.host, self.port)
        } else {
            write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
        }
    }
}

/// The outcome of the resolutions so far.
#[derive(Clone, Debug, Default)]
struct Snapshot {
    /// Resolutions done (successful or not).
    rounds: u64,
    addrs: Vec<SocketAddr>,
    /// The last resolution's error, cleared by a success.
    error: Option<String>,
}

struct Backend {
    channel: Channel,
    pins: Arc<AtomicUsize>,
}

struct Shared {
    target: Target,
    backends: Mutex<HashMap<SocketAddr, Backend>>,
    next: AtomicUsize,
}

/// One target's addresses, kept up to date in the background.
///
/// The background task lives as long as [`Balanced::channel`] (or any clone
/// of this handle) is alive, and stops once the last one is dropped.
#[derive(Clone)]
pub struct Balanced {
    shared: Arc<Shared>,
    options: Options,
    channel: Channel,
    snapshot: watch::Receiver<Snapshot>,
}

impl std::fmt::Debug for Balanced {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Balanced")
            .field("target", &self.shared.target)
            .field("endpoints", &self.endpoints())
            .finish()
    }
}

impl Balanced {
    /// Balances over the addresses of `addr` (`host:port` or
    /// `http://host:port`): DNS for a name, the address itself for an IP.
    /// Must be called inside a tokio runtime; resolution starts at once.
    pub fn new(addr: &str, options: Options) -> Result<Self, Error> {
        let target = Target::parse(addr)?;
        let resolver = target.resolver();
        Ok(Self::start(target, resolver, options))
    }

    /// Balances over whatever `resolver` returns, re-asking it every
    /// `options.refresh`; `target` names the scheme and labels errors.
    pub fn with_resolver(target: Target, resolver: impl Resolve, options: Options) -> Self {
        Self::start(target, Box::new(resolver), options)
    }

    fn start(target: Target, resolver: Box<dyn Resolve>, options: Options) -> Self {
        let (channel, changes) = Channel::balance_channel::<SocketAddr>(64);
        let (tx, snapshot) = watch::channel(Snapshot::default());
        let shared = Arc::new(Shared {
            target,
            backends: Mutex::new(HashMap::new()),
            next: AtomicUsize::new(0),
        });
        tokio::spawn(refresh_loop(
            shared.clone(),
            resolver,
            options.clone(),
            changes,
            tx,
        ));
        Self {
            shared,
            options,
            channel,
            snapshot,
        }
    }

    /// Resolves `addr` and waits for the first resolution: fails when the
    /// address is invalid, the name does not resolve or resolves to nothing.
    pub async fn connect(addr: &str, options: Options) -> Result<Self, Error> {
        let b = Self::new(addr, options)?;
        b.ready().await?;
        Ok(b)
    }

    /// Checks that at least one address accepts an HTTP/2 connection
    /// (trying them in order, each under the connect timeout) and returns
    /// the first that does. The connection is closed again; the balanced
    /// channel makes its own.
    pub async fn reachable(&self) -> Result<SocketAddr, Error> {
        self.ready().await?;
        let mut failures = Vec::new();
        for addr in self.endpoints() {
            let endpoint = self.options.endpoint(&self.shared.target.scheme, addr)?;
            match endpoint.connect().await {
                Ok(_) => return Ok(addr),
                Err(e) => failures.push(format!("{addr}: {}", source_chain(&e))),
            }
        }
        Err(Error::Unreachable {
            target: self.shared.target.to_string(),
            message: failures.join("; "),
        })
    }

    /// The target as parsed.
    pub fn target(&self) -> &Target {
        &self.shared.target
    }

    /// A channel sending each request to one of the current addresses.
    ///
    /// Requests made while no address is known wait until one is.
    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }

    /// The addresses in use, sorted.
    pub fn endpoints(&self) -> Vec<SocketAddr> {
        self.snapshot.borrow().addrs.clone()
    }

    /// Waits for the first resolution; then fails if there is no address.
    pub async fn ready(&self) -> Result<(), Error> {
        let mut rx = self.snapshot.clone();
        let snap = rx
            .wait_for(|s| s.rounds > 0)
            .await
            .map(|s| s.clone())
            .map_err(|_| Error::Resolve {
                target: self.shared.target.to_string(),
                message: "the resolver task stopped".into(),
            })?;
        if !snap.addrs.is_empty() {
            return Ok(());
        }
        Err(match snap.error {
            Some(message) => Error::Resolve {
                target: self.shared.target.to_string(),
                message,
            },
            None => Error::NoAddress {
                target: self.shared.target.to_string(),
            },
        })
    }

    /// One address for a stateful conversation: the one with the fewest
    /// pins alive, rotating among equals. The pin counts until dropped.
    pub async fn pin(&self) -> Result<Pinned, Error> {
        self.ready().await?;
        let backends = self
            .shared
            .backends
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let mut addrs: Vec<&SocketAddr> = backends.keys().collect();
        if addrs.is_empty() {
            return Err(Error::NoAddress {
                target: self.shared.target.to_string(),
            });
        }
        addrs.sort();
        let start = self.shared.next.fetch_add(1, Ordering::Relaxed) % addrs.len();
        let addr = (0..addrs.len())
            .map(|i| addrs[(start + i) % addrs.len()])
            .min_by_key(|a| backends[*a].pins.load(Ordering::Relaxed))
            .copied()
            .expect("addrs is not empty");
        let b = &backends[&addr];
        b.pins.fetch_add(1, Ordering::Relaxed);
        Ok(Pinned {
            addr,
            channel: b.channel.clone(),
            pins: b.pins.clone(),
        })
    }
}

/// One address's channel, counted against it until dropped.
#[derive(Debug)]
pub struct Pinned {
    addr: SocketAddr,
    channel: Channel,
    pins: Arc<AtomicUsize>,
}

impl Pinned {
    /// The address all calls on [`Pinned::channel`] go to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address's channel (one HTTP/2 connection, shared by all pins).
    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        self.pins.fetch_sub(1, Ordering::Relaxed);
    }
}

/// An error and its sources, `: `-separated (transport errors hide the
/// useful part, e.g. "Connection refused", in their source).
fn source_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

async fn refresh_loop(
    shared: Arc<Shared>,
    resolver: Box<dyn Resolve>,
    options: Options,
    changes: mpsc::Sender<Change<SocketAddr, Endpoint>>,
    snapshot: watch::Sender<Snapshot>,
) {
    let target = shared.target.to_string();
    let fixed = shared.target.ip().is_some();
    let mut current: BTreeSet<SocketAddr> = BTreeSet::new();
    let mut rounds = 0u64;
    let mut failing = false;
    loop {
        let outcome = tokio::select! {
            r = resolver.resolve() => r,
            // Every channel is gone: nobody needs the addresses any more.
            () = changes.closed() => return,
        };
        rounds += 1;
        let mut error = None;
        match outcome {
            Ok(list) => {
                if failing {
                    tracing::info!(name = %target, "resolving works again");
                    failing = false;
                }
                let new: BTreeSet<SocketAddr> = list.into_iter().collect();
                if new != current {
                    let added: Vec<SocketAddr> = new.difference(&current).copied().collect();
                    let removed: Vec<SocketAddr> = current.difference(&new).copied().collect();
                    for addr in &removed {
                        shared
                            .backends
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .remove(addr);
                        if changes.send(Change::Remove(*addr)).await.is_err() {
                            return;
                        }
                        current.remove(addr);
                    }
                    for addr in &added {
                        let endpoint = match options.endpoint(&shared.target.scheme, *addr) {
                            Ok(e) => e,
                            Err(e) => {
                                tracing::warn!(name = %target, error = %e, "skipping an address");
                                continue;
                            }
                        };
                        shared
                            .backends
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .insert(
                                *addr,
                                Backend {
                                    channel: endpoint.connect_lazy(),
                                    pins: Arc::new(AtomicUsize::new(0)),
                                },
                            );
                        if changes.send(Change::Insert(*addr, endpoint)).await.is_err() {
                            return;
                        }
                        current.insert(*addr);
                    }
                    tracing::info!(
                        name = %target,
                        endpoints = current.len(),
                        added = ?added,
                        removed = ?removed,
                        "balanced endpoints changed"
                    );
                }
            }
            Err(e) => {
                // Keep the last known set: a resolver hiccup must not empty
                // the balancer (requests to a vanished replica fail clearly,
                // an empty balancer would make them wait).
                if !failing {
                    tracing::warn!(name = %target, error = %e, "cannot resolve; keeping the last addresses");
                    failing = true;
                }
                error = Some(e.to_string());
            }
        }
        snapshot.send_replace(Snapshot {
            rounds,
            addrs: current.iter().copied().collect(),
            error,
        });
        if fixed {
            changes.closed().await;
            return;
        }
        tokio::select! {
            () = tokio::time::sleep(options.refresh) => {}
            () = changes.closed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_targets() {
        let t = Target::parse("tasks.scenario:50053").unwrap();
        assert_eq!(
            (t.scheme.as_str(), t.host.as_str(), t.port),
            ("http", "tasks.scenario", 50053)
        );
        assert!(t.ip().is_none());
        let t = Target::parse("http://127.0.0.1:50052/").unwrap();
        assert_eq!(t.ip(), Some("127.0.0.1".parse().unwrap()));
        let t = Target::parse("[::1]:7").unwrap();
        assert_eq!(t.host, "::1");
        assert_eq!(t.to_string(), "http://[::1]:7");
    }

    #[test]
    fn rejects_bad_targets() {
        for bad in [
            "scenario",
            "http://scenario",
            "https://scenario:443",
            "scenario:0",
            "scenario:99999",
            "http://scenario:1/path",
            "",
            "a b:1",
        ] {
            let e = Target::parse(bad).unwrap_err();
            assert!(matches!(e, Error::InvalidAddress { .. }), "{bad:?}: {e}");
        }
    }

    #[test]
    fn refresh_periods() {
        assert_eq!(parse_refresh("2").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_refresh("0.25").unwrap(), Duration::from_millis(250));
        for bad in ["0", "-1", "x", "inf", "NaN", "5000"] {
            assert!(parse_refresh(bad).is_err(), "{bad}");
        }
    }
}
