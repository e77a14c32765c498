//! What the CLI sends for a Leaderboard route file: `atlas run` and `atlas
//! suite run` against a scenario runtime that records each request and
//! answers it with a record. Each of the three routes' requests carries its
//! own route alone (one `<route>`, at the line it has in the file), not the
//! whole file.

mod common;

use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use atlas_proto::scenario as pb;
use atlas_proto::scenario::scenario_runner_server::{ScenarioRunner, ScenarioRunnerServer};
use tonic::{Request, Response, Status};

const THREE: &str = r#"<?xml version="1.0"?>
<routes>
  <route id="0" town="Town01">
    <waypoint x="1.0" y="2.0" z="0"/><waypoint x="90.0" y="2.0" z="0"/>
  </route>
  <route id="1" town="Town01">
    <weather cloudiness="10"/>
    <waypoint x="1.0" y="6.0" z="0"/><waypoint x="90.0" y="6.0" z="0"/>
  </route>
  <route id="2" town="Town02">
    <waypoints><position x="1.0" y="9.0" z="0"/><position x="90.0" y="9.0" z="0"/></waypoints>
  </route>
</routes>
"#;

/// A runtime that keeps every request and finishes each run at once.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<pb::RunScenarioRequest>>>);

type Events = Pin<Box<dyn tokio_stream::Stream<Item = Result<pb::RunEvent, Status>> + Send>>;

#[tonic::async_trait]
impl ScenarioRunner for Recorder {
    type RunScenarioStream = Events;

    async fn run_scenario(
        &self,
        request: Request<pb::RunScenarioRequest>,
    ) -> Result<Response<Events>, Status> {
        let req = request.into_inner();
        let route_id = req.options.clone().unwrap_or_default().route_id;
        let record = pb::RouteRecord {
            index: req.index,
            route_id: format!("route_{route_id}"),
            status: "Completed".into(),
            scores: Some(pb::Scores {
                score_route: 100.0,
                score_penalty: 1.0,
                score_composed: 100.0,
            }),
            map: "Town01".into(),
            ..Default::default()
        };
        self.0.lock().unwrap().push(req);
        let finished = pb::RunEvent {
            kind: Some(pb::run_event::Kind::Finished(pb::Finished {
                record: Some(record),
                trace: None,
            })),
        };
        Ok(Response::new(Box::pin(tokio_stream::iter([Ok(finished)]))))
    }

    async fn list_scenarios(
        &self,
        _: Request<pb::ListScenariosRequest>,
    ) -> Result<Response<pb::ListScenariosResponse>, Status> {
        Ok(Response::new(pb::ListScenariosResponse::default()))
    }
}

/// Checks that `requests` are the three routes of `file`, each alone.
fn each_carries_its_own_route(requests: &[pb::RunScenarioRequest], file: &Path) {
    let whole = atlas_scenario_format::routes::parse(THREE, "three.xml").unwrap();
    let mut seen: Vec<String> = Vec::new();
    for req in requests {
        let Some(pb::run_scenario_request::Scenario::Source(src)) = &req.scenario else {
            panic!("a route file is sent as a source: {req:?}");
        };
        let route_id = &req.options.as_ref().unwrap().route_id;
        assert_eq!(src.file_name, file.display().to_string());
        assert_ne!(
            src.content, THREE,
            "route {route_id} was sent the whole file"
        );
        assert_eq!(src.content.matches("<route ").count(), 1, "{}", src.content);
        let sent = atlas_scenario_format::Sent {
            file: &src.file_name,
            text: &src.content,
            files: &[],
            first_line: src.first_line,
        };
        let Ok(atlas_scenario_format::ScenarioSource::Routes(one)) =
            atlas_scenario_format::read(&sent, Default::default())
        else {
            panic!(
                "route {route_id}: the request is no route file: {}",
                src.content
            );
        };
        assert_eq!(one.routes.len(), 1);
        let route = &one.routes[0];
        assert_eq!(&route.id, route_id);
        // The route as the whole file has it, at the same line.
        let original = whole.route(route_id).unwrap();
        assert_eq!(route.line, original.line);
        assert_eq!(route.positions, original.positions);
        assert_eq!(route.weathers, original.weathers);
        seen.push(route_id.clone());
    }
    seen.sort();
    assert_eq!(seen, ["0", "1", "2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_route_of_a_route_file_is_sent_alone() {
    let recorder = Recorder::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(ScenarioRunnerServer::new(recorder.clone()))
            .serve_with_incoming_shutdown(
                tokio_stream::wrappers::TcpListenerStream::new(listener),
                async {
                    let _ = stopped.await;
                },
            ),
    );

    let dir = tempfile::tempdir().unwrap();
    let routes = dir.path().join("three.xml");
    std::fs::write(&routes, THREE).unwrap();
    let suite = dir.path().join("three.toml");
    std::fs::write(
        &suite,
        "name = \"three\"\nroutes = [\"three.xml\"]\n\n[policies]\nruntime = \"default\"\n",
    )
    .unwrap();
    let addr = addr.to_string();
    let results = dir.path().join("results.json");
    let out = dir.path().join("out");
    let (run, suite_run) = tokio::task::spawn_blocking({
        let (routes, suite, results, out) = (
            routes.display().to_string(),
            suite.display().to_string(),
            results.display().to_string(),
            out.display().to_string(),
        );
        move || {
            let run = common::atlas(&[
                "run",
                &routes,
                "--scenario-addr",
                &addr,
                "--results",
                &results,
            ]);
            let suite_run = common::atlas(&[
                "suite",
                "run",
                &suite,
                "--scenario-addr",
                &addr,
                "--out",
                &out,
                "--quiet",
            ]);
            (run, suite_run)
        }
    })
    .await
    .unwrap();
    common::ok(&run);
    common::ok(&suite_run);

    let requests = recorder.0.lock().unwrap().clone();
    assert_eq!(
        requests.len(),
        6,
        "three runs of `atlas run`, three of the suite"
    );
    each_carries_its_own_route(&requests[..3], &routes);
    each_carries_its_own_route(&requests[3..], &routes);
    let doc = common::json(&results);
    assert_eq!(doc["_checkpoint"]["records"].as_array().unwrap().len(), 3);

    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
