//! Micro-batching of `drive` requests across sessions.
//!
//! Every `drive` that passed validation is admitted against a concurrency
//! limit (`--max-inflight`) and queued. Inference threads (dedicated OS
//! threads, never the async runtime) take the oldest queued request, wait up
//! to `--batch-max-wait-ms` for more to arrive, stop early once
//! `--batch-max-size` are collected, and plan them together with
//! [`Policy::plan_batch`] — one forward pass for the model policy. Each
//! request gets its own answer back through a one-shot channel.
//!
//! A request that finds the limit reached is refused at once with
//! [`Error::Overloaded`] (RESOURCE_EXHAUSTED) carrying a retry hint: how
//! long the queue ahead of it should take to drain, from the running mean
//! of recent batch times. The hint travels in the status metadata as
//! `retry-after-ms` and as `grpc-retry-pushback-ms` (the header gRPC's own
//! retry policies read), both in whole milliseconds.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

use crate::Error;
use crate::observation::Observation;
use crate::policy::{Plan, Policy, PolicyError};

/// Metadata key of the retry hint on RESOURCE_EXHAUSTED (milliseconds).
pub const RETRY_AFTER_HEADER: &str = atlas_rt::retry::RETRY_AFTER_KEY;
/// The same hint under the name gRPC client retry policies honour.
pub const GRPC_PUSHBACK_HEADER: &str = atlas_rt::retry::GRPC_PUSHBACK_KEY;

/// How requests are batched and limited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchSettings {
    /// Most requests planned in one call of [`Policy::plan_batch`].
    pub max_size: usize,
    /// Longest a request waits for others to join its batch.
    pub max_wait: Duration,
    /// Most `drive` requests queued or being planned at once.
    pub max_inflight: usize,
    /// Inference threads.
    pub workers: usize,
}

impl Default for BatchSettings {
    fn default() -> Self {
        Self {
            max_size: 8,
            max_wait: Duration::ZERO,
            max_inflight: 64,
            workers: 1,
        }
    }
}

struct Job {
    obs: Observation,
    reply: oneshot::Sender<Result<Plan, PolicyError>>,
}

/// Shared between the front end and the workers.
#[derive(Debug)]
struct Stats {
    /// Running mean of one batch's planning time, µs (0 = none yet).
    batch_us: AtomicU64,
    batches: AtomicU64,
    requests: AtomicU64,
}

impl Stats {
    fn record(&self, elapsed: Duration, size: usize) {
        let us = u64::try_from(elapsed.as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        let old = self.batch_us.load(Ordering::Relaxed);
        // Exponential mean over about the last eight batches.
        let new = if old == 0 { us } else { (7 * old + us) / 8 };
        self.batch_us.store(new, Ordering::Relaxed);
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.requests.fetch_add(size as u64, Ordering::Relaxed);
    }
}

/// Counters since start-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchCounters {
    pub batches: u64,
    pub requests: u64,
}

/// The batching front end; see the module docs. Dropping it stops the
/// inference threads once the queue is empty.
#[derive(Debug)]
pub struct Batcher {
    queue: Mutex<Option<Sender<Job>>>,
    permits: Arc<Semaphore>,
    settings: BatchSettings,
    stats: Arc<Stats>,
    workers: Vec<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("session", &self.obs.session_uuid)
            .finish()
    }
}

impl Batcher {
    /// Starts `settings.workers` inference threads planning with `policy`.
    pub fn new(policy: Arc<dyn Policy>, settings: BatchSettings) -> Result<Self, Error> {
        if settings.max_size == 0 || settings.max_inflight == 0 || settings.workers == 0 {
            return Err(Error::Config(format!(
                "batch size, in-flight limit and inference threads must all be at least 1, got \
                 {settings:?}"
            )));
        }
        let (tx, rx) = channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let stats = Arc::new(Stats {
            batch_us: AtomicU64::new(0),
            batches: AtomicU64::new(0),
            requests: AtomicU64::new(0),
        });
        let mut workers = Vec::with_capacity(settings.workers);
        for i in 0..settings.workers {
            let (policy, rx, stats) = (policy.clone(), rx.clone(), stats.clone());
            let handle = std::thread::Builder::new()
                .name(format!("vla-infer-{i}"))
                .spawn(move || worker(policy.as_ref(), &rx, settings, &stats))
                .map_err(|e| Error::Config(format!("starting inference thread {i}: {e}")))?;
            workers.push(handle);
        }
        Ok(Self {
            queue: Mutex::new(Some(tx)),
            permits: Arc::new(Semaphore::new(settings.max_inflight)),
            settings,
            stats,
            workers,
        })
    }

    pub fn settings(&self) -> BatchSettings {
        self.settings
    }

    pub fn counters(&self) -> BatchCounters {
        BatchCounters {
            batches: self.stats.batches.load(Ordering::Relaxed),
            requests: self.stats.requests.load(Ordering::Relaxed),
        }
    }

    /// Requests queued or being planned now.
    pub fn inflight(&self) -> usize {
        self.settings.max_inflight - self.permits.available_permits()
    }

    /// How long the current queue should take to drain, in milliseconds
    /// (at least 1).
    pub fn retry_after_ms(&self) -> u64 {
        let batch_us = match self.stats.batch_us.load(Ordering::Relaxed) {
            0 => 10_000, // nothing measured yet: assume 10 ms a batch
            us => us,
        };
        let batches_ahead = self.inflight().div_ceil(self.settings.max_size).max(1) as u64;
        let wait_us = batches_ahead
            .saturating_mul(batch_us.saturating_add(self.settings.max_wait.as_micros() as u64));
        wait_us.div_ceil(1000).max(1)
    }

    /// Admits `obs` (or refuses it with [`Error::Overloaded`]) and waits for
    /// its plan.
    pub async fn plan(&self, obs: Observation) -> Result<Plan, Error> {
        let permit: OwnedSemaphorePermit = match self.permits.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                return Err(Error::Overloaded {
                    limit: self.settings.max_inflight,
                    retry_after_ms: self.retry_after_ms(),
                });
            }
        };
        let (reply, answer) = oneshot::channel();
        {
            let queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
            let Some(tx) = queue.as_ref() else {
                return Err(Error::Policy(PolicyError::Failed(
                    "the inference queue is shut down".into(),
                )));
            };
            tx.send(Job { obs, reply }).map_err(|_| {
                Error::Policy(PolicyError::Failed("the inference threads stopped".into()))
            })?;
        }
        let plan = answer.await.map_err(|_| {
            Error::Policy(PolicyError::Failed(
                "the inference thread dropped the request".into(),
            ))
        })?;
        drop(permit);
        Ok(plan?)
    }
}

impl Drop for Batcher {
    fn drop(&mut self) {
        // Closing the queue ends the workers once they drained it; they are
        // not joined here (a worker may be mid forward pass, and dropping
        // must not block an async runtime thread).
        self.queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        self.workers.clear();
    }
}

/// Takes the next batch off the queue: blocks for the first job, then
/// collects until `max_size` or `max_wait` after the first. `None` once the
/// queue is closed and empty.
fn next_batch(rx: &Receiver<Job>, settings: BatchSettings) -> Option<Vec<Job>> {
    let first = rx.recv().ok()?;
    let deadline = Instant::now() + settings.max_wait;
    let mut jobs = Vec::with_capacity(settings.max_size);
    jobs.push(first);
    while jobs.len() < settings.max_size {
        // Whatever is already queued joins without waiting.
        match rx.try_recv() {
            Ok(job) => {
                jobs.push(job);
                continue;
            }
            Err(std::sync::mpsc::TryRecvError::Disconnected) => break,
            Err(std::sync::mpsc::TryRecvError::Empty) => {}
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        match rx.recv_timeout(left) {
            Ok(job) => jobs.push(job),
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
        }
    }
    Some(jobs)
}

fn worker(policy: &dyn Policy, rx: &Mutex<Receiver<Job>>, settings: BatchSettings, stats: &Stats) {
    loop {
        // One worker collects at a time; the others wait for the lock and
        // then for the next batch, so batches fill before they split.
        let jobs = {
            let rx = rx.lock().unwrap_or_else(PoisonError::into_inner);
            match next_batch(&rx, settings) {
                Some(jobs) => jobs,
                None => return,
            }
        };
        // A client that gave up (deadline, cancel) no longer needs a plan.
        let (jobs, gone): (Vec<Job>, Vec<Job>) =
            jobs.into_iter().partition(|j| !j.reply.is_closed());
        if !gone.is_empty() {
            tracing::debug!(dropped = gone.len(), "requests cancelled while queued");
        }
        if jobs.is_empty() {
            continue;
        }
        let started = Instant::now();
        let obs: Vec<&Observation> = jobs.iter().map(|j| &j.obs).collect();
        let answers =
            catch_unwind(AssertUnwindSafe(|| policy.plan_batch(&obs))).unwrap_or_else(|_| {
                tracing::error!("the policy panicked planning a batch");
                vec![Err(PolicyError::Failed("the policy panicked".into())); obs.len()]
            });
        let elapsed = started.elapsed();
        stats.record(elapsed, jobs.len());
        tracing::debug!(
            size = jobs.len(),
            ms = elapsed.as_secs_f64() * 1e3,
            "planned a batch"
        );
        let n = jobs.len();
        let mut answers = answers.into_iter();
        for job in jobs {
            let answer = answers.next().unwrap_or_else(|| {
                Err(PolicyError::Failed(format!(
                    "the policy answered fewer plans than the {n} requested"
                )))
            });
            // The client may have gone meanwhile; nothing to do then.
            let _ = job.reply.send(answer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{RouteFollower, RouteFollowerParams};
    use crate::warmup::synthetic_observation;

    /// Records the size of every batch it is asked to plan.
    #[derive(Debug, Default)]
    struct Recording {
        inner: Option<RouteFollower>,
        sizes: Mutex<Vec<usize>>,
    }

    impl Policy for Recording {
        fn name(&self) -> &str {
            "recording"
        }
        fn plan(&self, obs: &Observation) -> Result<Plan, PolicyError> {
            self.inner.as_ref().unwrap().plan(obs)
        }
        fn plan_batch(&self, obs: &[&Observation]) -> Vec<Result<Plan, PolicyError>> {
            self.sizes.lock().unwrap().push(obs.len());
            obs.iter().map(|o| self.plan(o)).collect()
        }
    }

    fn recording() -> Arc<Recording> {
        Arc::new(Recording {
            inner: Some(RouteFollower::new(RouteFollowerParams::default()).unwrap()),
            sizes: Mutex::default(),
        })
    }

    #[test]
    fn a_full_queue_is_taken_in_batches_of_the_maximum() {
        let (tx, rx) = channel();
        let obs = synthetic_observation().unwrap();
        let mut answers = Vec::new();
        for _ in 0..11 {
            let (reply, answer) = oneshot::channel();
            tx.send(Job {
                obs: obs.clone(),
                reply,
            })
            .unwrap();
            answers.push(answer);
        }
        let settings = BatchSettings {
            max_size: 4,
            max_wait: Duration::from_secs(5),
            ..BatchSettings::default()
        };
        let started = Instant::now();
        assert_eq!(next_batch(&rx, settings).unwrap().len(), 4);
        assert_eq!(next_batch(&rx, settings).unwrap().len(), 4);
        // Full batches leave without waiting.
        assert!(started.elapsed() < Duration::from_secs(1));
        drop(tx);
        // The queue closed: the rest leaves at once, then nothing.
        assert_eq!(next_batch(&rx, settings).unwrap().len(), 3);
        assert!(next_batch(&rx, settings).is_none());
    }

    #[test]
    fn a_partial_batch_leaves_after_the_wait() {
        let (tx, rx) = channel();
        let (reply, _answer) = oneshot::channel();
        tx.send(Job {
            obs: synthetic_observation().unwrap(),
            reply,
        })
        .unwrap();
        let settings = BatchSettings {
            max_size: 8,
            max_wait: Duration::from_millis(30),
            ..BatchSettings::default()
        };
        let started = Instant::now();
        assert_eq!(next_batch(&rx, settings).unwrap().len(), 1);
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(30), "{waited:?}");
        drop(tx);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_requests_share_batches_and_get_their_own_answers() {
        let policy = recording();
        let batcher = Arc::new(
            Batcher::new(
                policy.clone(),
                BatchSettings {
                    max_size: 4,
                    max_wait: Duration::from_millis(200),
                    max_inflight: 16,
                    workers: 1,
                },
            )
            .unwrap(),
        );
        let base = synthetic_observation().unwrap();
        let mut tasks = Vec::new();
        for i in 0..8u64 {
            let mut obs = base.clone();
            // Distinct answers: each request plans from its own time.
            obs.time_now_us += i * 1_000_000;
            for s in &mut obs.ego {
                s.timestamp_us += i * 1_000_000;
            }
            obs.time_query_us = obs.time_now_us + 100_000;
            let want = policy.plan(&obs).unwrap();
            let b = batcher.clone();
            tasks.push(tokio::spawn(
                async move { (b.plan(obs).await.unwrap(), want) },
            ));
        }
        for t in tasks {
            let (got, want) = t.await.unwrap();
            assert_eq!(got, want);
        }
        let sizes = policy.sizes.lock().unwrap().clone();
        assert_eq!(sizes.iter().sum::<usize>(), 8, "{sizes:?}");
        assert!(sizes.iter().all(|&s| s <= 4), "{sizes:?}");
        assert!(sizes.iter().any(|&s| s > 1), "never batched: {sizes:?}");
        assert_eq!(batcher.counters().requests, 8);
        assert_eq!(batcher.inflight(), 0);
    }

    #[tokio::test]
    async fn over_the_limit_is_overloaded_with_a_hint() {
        let batcher = Arc::new(
            Batcher::new(
                recording(),
                BatchSettings {
                    max_size: 8,
                    // The first request sits in the batch window meanwhile.
                    max_wait: Duration::from_millis(400),
                    max_inflight: 1,
                    workers: 1,
                },
            )
            .unwrap(),
        );
        let obs = synthetic_observation().unwrap();
        let first = {
            let (b, o) = (batcher.clone(), obs.clone());
            tokio::spawn(async move { b.plan(o).await })
        };
        while batcher.inflight() == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        match batcher.plan(obs.clone()).await {
            Err(Error::Overloaded {
                limit: 1,
                retry_after_ms,
            }) => assert!(retry_after_ms >= 1),
            other => panic!("expected Overloaded, got {other:?}"),
        }
        first.await.unwrap().unwrap();
        // The slot is free again.
        batcher.plan(obs).await.unwrap();
    }

    #[test]
    fn zero_settings_are_refused() {
        for s in [
            BatchSettings {
                max_size: 0,
                ..BatchSettings::default()
            },
            BatchSettings {
                max_inflight: 0,
                ..BatchSettings::default()
            },
            BatchSettings {
                workers: 0,
                ..BatchSettings::default()
            },
        ] {
            assert!(Batcher::new(recording(), s).is_err());
        }
    }
}
