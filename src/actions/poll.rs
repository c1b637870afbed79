//! The one polling loop the actions share: check, sleep with exponential backoff, check again.
//!
//! The first sleep is [`INITIAL_INTERVAL`]; each next one doubles, up to the action's maximum
//! interval. There is no deadline here: the engine's per-step timeout cancels the future. The
//! time spent between the first "not yet" and the final answer is added to the step's
//! [`WaitMeter`] as it passes, so a cancelled wait is still accounted for.
//!
//! Sleeps go through `tokio::time`, so tests with a paused clock run instantly.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use super::{ActionError, WaitMeter};

/// The first pause between two checks.
pub(crate) const INITIAL_INTERVAL: Duration = Duration::from_millis(200);

/// Maximum pause while waiting for a DynamoDB restore.
pub(crate) const RESTORE_MAX_INTERVAL: Duration = Duration::from_secs(15);
/// Maximum pause while waiting for CloudWatch alarm states.
pub(crate) const ALARM_MAX_INTERVAL: Duration = Duration::from_secs(5);

/// Calls `check` until it returns `Ok(Some(value))` (returned) or an error (returned at once).
/// `Ok(None)` means "not yet": sleep, then check again.
pub(crate) async fn until<T, F, Fut>(
    waits: &WaitMeter,
    max_interval: Duration,
    mut check: F,
) -> Result<T, ActionError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, ActionError>>,
{
    let mut interval = INITIAL_INTERVAL.min(max_interval);
    if let Some(v) = check().await? {
        return Ok(v);
    }
    let mut mark = Instant::now();
    loop {
        tokio::time::sleep(interval).await;
        let answer = check().await;
        let now = Instant::now();
        waits.add(now - mark);
        mark = now;
        if let Some(v) = answer? {
            return Ok(v);
        }
        interval = (interval * 2).min(max_interval);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test(start_paused = true)]
    async fn backs_off_up_to_the_maximum_and_records_the_wait() {
        let waits = WaitMeter::default();
        let calls = Arc::new(AtomicU32::new(0));
        let c = calls.clone();
        let v = until(&waits, Duration::from_secs(1), move || {
            let c = c.clone();
            async move {
                let n = c.fetch_add(1, Ordering::SeqCst) + 1;
                Ok((n == 6).then_some(n))
            }
        })
        .await
        .unwrap();
        assert_eq!(v, 6);
        // Sleeps: 0.2 + 0.4 + 0.8 + 1 + 1 = 3.4 s.
        assert_eq!(waits.total(), Duration::from_millis(3400));
    }

    #[tokio::test(start_paused = true)]
    async fn ready_at_once_records_no_wait() {
        let waits = WaitMeter::default();
        let v = until(&waits, Duration::from_secs(5), || async { Ok(Some("x")) })
            .await
            .unwrap();
        assert_eq!(v, "x");
        assert_eq!(waits.total(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn an_error_ends_the_wait() {
        let waits = WaitMeter::default();
        let calls = Arc::new(AtomicU32::new(0));
        let c = calls.clone();
        let err = until::<(), _, _>(&waits, Duration::from_secs(5), move || {
            let c = c.clone();
            async move {
                if c.fetch_add(1, Ordering::SeqCst) == 0 {
                    Ok(None)
                } else {
                    Err(ActionError::Timeout {
                        message: "gone".into(),
                    })
                }
            }
        })
        .await
        .unwrap_err();
        assert!(matches!(err, ActionError::Timeout { .. }));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert_eq!(waits.total(), Duration::from_millis(200));
    }
}
