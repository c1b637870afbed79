//! One step's life: attempts with timeout, observe/apply/verify, retries with backoff.

use crate::runbook::CallTimeouts;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::crash;
use crate::actions::once::AttemptHooks;
use crate::actions::{Action, ActionError, Observation, Outcome, StepContext};
use crate::event::{Event, EventSink, Mode};
use crate::runbook::RetryPolicy;

/// Longest delay between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// Delay before attempt `failed_attempt + 1`: `backoff * 2^(failed_attempt - 1)`, capped at
/// five minutes, scaled by a random factor in [0.5, 1.0] ("equal jitter").
pub fn backoff_delay(backoff: Duration, failed_attempt: u32) -> Duration {
    let exp = failed_attempt.saturating_sub(1).min(20);
    let base = backoff
        .saturating_mul(1u32 << exp)
        .min(MAX_BACKOFF.max(backoff));
    base.mul_f64(0.5 + 0.5 * fastrand::f64())
}

/// What a running step sends to the journal writer (the driver).
// Records travel by value, as they did before syncs existed; a sync is rare (one per change).
#[expect(clippy::large_enum_variant, reason = "one value per step, moved once")]
pub(super) enum ToJournal {
    /// A record, durable at the next flush.
    Record(Event),
    /// Flush now; answered once everything sent before it is durable.
    Sync(oneshot::Sender<()>),
}

/// One step as its task runs it: the action, its context and the limits it runs under.
pub(super) struct StepJob {
    /// The step's position in the walk (main steps, then `finally`).
    pub idx: usize,
    /// The action's implementation.
    pub action: Arc<dyn Action>,
    /// What the action is given: run, step, rendered parameters, AWS, earlier observation.
    pub ctx: StepContext,
    /// The step's `connect_timeout` and `call_timeout`, for every AWS call it makes.
    pub call_timeouts: CallTimeouts,
    /// The role the step assumes, if any.
    pub role: Option<crate::runbook::model::Role>,
    /// Dry run (observe only) or execution (observe, apply, verify).
    pub mode: Mode,
    /// Dry-run: the upstream step whose (not yet made) changes this step comes after.
    pub upstream_change: Option<String>,
    /// How long one attempt may take before it is dropped (and retried if attempts remain).
    pub timeout: Duration,
    /// How many attempts a retryable error gets, and the backoff between them.
    pub retry: RetryPolicy,
    /// Where the step's records and sync requests go: the driver's loop.
    pub journal: UnboundedSender<ToJournal>,
    /// Where the step's records are reported as they are sent.
    pub sink: Arc<dyn EventSink>,
    /// The observation of this step's latest attempt, for the next one ([`StepContext::earlier`]).
    pub earlier: std::sync::Mutex<Option<crate::actions::Observation>>,
}

/// How a step's task ended, for the driver to record.
pub(super) struct StepDone {
    /// The step's position in the walk.
    pub idx: usize,
    /// The action's outcome, or the error of its last attempt.
    pub result: Result<Outcome, ActionError>,
    /// Attempts made (1 when it did not retry).
    pub attempts: u32,
    /// Wall-clock time from the first attempt to the end, retries and backoff included.
    pub duration: Duration,
    /// Of that, the time spent waiting on AWS (polling for a state), as the action measured it.
    pub aws_wait: Duration,
}

impl StepJob {
    /// Reports an event and sends it to the journal (durable at the driver's next flush).
    fn emit(&self, e: Event) {
        self.sink.emit(chrono::Utc::now(), &e);
        // The receiver lives as long as the run; a send error means the run is being torn down.
        let _ = self.journal.send(ToJournal::Record(e));
    }

    /// Waits until every record this step sent is durable: before a step changes anything,
    /// the journal holds its start and the changes it is about to make, so a crash during the
    /// change leaves the step in doubt, never unrecorded.
    async fn durable(&self) -> Result<(), ActionError> {
        let (ack, done) = oneshot::channel();
        if self.journal.send(ToJournal::Sync(ack)).is_ok() && done.await.is_ok() {
            return Ok(());
        }
        Err(ActionError::Invalid {
            message: format!(
                "the journal could not be written before step `{}` made its changes; it made none",
                self.ctx.step_id
            ),
            hint: "see the run's error; `drillbook resume RUN_ID` continues once the state store \
                   is writable"
                .into(),
        })
    }

    pub(super) async fn run(self) -> StepDone {
        let step = self.ctx.step_id.clone();
        let timeouts = self.call_timeouts;
        let credentials = match &self.role {
            Some(role) => {
                let region = self
                    .ctx
                    .region
                    .clone()
                    .or_else(|| std::env::var("AWS_REGION").ok().filter(|r| !r.is_empty()))
                    .unwrap_or_else(|| "us-east-1".into());
                Some(crate::actions::aws::StepRole {
                    arn: role.arn.clone(),
                    credentials: self
                        .ctx
                        .aws
                        .role_credentials(role, &self.ctx.run_id, &step, &region)
                        .await,
                })
            }
            None => None,
        };
        crate::actions::aws::in_step_as(&step, timeouts, credentials, self.run_inner()).await
    }

    async fn run_inner(self) -> StepDone {
        let start = Instant::now();
        let step = self.ctx.step_id.clone();
        let max_attempts = self.retry.attempts.max(1);
        let mut attempt = 1;
        loop {
            self.emit(Event::StepStarted {
                step: step.clone(),
                action: self.action.spec().name.to_string(),
                attempt,
            });
            // The timeout drops the attempt's future: whatever it was awaiting is cancelled.
            let res = match tokio::time::timeout(
                self.timeout,
                AssertUnwindSafe(self.attempt()).catch_unwind(),
            )
            .await
            {
                Err(_) => Err(ActionError::Timeout {
                    message: format!(
                        "step `{step}` did not finish within its timeout of {}",
                        crate::duration::format_duration(self.timeout)
                    ),
                }),
                Ok(Err(_panic)) => Err(ActionError::Invalid {
                    message: format!("the action of step `{step}` panicked"),
                    hint: "this is a bug in drillbook; please report it with the run's journal"
                        .into(),
                }),
                Ok(Ok(r)) => r,
            };
            match res {
                Err(e) if e.retryable() && attempt < max_attempts => {
                    let delay = backoff_delay(self.retry.backoff, attempt);
                    attempt += 1;
                    self.emit(Event::StepRetrying {
                        step: step.clone(),
                        attempt,
                        error: e,
                        delay_ms: delay.as_millis() as u64,
                    });
                    tokio::time::sleep(delay).await;
                }
                result => {
                    return StepDone {
                        idx: self.idx,
                        result,
                        attempts: attempt,
                        duration: start.elapsed(),
                        aws_wait: self.ctx.waits.total(),
                    };
                }
            }
        }
    }

    /// One attempt ([`crate::actions::once::attempt`]), with the step's latest observation
    /// given to the action, each observation reported and journaled, and a mutating step's
    /// start made durable before it changes anything.
    async fn attempt(&self) -> Result<Outcome, ActionError> {
        let mut ctx = self.ctx.clone();
        if let Some(o) = self
            .earlier
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
        {
            ctx.earlier = Some(o);
        }
        crate::actions::once::attempt(
            &*self.action,
            &ctx,
            self.mode,
            self.upstream_change.as_deref(),
            self,
        )
        .await
    }
}

#[async_trait::async_trait]
impl AttemptHooks for StepJob {
    fn observed(&self, obs: &Observation) {
        *self.earlier.lock().unwrap_or_else(|e| e.into_inner()) = Some(obs.clone());
        self.emit(Event::StepObserved {
            step: self.ctx.step_id.clone(),
            observation: obs.clone(),
        });
    }

    async fn before_apply(&self, mutates: bool) -> Result<(), ActionError> {
        if mutates {
            self.durable().await?;
        }
        crash::point(crash::Point::BeforeApply, &self.ctx.step_id);
        Ok(())
    }

    fn after_apply(&self) {
        crash::point(crash::Point::AfterApply, &self.ctx.step_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let b = Duration::from_secs(2);
        for _ in 0..100 {
            let d1 = backoff_delay(b, 1);
            assert!(d1 >= Duration::from_secs(1) && d1 <= Duration::from_secs(2));
            let d3 = backoff_delay(b, 3);
            assert!(d3 >= Duration::from_secs(4) && d3 <= Duration::from_secs(8));
            assert!(backoff_delay(b, 30) <= MAX_BACKOFF);
        }
        assert_eq!(backoff_delay(Duration::ZERO, 4), Duration::ZERO);
    }
}
