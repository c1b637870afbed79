//! Per-service request-rate limits: a token bucket per [`Service`].
//!
//! Every request of a service client built by [`crate::actions::aws::Aws`] takes a token first
//! (its HTTP client is paced). The defaults stay under the account quotas. Route 53: 5
//! requests/s, half of the account's quota (a bucket of 50 refilled at 10 per second, "All
//! Amazon Route 53 API actions combined (account level)", Route 53 developer guide, "Throttling
//! for Amazon Route 53 API requests",
//! <https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/throttling-api-requests.html>),
//! the rest left to whatever else acts in the account during the same incident; KMS 5/s, API
//! Gateway management 10/s; DynamoDB and CloudWatch control-plane calls get a generous 50/s; ARC 3/s
//! ("Number of mutating API calls to a cluster endpoint, per second: 3", ARC developer guide,
//! "Quotas for routing control",
//! <https://docs.aws.amazon.com/r53recovery/latest/dg/routing-control.quotas.html>; reads share
//! the bucket, a failover makes a handful of them).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::actions::Service;

#[derive(Debug)]
struct Bucket {
    /// Tokens per second.
    rate: f64,
    /// Most tokens kept when idle.
    burst: f64,
    /// Tokens available (negative: reserved by waiting callers) and when they were counted.
    state: Mutex<(f64, Option<Instant>)>,
}

impl Bucket {
    fn new(rate: f64, burst: f64) -> Bucket {
        Bucket {
            rate,
            burst,
            state: Mutex::new((burst, None)),
        }
    }

    /// Takes one token, returning how long the caller must wait for it.
    fn reserve(&self) -> Duration {
        let now = Instant::now();
        let mut st = self.state.lock().expect("rate bucket poisoned");
        let (tokens, last) = &mut *st;
        if let Some(l) = *last {
            let elapsed = now.saturating_duration_since(l).as_secs_f64();
            *tokens = (*tokens + elapsed * self.rate).min(self.burst);
        }
        *last = Some(now);
        *tokens -= 1.0;
        if *tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-*tokens / self.rate)
        }
    }
}

/// The rate limiters of one run. Cheap to clone; clones share the buckets.
#[derive(Debug, Clone)]
pub struct RateLimits {
    buckets: Arc<BTreeMap<Service, Bucket>>,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits::new(&[
            (Service::Route53, 5.0),
            (Service::Kms, 5.0),
            (Service::ApiGateway, 10.0),
            (Service::DynamoDb, 50.0),
            (Service::CloudWatch, 50.0),
            (Service::Arc, 3.0),
        ])
    }
}

impl RateLimits {
    /// Limits in requests per second; a service not listed is not limited. Bursts are one
    /// second's worth of requests.
    pub fn new(per_second: &[(Service, f64)]) -> RateLimits {
        RateLimits {
            buckets: Arc::new(
                per_second
                    .iter()
                    .filter(|(_, r)| *r > 0.0)
                    .map(|&(s, r)| (s, Bucket::new(r, r.max(1.0))))
                    .collect(),
            ),
        }
    }

    /// Waits until one more request to `service` stays within its rate.
    pub async fn acquire(&self, service: Service) {
        if let Some(b) = self.buckets.get(&service) {
            let wait = b.reserve();
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn route53_stays_at_five_per_second() {
        let limits = RateLimits::default();
        let start = Instant::now();
        let mut tasks = vec![];
        for _ in 0..25 {
            let l = limits.clone();
            tasks.push(tokio::spawn(async move {
                l.acquire(Service::Route53).await;
                Instant::now()
            }));
        }
        let mut times = vec![];
        for t in tasks {
            times.push(t.await.unwrap() - start);
        }
        times.sort();
        // 5 at once (the burst), then 5 per second: the 25th goes at 4 s.
        assert_eq!(times[4], Duration::ZERO);
        assert!(times[5] >= Duration::from_millis(199));
        let last = *times.last().unwrap();
        assert!(
            last >= Duration::from_millis(3990) && last <= Duration::from_millis(4010),
            "{last:?}"
        );
        // In any window of one second, at most 5 + burst requests.
        for w in times.windows(11) {
            assert!(w[10] - w[0] >= Duration::from_millis(999), "{w:?}");
        }
        // Core is not limited.
        let t = Instant::now();
        for _ in 0..1000 {
            limits.acquire(Service::Core).await;
        }
        assert_eq!(Instant::now(), t);
    }
}
