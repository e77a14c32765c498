//! One scenario run is one trace across the three services: each service,
//! started as its own process with `OTEL_EXPORTER_OTLP_ENDPOINT`, exports its
//! spans over OTLP to a collector in this test, and they share a trace id.

mod common;

use common::{Service, free_port};

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};

const ATLAS: &str = env!("CARGO_BIN_EXE_atlas");
const PROBE: &str = env!("CARGO_BIN_EXE_atlas-probe");

/// (service.name, trace id, span name) of one received span.
type SpanRow = (String, Vec<u8>, String);

#[derive(Clone, Default)]
struct Collector {
    spans: Arc<Mutex<Vec<SpanRow>>>,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut out = self.spans.lock().unwrap();
        for rs in request.into_inner().resource_spans {
            let service = rs
                .resource
                .iter()
                .flat_map(|r| &r.attributes)
                .find(|kv| kv.key == "service.name")
                .and_then(|kv| kv.value.as_ref())
                .and_then(|v| match &v.value {
                    Some(
                        opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(s),
                    ) => Some(s.clone()),
                    _ => None,
                })
                .unwrap_or_default();
            for ss in rs.scope_spans {
                for span in ss.spans {
                    out.push((service.clone(), span.trace_id, span.name));
                }
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_is_one_trace_across_the_three_services() {
    let collector = Collector::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let otlp = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(collector.clone()))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );

    let (pb, pv, ps) = (free_port(), free_port(), free_port());
    let start = |args: Vec<String>| {
        Service(
            Command::new(ATLAS)
                .args(args)
                .current_dir(common::repo())
                .env("OTEL_EXPORTER_OTLP_ENDPOINT", &otlp)
                .env("OTEL_BSP_SCHEDULE_DELAY", "200")
                .env("RUST_LOG", "warn")
                .stdout(Stdio::null())
                .spawn()
                .unwrap(),
        )
    };
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let mut services = [
        start(s(&[
            "serve",
            "bridge",
            "--listen",
            &format!("127.0.0.1:{pb}"),
        ])),
        start(s(&["serve", "vla", "--listen", &format!("127.0.0.1:{pv}")])),
        start(s(&[
            "serve",
            "scenario",
            "--listen",
            &format!("127.0.0.1:{ps}"),
            "--bridge-addr",
            &format!("http://127.0.0.1:{pb}"),
            "--driver-addr",
            &format!("http://127.0.0.1:{pv}"),
        ])),
    ];
    let deadline = Instant::now() + Duration::from_secs(120);
    for port in [pb, pv, ps] {
        loop {
            let st = Command::new(PROBE)
                .args(["-addr", &format!("127.0.0.1:{port}")])
                .output()
                .unwrap()
                .status;
            if st.success() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "port {port} never became healthy"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results.json");
    let out = tokio::process::Command::new(ATLAS)
        .current_dir(common::repo())
        .args([
            "run",
            "--scenario-addr",
            &format!("127.0.0.1:{ps}"),
            "--results",
            results.to_str().unwrap(),
            "scenarios/town01_right_turn.toml",
        ])
        .env("RUST_LOG", "warn")
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // SIGTERM flushes each exporter on the way out.
    for svc in services.iter_mut() {
        let pid = svc.0.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    }
    for svc in services.iter_mut() {
        let st = tokio::task::block_in_place(|| svc.0.wait().unwrap());
        assert!(st.success(), "{st:?}");
    }

    let spans = collector.spans.lock().unwrap().clone();
    server.abort();
    let mut by_trace: BTreeMap<Vec<u8>, BTreeSet<String>> = BTreeMap::new();
    for (service, trace, _) in &spans {
        by_trace
            .entry(trace.clone())
            .or_default()
            .insert(service.clone());
    }
    let want: BTreeSet<String> = ["atlas-bridge", "atlas-vla", "atlas-scenario"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert!(
        by_trace.values().any(|s| want.is_subset(s)),
        "no trace spans all three services; services per trace: {:?}",
        by_trace.values().collect::<Vec<_>>()
    );
}
