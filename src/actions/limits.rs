//! Request-rate limits: token buckets per account, service and (where AWS's quota is
//! regional) Region, and for Route 53 per operation too.
//!
//! Every request of a service client built by [`crate::actions::aws::Aws`] takes a token first
//! (its HTTP client is paced). AWS keeps API quotas per account, so the buckets are keyed by
//! the account whose credentials sign the request (the step's role's account, else the
//! caller's): two accounts of one run never share a bucket, and one account's steps always do.
//! drillbook takes half of each documented bucket, burst and refill, leaving the rest to
//! whatever else acts in the account during the same incident.
//!
//! - Route 53 (global, one bucket per account): "All Amazon Route 53 API actions combined
//!   (account level)" is a bucket of 50 refilled at 10 per second, so drillbook uses a burst of
//!   25 and 5 per second. Each operation also has its own bucket, and a request takes a token
//!   from both: GetHealthCheckStatus and GetHealthCheckLastFailureReason 4 refilled at 1 per
//!   second, CreateHealthCheck 50 at 0.5, DeleteHealthCheck 15 at 3, CreateHostedZone 40 at 2;
//!   operations not listed 50 at 10, never tighter than the account's (Route 53 developer
//!   guide, "Throttling for Amazon Route 53 API requests", "Request rate token bucket sizes and
//!   refill rates",
//!   <https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/throttling-api-requests.html>).
//! - KMS, per account and Region, per operation: "each request quota is calculated
//!   independently" (AWS KMS developer guide, "Request quotas", "Applying request quotas",
//!   <https://docs.aws.amazon.com/kms/latest/developerguide/requests-per-second.html>).
//!   drillbook takes half of the page's figures (as the page's archived copy gives them; where
//!   AWS has raised a quota since, this stays under it): DescribeKey and ListAliases 100 per second
//!   (50), the cryptographic operations (Encrypt, Decrypt, GenerateDataKey, ...) one shared
//!   quota of at least 5,500 per second depending on the Region (2,750), and the management
//!   operations (UpdatePrimaryRegion, CreateAlias, UpdateAlias, ...) 5 per second (2.5). One
//!   bucket of 5 per second for every KMS request, as before, made a failover wait for its own
//!   key checks.
//! - API Gateway management 10 per second per account and Region (API Gateway developer
//!   guide, "Amazon API Gateway quotas", "API Gateway quotas for creating, deploying and
//!   managing an API": 10 requests per second across the management operations).
//! - DynamoDB and CloudWatch control-plane calls 50 per second per account and Region, well
//!   under their quotas (DynamoDB developer guide, "Service, account, and table quotas in
//!   Amazon DynamoDB", "API-specific limits"; Amazon CloudWatch user guide, "CloudWatch service
//!   quotas").
//! - ARC 3 per second per account and Region ("Number of mutating API calls to a cluster
//!   endpoint, per second: 3", ARC developer guide, "Quotas for routing control",
//!   <https://docs.aws.amazon.com/r53recovery/latest/dg/routing-control.quotas.html>; reads
//!   share the bucket, a failover makes a handful of them).
//!
//! Bursts are one second's worth of requests, except where the quota page gives a bucket size
//! (Route 53's).

use std::collections::{BTreeMap, HashMap};
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
    fn new(q: Quota) -> Bucket {
        Bucket {
            rate: q.rate,
            burst: q.burst,
            state: Mutex::new((q.burst, None)),
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

/// A bucket's size: a burst of `burst` requests, refilled at `rate` per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quota {
    pub burst: f64,
    pub rate: f64,
}

impl Quota {
    /// Half of a documented bucket (burst and refill), the share drillbook takes.
    const fn half_of(burst: f64, rate: f64) -> Quota {
        Quota {
            burst: burst / 2.0,
            rate: rate / 2.0,
        }
    }
}

/// Where one request goes, as far as quotas care.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scope<'a> {
    /// The account whose credentials sign the request; `None`: the caller's own (one per run).
    pub account: Option<&'a str>,
    /// The Region the request is sent to (ignored for services whose quota is global).
    pub region: &'a str,
    /// The API operation, where the service has per-operation buckets (Route 53).
    pub operation: Option<&'a str>,
}

/// (service, account, Region or "" for a global quota, operation or "" for the account's bucket)
type Key = (Service, Option<String>, String, String);

/// The rate limiters of one run. Cheap to clone; clones share the buckets.
#[derive(Debug, Clone)]
pub struct RateLimits {
    inner: Arc<Limits>,
}

#[derive(Debug)]
struct Limits {
    /// The account's bucket per service.
    services: BTreeMap<Service, Quota>,
    /// Per-operation buckets, taken on top of the service's.
    operations: BTreeMap<(Service, &'static str), Quota>,
    /// The bucket of each operation not in `operations`, for services whose quotas are all
    /// per operation (KMS).
    other_operations: BTreeMap<Service, Quota>,
    buckets: Mutex<HashMap<Key, Arc<Bucket>>>,
}

/// KMS's per-operation quotas (see the module's documentation), halved. Operations not listed
/// get [`KMS_OTHER`]; the cryptographic operations share one bucket, [`KMS_CRYPTO`].
const KMS_OPERATIONS: &[(&str, Quota)] = &[
    ("DescribeKey", Quota::half_of(100.0, 100.0)),
    ("ListAliases", Quota::half_of(100.0, 100.0)),
    (KMS_CRYPTO, Quota::half_of(5500.0, 5500.0)),
];
/// The name of the bucket KMS's cryptographic operations share.
const KMS_CRYPTO: &str = "cryptographic operations";
const KMS_CRYPTO_OPERATIONS: &[&str] = &[
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateMac",
    "GenerateRandom",
    "ReEncrypt",
    "Sign",
    "Verify",
    "VerifyMac",
];
/// Every other KMS operation: 5 per second on the quota page, halved.
const KMS_OTHER: Quota = Quota::half_of(5.0, 5.0);

/// Route 53's per-operation buckets that are tighter than the account's (see the module's
/// documentation), halved.
const ROUTE53_OPERATIONS: &[(&str, Quota)] = &[
    ("GetHealthCheckStatus", Quota::half_of(4.0, 1.0)),
    ("GetHealthCheckLastFailureReason", Quota::half_of(4.0, 1.0)),
    ("CreateHealthCheck", Quota::half_of(50.0, 0.5)),
    ("DeleteHealthCheck", Quota::half_of(15.0, 3.0)),
    ("CreateHostedZone", Quota::half_of(40.0, 2.0)),
];

impl Default for RateLimits {
    fn default() -> Self {
        let mut limits = RateLimits::new(&[
            (Service::ApiGateway, 10.0),
            (Service::DynamoDb, 50.0),
            (Service::CloudWatch, 50.0),
            (Service::Arc, 3.0),
        ]);
        let inner = Arc::get_mut(&mut limits.inner).expect("not shared yet");
        inner
            .services
            .insert(Service::Route53, Quota::half_of(50.0, 10.0));
        for &(op, q) in ROUTE53_OPERATIONS {
            inner.operations.insert((Service::Route53, op), q);
        }
        for &(op, q) in KMS_OPERATIONS {
            inner.operations.insert((Service::Kms, op), q);
        }
        inner.other_operations.insert(Service::Kms, KMS_OTHER);
        limits
    }
}

impl RateLimits {
    /// Limits in requests per second; a service not listed is not limited. Bursts are one
    /// second's worth of requests.
    pub fn new(per_second: &[(Service, f64)]) -> RateLimits {
        RateLimits {
            inner: Arc::new(Limits {
                services: per_second
                    .iter()
                    .filter(|(_, r)| *r > 0.0)
                    .map(|&(s, r)| {
                        (
                            s,
                            Quota {
                                burst: r.max(1.0),
                                rate: r,
                            },
                        )
                    })
                    .collect(),
                operations: BTreeMap::new(),
                other_operations: BTreeMap::new(),
                buckets: Mutex::default(),
            }),
        }
    }

    /// The account-level quota drillbook keeps to for `service`, if it limits it.
    pub fn quota(&self, service: Service) -> Option<Quota> {
        self.inner.services.get(&service).copied()
    }

    /// Whether `service`'s quota is per Region (Route 53's, IAM's are global).
    fn regional(service: Service) -> bool {
        !matches!(service, Service::Route53 | Service::Iam)
    }

    fn bucket(&self, key: Key, q: Quota) -> Arc<Bucket> {
        self.inner
            .buckets
            .lock()
            .expect("rate buckets poisoned")
            .entry(key)
            .or_insert_with(|| Arc::new(Bucket::new(q)))
            .clone()
    }

    /// Waits until one more request to `service` from the caller's own account stays within
    /// its rate.
    pub async fn acquire(&self, service: Service) {
        self.acquire_in(service, Scope::default()).await;
    }

    /// Waits until one more request to `service` in `scope` stays within the rate of the
    /// account's bucket and, where the service has one, the operation's.
    pub async fn acquire_in(&self, service: Service, scope: Scope<'_>) {
        let region = if RateLimits::regional(service) {
            scope.region.to_string()
        } else {
            String::new()
        };
        let account = scope.account.map(str::to_string);
        let mut wait = Duration::ZERO;
        if let Some(&q) = self.inner.services.get(&service) {
            let key = (service, account.clone(), region.clone(), String::new());
            wait = wait.max(self.bucket(key, q).reserve());
        }
        if let Some(op) = scope.operation {
            let op = if service == Service::Kms && KMS_CRYPTO_OPERATIONS.contains(&op) {
                KMS_CRYPTO
            } else {
                op
            };
            let quota = self
                .inner
                .operations
                .get(&(service, op))
                .copied()
                .or_else(|| self.inner.other_operations.get(&service).copied());
            if let Some(q) = quota {
                let key = (service, account, region, op.to_string());
                wait = wait.max(self.bucket(key, q).reserve());
            }
        }
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

/// The operation of a request of a JSON-protocol service (KMS): its `X-Amz-Target` header,
/// `TrentService.DescribeKey` (AWS KMS API reference, "Making HTTP requests").
pub(crate) fn json_operation(target: &str) -> Option<&str> {
    target
        .rsplit_once('.')
        .map(|(_, op)| op)
        .filter(|op| !op.is_empty())
}

/// The account of an IAM role's ARN (`arn:PARTITION:iam::ACCOUNT:role/NAME`).
pub(crate) fn account_of(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| !a.is_empty())
}

/// The Route 53 operation of a request, for the operations with buckets of their own
/// (Route 53 API reference: `GET /2013-04-01/healthcheck/{Id}/status` is GetHealthCheckStatus,
/// `.../lastfailurereason` GetHealthCheckLastFailureReason, `POST /2013-04-01/healthcheck`
/// CreateHealthCheck, `DELETE /2013-04-01/healthcheck/{Id}` DeleteHealthCheck,
/// `POST /2013-04-01/hostedzone` CreateHostedZone).
/// `uri` may be a whole URI (`https://HOST/PATH?QUERY`) or its path.
pub(crate) fn route53_operation(method: &str, uri: &str) -> Option<&'static str> {
    let path = match uri.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => uri,
    };
    let path = path.split('?').next().unwrap_or(path).trim_end_matches('/');
    let rest = path.strip_prefix("/2013-04-01/")?;
    let parts: Vec<&str> = rest.split('/').collect();
    match (method, parts.as_slice()) {
        ("GET", ["healthcheck", _, "status"]) => Some("GetHealthCheckStatus"),
        ("GET", ["healthcheck", _, "lastfailurereason"]) => Some("GetHealthCheckLastFailureReason"),
        ("POST", ["healthcheck"]) => Some("CreateHealthCheck"),
        ("DELETE", ["healthcheck", _]) => Some("DeleteHealthCheck"),
        ("POST", ["hostedzone"]) => Some("CreateHostedZone"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// When each of `n` concurrent requests in `scope` went, sorted.
    async fn times(limits: &RateLimits, n: usize, account: Option<&'static str>) -> Vec<Duration> {
        let start = Instant::now();
        let mut tasks = vec![];
        for _ in 0..n {
            let l = limits.clone();
            tasks.push(tokio::spawn(async move {
                let scope = Scope {
                    account,
                    region: "us-east-1",
                    operation: Some("ChangeResourceRecordSets"),
                };
                l.acquire_in(Service::Route53, scope).await;
                Instant::now()
            }));
        }
        let mut times = vec![];
        for t in tasks {
            times.push(t.await.unwrap() - start);
        }
        times.sort();
        times
    }

    #[tokio::test(start_paused = true)]
    async fn route53_is_a_burst_of_25_then_5_per_second_per_account() {
        let limits = RateLimits::default();
        assert_eq!(
            limits.quota(Service::Route53),
            Some(Quota {
                burst: 25.0,
                rate: 5.0
            })
        );
        let times = times(&limits, 45, Some("111111111111")).await;
        // 25 at once (the burst), then 5 per second: the 26th at 0.2 s, the 45th at 4 s.
        assert_eq!(times[24], Duration::ZERO);
        assert!(times[25] >= Duration::from_millis(199), "{:?}", times[25]);
        let last = *times.last().unwrap();
        assert!(
            last >= Duration::from_millis(3990) && last <= Duration::from_millis(4010),
            "{last:?}"
        );
        // After the burst, in any window of one second, at most 5 more.
        for w in times[25..].windows(6) {
            assert!(w[5] - w[0] >= Duration::from_millis(999), "{w:?}");
        }
        // Core is not limited.
        let t = Instant::now();
        for _ in 0..1000 {
            limits.acquire(Service::Core).await;
        }
        assert_eq!(Instant::now(), t);
    }

    #[tokio::test(start_paused = true)]
    async fn two_accounts_do_not_share_a_bucket() {
        let limits = RateLimits::default();
        // Account A spends its burst and more...
        let a = times(&limits, 30, Some("111111111111")).await;
        assert!(a[29] >= Duration::from_millis(999), "{:?}", a[29]);
        // ...account B (and the caller's own) still have theirs whole.
        let t = Instant::now();
        let b = times(&limits, 25, Some("222222222222")).await;
        assert_eq!(b[24], Duration::ZERO);
        let own = times(&limits, 25, None).await;
        assert_eq!(own[24], Duration::ZERO);
        assert_eq!(Instant::now(), t);
        // While A's next request still waits for its refill.
        let next = times(&limits, 1, Some("111111111111")).await;
        assert!(next[0] > Duration::ZERO, "{next:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn regional_quotas_are_per_region_and_route53_is_global() {
        let limits = RateLimits::default();
        let at = |region| Scope {
            account: Some("111111111111"),
            region,
            operation: None,
        };
        let t = Instant::now();
        for _ in 0..10 {
            limits
                .acquire_in(Service::ApiGateway, at("ca-central-1"))
                .await;
        }
        for _ in 0..10 {
            limits
                .acquire_in(Service::ApiGateway, at("eu-west-1"))
                .await;
        }
        assert_eq!(
            Instant::now(),
            t,
            "each Region has its own API Gateway bucket of 10"
        );
        for _ in 0..25 {
            limits.acquire_in(Service::Route53, at("us-east-1")).await;
        }
        assert_eq!(Instant::now(), t);
        // Route 53's bucket is the account's whatever Region the client names.
        limits.acquire_in(Service::Route53, at("eu-west-1")).await;
        assert!(Instant::now() - t >= Duration::from_millis(199));
    }

    #[tokio::test(start_paused = true)]
    async fn get_health_check_status_has_its_own_smaller_bucket() {
        let limits = RateLimits::default();
        let status = Scope {
            account: Some("111111111111"),
            region: "us-east-1",
            operation: Some("GetHealthCheckStatus"),
        };
        let t = Instant::now();
        // Half of 4 refilled at 1/s: 2 at once, the third 2 s later.
        limits.acquire_in(Service::Route53, status).await;
        limits.acquire_in(Service::Route53, status).await;
        assert_eq!(Instant::now(), t);
        limits.acquire_in(Service::Route53, status).await;
        let waited = Instant::now() - t;
        assert!(
            waited >= Duration::from_millis(1990) && waited <= Duration::from_millis(2010),
            "{waited:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn kms_quotas_are_per_operation() {
        let limits = RateLimits::default();
        let op = |operation| Scope {
            account: Some("111111111111"),
            region: "eu-west-1",
            operation: Some(operation),
        };
        let t = Instant::now();
        // Key checks and cryptographic calls do not wait for each other, nor for a promotion.
        for _ in 0..40 {
            limits.acquire_in(Service::Kms, op("DescribeKey")).await;
        }
        for name in ["Encrypt", "Decrypt", "GenerateDataKey"] {
            for _ in 0..100 {
                limits.acquire_in(Service::Kms, op(name)).await;
            }
        }
        limits
            .acquire_in(Service::Kms, op("UpdatePrimaryRegion"))
            .await;
        limits
            .acquire_in(Service::Kms, op("UpdatePrimaryRegion"))
            .await;
        assert_eq!(Instant::now(), t);
        // A management operation is 2.5 per second after its burst of 2.5: the third waits
        // for the half token it lacks, 0.2 s.
        limits
            .acquire_in(Service::Kms, op("UpdatePrimaryRegion"))
            .await;
        let waited = Instant::now() - t;
        assert!(
            waited >= Duration::from_millis(190) && waited <= Duration::from_millis(210),
            "{waited:?}"
        );
        assert_eq!(
            json_operation("TrentService.DescribeKey"),
            Some("DescribeKey")
        );
        assert_eq!(json_operation("nothing"), None);
    }

    #[test]
    fn accounts_and_operations_are_read_from_requests() {
        assert_eq!(
            account_of("arn:aws:iam::222222222222:role/OrganizationAccountAccessRole"),
            Some("222222222222")
        );
        assert_eq!(account_of("not-an-arn"), None);
        assert_eq!(
            route53_operation("GET", "/2013-04-01/healthcheck/abc-123/status"),
            Some("GetHealthCheckStatus")
        );
        assert_eq!(
            route53_operation("POST", "/2013-04-01/healthcheck"),
            Some("CreateHealthCheck")
        );
        assert_eq!(
            route53_operation("POST", "/2013-04-01/hostedzone/Z1/rrset/"),
            None
        );
        assert_eq!(
            route53_operation("GET", "/2013-04-01/healthcheck/abc"),
            None
        );
        assert_eq!(
            route53_operation(
                "GET",
                "http://127.0.0.1:4566/2013-04-01/healthcheck/abc/status?x=1"
            ),
            Some("GetHealthCheckStatus")
        );
    }
}
