//! Balancing over real gRPC servers: requests spread over every address,
//! follow the address set as it changes, and names resolve through real DNS.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use atlas_rt::balance::{Balanced, Dns, Error, Options, Resolve, Target};
use tonic::transport::Channel;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

/// A real gRPC health server on a loopback port that counts the requests it
/// served.
struct Server {
    addr: SocketAddr,
    hits: Arc<AtomicUsize>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Server {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let (reporter, health) = tonic_health::server::health_reporter();
        reporter
            .set_service_status("", tonic_health::ServingStatus::Serving)
            .await;
        let counter = hits.clone();
        let svc = tonic::service::interceptor::InterceptedService::new(
            health,
            move |req: tonic::Request<()>| {
                counter.fetch_add(1, Ordering::SeqCst);
                Ok(req)
            },
        );
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _reporter = reporter;
            tonic::transport::Server::builder()
                .add_service(svc)
                .serve_with_incoming_shutdown(
                    tokio_stream::wrappers::TcpListenerStream::new(listener),
                    async {
                        let _ = stopped.await;
                    },
                )
                .await
                .unwrap();
        });
        Self {
            addr,
            hits,
            _stop: stop,
        }
    }

    fn take(&self) -> usize {
        self.hits.swap(0, Ordering::SeqCst)
    }
}

async fn check(ch: Channel) {
    let reply = tokio::time::timeout(
        Duration::from_secs(10),
        HealthClient::new(ch).check(HealthCheckRequest {
            service: String::new(),
        }),
    )
    .await
    .expect("the health check answers within 10 s")
    .expect("the health check succeeds");
    assert_eq!(reply.get_ref().status, ServingStatus::Serving as i32);
}

/// Sends `n` requests, `parallel` at a time, through `ch`.
async fn send(ch: &Channel, n: usize, parallel: usize) {
    for _ in 0..n / parallel {
        let calls: Vec<_> = (0..parallel)
            .map(|_| tokio::spawn(check(ch.clone())))
            .collect();
        for c in calls {
            c.await.unwrap();
        }
    }
}

async fn wait_endpoints(b: &Balanced, want: &[SocketAddr]) {
    let mut want = want.to_vec();
    want.sort();
    let deadline = Instant::now() + Duration::from_secs(10);
    while b.endpoints() != want {
        assert!(
            Instant::now() < deadline,
            "endpoints {:?}, want {want:?}",
            b.endpoints()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn quick() -> Options {
    Options {
        refresh: Duration::from_millis(100),
        ..Options::default()
    }
}

/// A resolver whose answer the test sets.
fn settable(initial: Vec<SocketAddr>) -> (Arc<Mutex<Vec<SocketAddr>>>, impl Resolve) {
    let set = Arc::new(Mutex::new(initial));
    let s = set.clone();
    let resolver = move || {
        let addrs = s.lock().unwrap().clone();
        async move { Ok::<_, std::io::Error>(addrs) }
    };
    (set, resolver)
}

fn target() -> Target {
    Target::parse("tasks.scenario:50053").unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_spread_over_every_address_and_follow_changes() {
    let servers = [
        Server::start().await,
        Server::start().await,
        Server::start().await,
        Server::start().await,
    ];
    let addrs: Vec<SocketAddr> = servers.iter().map(|s| s.addr).collect();
    let (set, resolver) = settable(addrs[..3].to_vec());
    let b = Balanced::with_resolver(target(), resolver, quick());
    b.ready().await.unwrap();
    wait_endpoints(&b, &addrs[..3]).await;

    // 90 requests over 3 servers: a server left out by chance has
    // probability 3 * (2/3)^90, about 4e-16.
    send(&b.channel(), 90, 3).await;
    let hits: Vec<usize> = servers.iter().map(Server::take).collect();
    assert_eq!(hits.iter().sum::<usize>(), 90, "{hits:?}");
    assert!(
        hits[..3].iter().all(|&h| h > 0),
        "every server serves: {hits:?}"
    );
    assert_eq!(hits[3], 0, "the 4th server is not in the set: {hits:?}");

    // Replace the first server with the fourth: traffic moves.
    *set.lock().unwrap() = addrs[1..].to_vec();
    wait_endpoints(&b, &addrs[1..]).await;
    send(&b.channel(), 90, 3).await;
    let hits: Vec<usize> = servers.iter().map(Server::take).collect();
    assert_eq!(hits[0], 0, "the removed server gets nothing: {hits:?}");
    assert!(
        hits[1..].iter().all(|&h| h > 0),
        "every server serves: {hits:?}"
    );
    assert_eq!(hits.iter().sum::<usize>(), 90, "{hits:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pins_go_to_the_least_pinned_address_and_stay_there() {
    let servers = [
        Server::start().await,
        Server::start().await,
        Server::start().await,
    ];
    let addrs: Vec<SocketAddr> = servers.iter().map(|s| s.addr).collect();
    let (set, resolver) = settable(addrs.clone());
    let b = Balanced::with_resolver(target(), resolver, quick());

    // Three pins alive at once take the three addresses.
    let pins = [
        b.pin().await.unwrap(),
        b.pin().await.unwrap(),
        b.pin().await.unwrap(),
    ];
    let pinned: BTreeSet<SocketAddr> = pins.iter().map(|p| p.addr()).collect();
    assert_eq!(pinned, addrs.iter().copied().collect());

    // Every call on a pin reaches its address only.
    for p in &pins {
        for _ in 0..5 {
            check(p.channel()).await;
        }
        let s = servers.iter().find(|s| s.addr == p.addr()).unwrap();
        assert_eq!(s.take(), 5);
    }

    // With one pin dropped, the next pin takes the freed address.
    let freed = pins[1].addr();
    let [a, dropped, c] = pins;
    drop(dropped);
    let again = b.pin().await.unwrap();
    assert_eq!(again.addr(), freed);
    drop((a, c, again));

    // An address that vanished is never pinned again.
    *set.lock().unwrap() = vec![addrs[2]];
    wait_endpoints(&b, &addrs[2..]).await;
    for _ in 0..6 {
        assert_eq!(b.pin().await.unwrap().addr(), addrs[2]);
    }

    // No address at all: a clear error, not a wait.
    set.lock().unwrap().clear();
    wait_endpoints(&b, &[]).await;
    let e = b.pin().await.unwrap_err();
    assert!(matches!(e, Error::NoAddress { .. }), "{e}");
    assert!(e.to_string().contains("tasks.scenario:50053"), "{e}");
}

#[tokio::test]
async fn resolves_localhost_through_dns() {
    let server = Server::start().await;
    let port = server.addr.port();
    let found = Dns::new("localhost", port).resolve().await.unwrap();
    assert!(found.contains(&server.addr), "localhost -> {found:?}");
    assert!(
        found.iter().all(|a| a.is_ipv4()),
        "IPv4 preferred: {found:?}"
    );

    let b = Balanced::connect(&format!("localhost:{port}"), Options::default())
        .await
        .unwrap();
    assert_eq!(b.endpoints(), found);
    send(&b.channel(), 4, 2).await;
    assert_eq!(server.take(), 4);
}

#[tokio::test]
async fn literal_ip_and_uri_forms_work() {
    let server = Server::start().await;
    for addr in [server.addr.to_string(), format!("http://{}/", server.addr)] {
        let b = Balanced::connect(&addr, Options::default()).await.unwrap();
        assert_eq!(b.endpoints(), vec![server.addr]);
        check(b.channel()).await;
        check(b.pin().await.unwrap().channel()).await;
        assert_eq!(b.reachable().await.unwrap(), server.addr);
    }
    assert_eq!(server.take(), 4);
}

#[tokio::test]
async fn bad_targets_fail_clearly() {
    let e = Balanced::connect("scenario", Options::default())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no port"), "{e}");

    // RFC 6761: .invalid never resolves.
    let e = Balanced::connect("no-such-replica.invalid:50053", Options::default())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Resolve { .. }), "{e}");
    assert!(e.to_string().contains("no-such-replica.invalid"), "{e}");

    // A closed port: resolvable but unreachable, said so with the reason.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let b = Balanced::connect(&closed.to_string(), Options::default())
        .await
        .unwrap();
    let e = b.reachable().await.unwrap_err();
    assert!(matches!(e, Error::Unreachable { .. }), "{e}");
    assert!(e.to_string().contains(&closed.to_string()), "{e}");

    let (_set, resolver) = settable(Vec::new());
    let b = Balanced::with_resolver(target(), resolver, quick());
    let e = b.ready().await.unwrap_err();
    assert!(matches!(e, Error::NoAddress { .. }), "{e}");
}
