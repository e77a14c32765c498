//! `grpc.health.v1` through tonic-health, NOT_SERVING until the service says so.

use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

/// The health service to add to a router, and a handle that flips the status
/// of the whole server (`""`) and of the named gRPC services together.
#[derive(Clone)]
pub struct Health {
    reporter: HealthReporter,
    services: Vec<String>,
}

impl Health {
    /// Creates the health service with every name in `services` (and `""`)
    /// reporting NOT_SERVING.
    pub async fn new(
        services: &[&str],
    ) -> (
        Self,
        tonic_health::pb::health_server::HealthServer<impl tonic_health::pb::health_server::Health>,
    ) {
        let (reporter, service) = tonic_health::server::health_reporter();
        let health = Self {
            reporter,
            services: services.iter().map(|s| s.to_string()).collect(),
        };
        health.set(false).await;
        (health, service)
    }

    /// Sets every registered name to SERVING (`true`) or NOT_SERVING.
    pub async fn set(&self, serving: bool) {
        let status = if serving {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        self.reporter.set_service_status("", status).await;
        for s in &self.services {
            self.reporter.set_service_status(s, status).await;
        }
    }
}

#[cfg(test)]
impl Health {
    /// The health service over the same statuses, to ask without a server.
    pub(crate) fn service(&self) -> tonic_health::server::HealthService {
        tonic_health::server::HealthService::from_health_reporter(self.reporter.clone())
    }
}
