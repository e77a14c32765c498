//! Carrying out one run against a set of scenario replicas: replica choice,
//! per-attempt deadlines with a hedged second attempt, retries with
//! exponential back-off and jitter, and the server's `retry-after-ms` hint.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use atlas_proto::reason::{self, Reason};
use atlas_proto::scenario as pb;
use atlas_proto::scenario::scenario_runner_client::ScenarioRunnerClient;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tonic::Code;
use tonic::transport::Channel;

use super::manifest::Attempt;
use crate::client::{Finished, StreamError, stream_run};

type Client = ScenarioRunnerClient<Channel>;

/// Metadata key a server may set on a retryable status: milliseconds to
/// wait (`grpc-retry-pushback-ms` is read too).
pub use atlas_rt::retry::RETRY_AFTER_KEY;

/// Retry and deadline policy of a suite.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    /// An attempt still running after this long gets a hedged second
    /// attempt on another replica; after twice this long it is abandoned.
    pub deadline: Duration,
    pub base_backoff: Duration,
    pub max_backoff: Duration,
}

impl RetryPolicy {
    /// Back-off before attempt `n` (2, 3, ...): exponential with jitter in
    /// [d/2, d]; with the server's hint, within [hint, 2 × hint] (a hint is
    /// when the server expects to do better: never earlier, and not much
    /// later either, so a bridge or policy back after a restart is used
    /// within a hint or two instead of after a long exponential wait).
    pub fn backoff(&self, n: u32, hint: Option<Duration>) -> Duration {
        let exp = n.saturating_sub(2).min(16);
        let d = self
            .base_backoff
            .saturating_mul(1u32 << exp)
            .min(self.max_backoff)
            .mul_f64(0.5 + 0.5 * fastrand::f64());
        match hint {
            Some(h) => {
                let h = h.min(Duration::from_secs(300));
                d.clamp(h, h.saturating_mul(2))
            }
            None => d,
        }
    }
}

/// The scenario runtimes a suite spreads its runs over.
pub struct Replicas {
    addrs: Vec<String>,
    refresh: Duration,
    clients: tokio::sync::Mutex<Vec<Option<Client>>>,
    down_until: Mutex<Vec<Option<Instant>>>,
    next: AtomicUsize,
}

impl Replicas {
    /// The runtimes at `addrs`, each name re-resolved every `refresh`.
    pub fn new(addrs: Vec<String>, refresh: Duration) -> Self {
        let n = addrs.len();
        Self {
            addrs,
            refresh,
            clients: tokio::sync::Mutex::new(vec![None; n]),
            down_until: Mutex::new(vec![None; n]),
            next: AtomicUsize::new(0),
        }
    }

    pub fn addrs(&self) -> &[String] {
        &self.addrs
    }

    /// The next replica, round robin, skipping replicas marked down unless all are.
    fn pick(&self, avoid: Option<usize>) -> usize {
        let n = self.addrs.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        let down = self.down_until.lock().unwrap();
        let up = |i: usize| down[i].is_none_or(|t| t <= now);
        (0..n)
            .map(|k| (start + k) % n)
            .find(|&i| up(i) && (n == 1 || Some(i) != avoid))
            .or_else(|| (0..n).map(|k| (start + k) % n).find(|&i| up(i)))
            .unwrap_or(start % n)
    }

    fn mark_down(&self, i: usize, for_: Duration) {
        self.down_until.lock().unwrap()[i] = Some(Instant::now() + for_);
    }

    async fn client(&self, i: usize) -> Result<Client, Failure> {
        if let Some(c) = self.clients.lock().await[i].clone() {
            return Ok(c);
        }
        let addr = &self.addrs[i];
        let c = tokio::time::timeout(
            Duration::from_secs(5),
            crate::client::connect_with(addr, self.refresh),
        )
        .await
        .map_err(|_| Failure::new(Code::Unavailable, format!("connecting to {addr} timed out")))?
        .map_err(|e| Failure::new(Code::Unavailable, format!("{e:#}")))?;
        self.clients.lock().await[i] = Some(c.clone());
        Ok(c)
    }

    async fn forget(&self, i: usize) {
        self.clients.lock().await[i] = None;
    }
}

/// Why an attempt ended without a record.
#[derive(Clone, Debug)]
pub struct Failure {
    pub code: Code,
    pub message: String,
    pub retry_after: Option<Duration>,
    /// The machine-readable reason the status carried.
    pub reason: Option<Reason>,
    /// The stream broke after the run had started (a replica died mid-run).
    pub lost_stream: bool,
}

impl Failure {
    fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retry_after: None,
            reason: None,
            lost_stream: false,
        }
    }

    fn from_status(s: &tonic::Status, started: bool) -> Self {
        let retry_after = atlas_rt::retry::retry_after(s);
        Self {
            code: s.code(),
            message: s.message().to_string(),
            retry_after,
            reason: reason::reason(s),
            lost_stream: started
                && matches!(
                    s.code(),
                    Code::Unknown | Code::Internal | Code::Unavailable | Code::Cancelled
                ),
        }
    }

    /// The failure of an attempt whose stream ended without a record.
    fn of_stream(e: StreamError) -> Self {
        match e {
            StreamError::Status { status, started } => Failure::from_status(&status, started),
            StreamError::Ended => Failure {
                lost_stream: true,
                ..Failure::new(Code::Unavailable, e.to_string())
            },
            StreamError::NoRecord => Failure::new(Code::Internal, e.to_string()),
        }
    }

    /// Whether another attempt may succeed: by the status code, and for
    /// NOT_FOUND by the typed reason (a world the bridge lost can be run
    /// again; a scenario that does not exist cannot).
    pub fn retryable(&self) -> bool {
        self.lost_stream
            || match self.code {
                Code::Unavailable
                | Code::DeadlineExceeded
                | Code::ResourceExhausted
                | Code::Aborted
                | Code::Unknown
                | Code::Cancelled => true,
                // A bridge that restarted has lost the run's world.
                Code::NotFound => self.reason == Some(Reason::WorldLost),
                _ => false,
            }
    }

    pub fn describe(&self) -> String {
        let lost = if self.lost_stream {
            " (stream lost mid-run)"
        } else {
            ""
        };
        format!("{:?}{lost}: {}", self.code, self.message)
    }
}

/// What a run came to.
pub struct Outcome {
    pub result: Result<Finished, String>,
    pub attempts: Vec<Attempt>,
    pub eval_s: f64,
}

async fn attempt(
    mut client: Client,
    request: pb::RunScenarioRequest,
    limit: Duration,
) -> Result<Finished, Failure> {
    let mut req = tonic::Request::new(request);
    req.set_timeout(limit);
    match tokio::time::timeout(limit, stream_run(&mut client, req, |_| {})).await {
        Ok(res) => res.map_err(Failure::of_stream),
        Err(_) => Err(Failure::new(
            Code::DeadlineExceeded,
            format!("no result within {:.0} s", limit.as_secs_f64()),
        )),
    }
}

/// Runs `request` to a record on one of `replicas`, retrying per `policy`.
pub async fn run(
    replicas: &Replicas,
    request: pb::RunScenarioRequest,
    policy: &RetryPolicy,
) -> Outcome {
    let t0 = Instant::now();
    let mut attempts: Vec<Attempt> = Vec::new();
    let mut inflight = FuturesUnordered::new();
    let mut n: u32 = 0;
    // Attempts that count against `max_attempts`: a RESOURCE_EXHAUSTED
    // refusal that carries the server's retry hint (every run slot of the
    // runtime busy) is the server pacing the client, not a failure of the
    // run, and costs no attempt while the run is younger than its deadline.
    // Anything else counts, an unreachable bridge or policy included (it
    // may never come back).
    let mut spent: u32 = 0;
    let mut last_started = Instant::now();
    let mut last_failure: Option<Failure> = None;
    let mut last_replica: Option<usize> = None;

    let launch = move |n: u32, hedge: bool, avoid: Option<usize>| {
        let i = replicas.pick(avoid);
        let req = request.clone();
        let limit = policy.deadline * 2;
        async move {
            let t = Instant::now();
            let res = match replicas.client(i).await {
                Ok(c) => attempt(c, req, limit).await,
                Err(f) => Err(f),
            };
            (n, i, hedge, t.elapsed(), res)
        }
    };

    loop {
        if inflight.is_empty() {
            if spent >= policy.max_attempts {
                let f = last_failure.map(|f| f.describe()).unwrap_or_default();
                return Outcome {
                    result: Err(format!("{n} attempts failed; last: {f}")),
                    attempts,
                    eval_s: t0.elapsed().as_secs_f64(),
                };
            }
            if n > 0 {
                let hint = last_failure.as_ref().and_then(|f| f.retry_after);
                tokio::time::sleep(policy.backoff(n + 1, hint)).await;
            }
            n += 1;
            spent += 1;
            last_started = Instant::now();
            inflight.push(launch(n, false, last_replica));
        }
        let may_hedge = inflight.len() == 1 && spent < policy.max_attempts;
        let hedge_at = tokio::time::Instant::from_std(last_started + policy.deadline);
        tokio::select! {
            Some((k, i, hedge, wall, res)) = inflight.next() => {
                last_replica = Some(i);
                match res {
                    Ok(finished) => {
                        attempts.push(Attempt {
                            n: k,
                            replica: replicas.addrs[i].clone(),
                            outcome: "ok".into(),
                            wall_s: wall.as_secs_f64(),
                            hedge,
                        });
                        // Attempts still running are cancelled by dropping them.
                        for _ in 0..inflight.len() {
                            attempts.push(Attempt {
                                n: 0,
                                replica: String::new(),
                                outcome: "cancelled: another attempt finished first".into(),
                                wall_s: 0.0,
                                hedge: true,
                            });
                        }
                        return Outcome {
                            result: Ok(finished),
                            attempts,
                            eval_s: t0.elapsed().as_secs_f64(),
                        };
                    }
                    Err(f) => {
                        attempts.push(Attempt {
                            n: k,
                            replica: replicas.addrs[i].clone(),
                            outcome: f.describe(),
                            wall_s: wall.as_secs_f64(),
                            hedge,
                        });
                        if matches!(f.code, Code::Unavailable) || f.lost_stream {
                            replicas.mark_down(i, Duration::from_secs(2));
                            replicas.forget(i).await;
                        }
                        let retry = f.retryable();
                        if f.code == Code::ResourceExhausted
                            && f.retry_after.is_some()
                            && t0.elapsed() < policy.deadline
                        {
                            spent = spent.saturating_sub(1);
                        }
                        last_failure = Some(f);
                        if !retry && inflight.is_empty() {
                            return Outcome {
                                result: Err(last_failure.map(|f| f.describe()).unwrap_or_default()),
                                attempts,
                                eval_s: t0.elapsed().as_secs_f64(),
                            };
                        }
                        if !retry {
                            // Let the hedge (if any) finish, but start no more.
                            spent = policy.max_attempts;
                        }
                    }
                }
            }
            _ = tokio::time::sleep_until(hedge_at), if may_hedge => {
                n += 1;
                spent += 1;
                last_started = Instant::now();
                inflight.push(launch(n, true, last_replica));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_honours_the_hint() {
        let p = RetryPolicy {
            max_attempts: 5,
            deadline: Duration::from_secs(1),
            base_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1000),
        };
        for _ in 0..50 {
            let b2 = p.backoff(2, None);
            assert!(b2 >= Duration::from_millis(50) && b2 <= Duration::from_millis(100));
            let b4 = p.backoff(4, None);
            assert!(b4 >= Duration::from_millis(200) && b4 <= Duration::from_millis(400));
            let b20 = p.backoff(20, None);
            assert!(b20 <= Duration::from_millis(1000));
        }
        assert_eq!(
            p.backoff(3, Some(Duration::from_millis(1234))),
            Duration::from_millis(1234)
        );
        // A grown back-off is held to twice the hint.
        for _ in 0..50 {
            let late = p.backoff(8, Some(Duration::from_millis(300)));
            assert!(
                late >= Duration::from_millis(300) && late <= Duration::from_millis(600),
                "{late:?}"
            );
        }
    }

    #[test]
    fn classification() {
        let s = tonic::Status::unavailable("driver drive: connection refused");
        assert!(Failure::from_status(&s, true).retryable());
        let s = tonic::Status::invalid_argument("bad scenario");
        assert!(!Failure::from_status(&s, false).retryable());
        // A lost world: NOT_FOUND with reason WORLD_LOST (straight from a
        // bridge), or ABORTED (the runtime's code for it), mid-run or before.
        let s = reason::with_reason(
            tonic::Status::not_found("bridge Step: world w-3"),
            Reason::WorldLost,
        );
        assert!(Failure::from_status(&s, true).retryable());
        assert!(Failure::from_status(&s, false).retryable());
        let s = reason::with_reason(
            tonic::Status::aborted("bridge Step: the bridge lost the run's world; run it again"),
            Reason::WorldLost,
        );
        assert!(Failure::from_status(&s, true).retryable());
        assert!(Failure::from_status(&s, false).retryable());
        // Any other NOT_FOUND (a scenario that does not exist) is final,
        // whatever its words.
        let s = tonic::Status::not_found("scenario \"nope\" is neither a file nor a scenario");
        assert!(!Failure::from_status(&s, false).retryable());
        let s = tonic::Status::not_found("world w-3 not found");
        assert!(!Failure::from_status(&s, false).retryable());
        // A bridge killed mid-step: the runtime's stream ends with the transport error.
        let s = tonic::Status::unknown("bridge Step: transport error");
        assert!(Failure::from_status(&s, true).retryable());
        let mut s = reason::with_reason(
            tonic::Status::resource_exhausted("busy"),
            Reason::Overloaded,
        );
        s.metadata_mut()
            .insert(RETRY_AFTER_KEY, "250".parse().unwrap());
        let f = Failure::from_status(&s, false);
        assert!(f.retryable());
        assert_eq!(f.reason, Some(Reason::Overloaded));
        assert_eq!(f.retry_after, Some(Duration::from_millis(250)));
    }

    #[test]
    fn every_typed_reason_decides_the_same_on_every_code_it_comes_with() {
        // UPSTREAM_GONE and OVERLOADED come with UNAVAILABLE and
        // RESOURCE_EXHAUSTED: retried. INVALID_INPUT: never.
        let gone = reason::with_reason(tonic::Status::unavailable("x"), Reason::UpstreamGone);
        assert!(Failure::from_status(&gone, false).retryable());
        let bad = reason::invalid_input("x", Default::default());
        assert!(!Failure::from_status(&bad, false).retryable());
        assert!(!Failure::from_status(&bad, true).retryable());
    }

    #[test]
    fn how_a_stream_ends_decides_the_failure() {
        let f = Failure::of_stream(StreamError::Ended);
        assert_eq!(f.code, Code::Unavailable);
        assert!(f.lost_stream && f.retryable());
        let f = Failure::of_stream(StreamError::NoRecord);
        assert_eq!(f.code, Code::Internal);
        assert!(!f.retryable());
        // An INTERNAL once the run had started is a replica lost mid-run.
        let internal = |started| StreamError::Status {
            status: tonic::Status::internal("x"),
            started,
        };
        assert!(Failure::of_stream(internal(true)).retryable());
        assert!(!Failure::of_stream(internal(false)).retryable());
    }

    #[test]
    fn pick_rotates_and_skips_replicas_marked_down() {
        let r = Replicas::new(
            vec!["a".into(), "b".into(), "c".into()],
            Duration::from_secs(3),
        );
        let picks: Vec<usize> = (0..6).map(|_| r.pick(None)).collect();
        assert_eq!(picks, [0, 1, 2, 0, 1, 2]);
        r.mark_down(1, Duration::from_secs(60));
        for _ in 0..6 {
            assert_ne!(r.pick(None), 1);
        }
        // Avoids the replica of the failed attempt when another is up.
        for _ in 0..6 {
            assert_eq!(r.pick(Some(0)), 2);
        }
    }
}
