//! AWS access shared by the actions: one SDK configuration from the standard chain
//! (profiles, SSO, environment, `AWS_ENDPOINT_URL`), clients per Region, the caller identity,
//! AWS errors turned into [`ActionError`]s with the service's code and message, and the
//! game-day Region impairment (an SDK interceptor that refuses calls to impaired Regions).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse, Metadata};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::limits::RateLimits;
use super::{ActionError, AwsFailure, Service};
pub use crate::catalog::Impairment;
use crate::runbook::CallTimeouts;
use crate::runbook::model::Role;
pub use aws_sdk_sts::config::SharedCredentialsProvider;

/// Settings that shape every AWS client of a run.
#[derive(Debug, Clone, Default)]
pub struct AwsOptions {
    /// `--profile`.
    pub profile: Option<String>,
    /// Regions whose calls fail as if unreachable.
    pub impaired: Vec<Impairment>,
    /// The DNS server `dns.resolve` and alias answers ask (`HOST:PORT`); `None`: the system's
    /// resolvers. [`Aws::load`] takes `DRILLBOOK_DNS_SERVER` when it is not set.
    pub dns_server: Option<String>,
}

/// The role session name of a run: `drillbook-<run id>`, within AWS's 64 characters of
/// `[\w+=,.@-]` (run ids are `YYYYMMDD-HHMMSS-xxxx`).
pub fn session_name(run_id: &str) -> String {
    let id: String = run_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_+=,.@-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(54)
        .collect();
    format!("drillbook-{id}")
}

pub use crate::event::{AwsCall, Identity, ImpairedCall, is_scp_denial};

/// Values found by name, keyed by (the role they were read as, the name).
type Lookups = std::collections::HashMap<(Option<String>, String), String>;

/// The role the current step signs with, if it assumes one.
fn current_role_arn() -> Option<String> {
    STEP_ROLE
        .try_with(|r| r.as_ref().map(|r| r.arn.clone()))
        .ok()
        .flatten()
}

tokio::task_local! {
    static CURRENT_STEP: String;
    static CALL_TIMEOUTS: CallTimeouts;
    /// The role the current step assumes (`role_arn`), if it names one.
    static STEP_ROLE: Option<StepRole>;
}

/// Runs `fut` with `step` recorded as the current step, so refused calls name their step.
pub async fn in_step<F: std::future::Future>(step: &str, fut: F) -> F::Output {
    in_step_with(step, CallTimeouts::default(), fut).await
}

/// [`in_step`], with the step's `connect_timeout` and `call_timeout` applied to every client
/// built inside it (unset ones keep the run's: 3 s and 20 s unless the AWS config sets others).
pub async fn in_step_with<F: std::future::Future>(
    step: &str,
    timeouts: CallTimeouts,
    fut: F,
) -> F::Output {
    // Inside [`as_role`] (a fleet's drill acting in its target's account), the role stays.
    let role = STEP_ROLE.try_with(|r| r.clone()).ok().flatten();
    in_step_as(step, timeouts, role, fut).await
}

/// Runs `fut` with every client built inside it signing with `role`'s credentials (a drill
/// across targets: its damage, faults and expectations act in the target's account).
pub async fn as_role<F: std::future::Future>(role: Option<StepRole>, fut: F) -> F::Output {
    STEP_ROLE.scope(role, fut).await
}

/// The role a step assumes and its credentials (from [`Aws::role_credentials`]).
#[derive(Debug, Clone)]
pub struct StepRole {
    pub arn: String,
    pub credentials: SharedCredentialsProvider,
}

/// [`in_step_with`], with every client built inside it signing with `role`'s credentials
/// instead of the caller's.
pub async fn in_step_as<F: std::future::Future>(
    step: &str,
    timeouts: CallTimeouts,
    role: Option<StepRole>,
    fut: F,
) -> F::Output {
    CURRENT_STEP
        .scope(
            step.to_string(),
            CALL_TIMEOUTS.scope(timeouts, STEP_ROLE.scope(role, fut)),
        )
        .await
}

/// Operations that only read (by the name's first word): the rest change something and are
/// recorded for CloudTrail. KMS's cryptographic operations change nothing either.
const READ_ONLY_PREFIXES: &[&str] = &[
    "Describe",
    "Get",
    "List",
    "Test",
    "Lookup",
    "Query",
    "Scan",
    "BatchGet",
    "Encrypt",
    "Decrypt",
    "GenerateDataKey",
    "Sign",
    "Verify",
    "Simulate",
];

fn is_mutating(operation: &str) -> bool {
    !READ_ONLY_PREFIXES.iter().any(|p| operation.starts_with(p))
}

/// AWS access for one run.
pub struct Aws {
    base: SdkConfig,
    pub options: AwsOptions,
    refused: Arc<Mutex<Vec<ImpairedCall>>>,
    /// Request-rate limits per account, service and Region, shared by every step of the run.
    limits: super::limits::RateLimits,
    /// Assumed-role credentials per role and step, kept in memory only.
    roles: Arc<Mutex<std::collections::HashMap<(Role, String), SharedCredentialsProvider>>>,
    /// Calls that changed something, until the engine journals them ([`Aws::take_calls`]).
    calls: Arc<Mutex<Vec<AwsCall>>>,
    /// Names looked up once per run ([`Aws::remembered`]), by the role they were read as.
    lookups: Arc<Mutex<Lookups>>,
}

impl std::fmt::Debug for Aws {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Aws")
            .field("options", &self.options)
            .finish()
    }
}

impl Aws {
    /// Loads the configuration chain. Makes no AWS call.
    pub async fn load(options: AwsOptions) -> Aws {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(p) = &options.profile {
            loader = loader.profile_name(p);
        }
        let base = loader.load().await;
        Aws::with_config(base, options)
    }

    /// A handle on a configuration loaded already (a command loads it once), with the
    /// environment's defaults [`Aws::load`] applies (`DRILLBOOK_DNS_SERVER`).
    pub fn with_config(base: SdkConfig, mut options: AwsOptions) -> Aws {
        if options.dns_server.is_none() {
            options.dns_server = std::env::var(super::dns::DNS_SERVER_ENV)
                .ok()
                .filter(|s| !s.trim().is_empty());
        }
        Aws::from_config(base, options)
    }

    /// Uses a given SDK configuration (tests point it at the emulator).
    pub fn from_config(base: SdkConfig, options: AwsOptions) -> Aws {
        Aws {
            base: with_default_timeouts(with_http_client(base)),
            options,
            refused: Arc::default(),
            limits: super::limits::RateLimits::default(),
            roles: Arc::default(),
            calls: Arc::default(),
            lookups: Arc::default(),
        }
    }

    /// What `key` (e.g. a hosted zone's name) was found to be earlier in this run, by the same
    /// role as the current step's: for lookups whose answer does not change during a run, so
    /// that a run spends its request quota (Route 53: 10 requests per second per account) on
    /// what does change.
    pub fn remembered(&self, key: &str) -> Option<String> {
        let k = (current_role_arn(), key.to_string());
        self.lookups
            .lock()
            .expect("lookups poisoned")
            .get(&k)
            .cloned()
    }

    /// Keeps what `key` was found to be, for [`Aws::remembered`].
    pub fn remember(&self, key: &str, value: &str) {
        let k = (current_role_arn(), key.to_string());
        self.lookups
            .lock()
            .expect("lookups poisoned")
            .insert(k, value.to_string());
    }

    /// The calls that changed something made so far by `step` (removed from the log).
    pub fn take_calls(&self, step: &str) -> Vec<AwsCall> {
        let mut calls = self.calls.lock().expect("call log poisoned");
        let (mine, rest): (Vec<AwsCall>, Vec<AwsCall>) = calls
            .drain(..)
            .partition(|c| c.step.as_deref() == Some(step));
        *calls = rest;
        mine
    }

    /// Credentials of `role` for one step of run `run_id`: STS AssumeRole with the caller's
    /// credentials, in `region`, with session name `drillbook-<run id>` (so CloudTrail shows
    /// which run acted) and the session tags `drillbook:run-id` and `drillbook:step`, with the
    /// role's `external_id` and `duration` when set. Cached per role and step, in memory only;
    /// the SDK's identity cache asks STS again before they expire, so a step that outlasts one
    /// session (a long PITR restore) keeps working. No call is made until the step's first
    /// AWS request.
    pub async fn role_credentials(
        &self,
        role: &Role,
        run_id: &str,
        step: &str,
        region: &str,
    ) -> SharedCredentialsProvider {
        let key = (role.clone(), step.to_string());
        if let Some(p) = self.roles.lock().expect("role cache poisoned").get(&key) {
            return p.clone();
        }
        let mut b = aws_config::sts::AssumeRoleProvider::builder(role.arn.clone())
            .session_name(session_name(run_id))
            .tags([("drillbook:run-id", run_id), ("drillbook:step", step)])
            .configure(&self.config(region));
        if let Some(x) = &role.external_id {
            b = b.external_id(x.clone());
        }
        if let Some(d) = role.duration {
            b = b.session_length(d);
        }
        let provider = SharedCredentialsProvider::new(b.build().await);
        self.roles
            .lock()
            .expect("role cache poisoned")
            .entry(key)
            .or_insert(provider)
            .clone()
    }

    /// When the caller's credentials expire, if they say (SSO and assumed-role sessions do;
    /// long-term keys do not). `None` also when they cannot be loaded: the run then says so
    /// at its first call.
    pub async fn credentials_expiry(&self) -> Option<std::time::SystemTime> {
        use aws_sdk_sts::config::ProvideCredentials;
        let provider = self.base.credentials_provider()?;
        provider.provide_credentials().await.ok()?.expiry()
    }

    /// The run's rate limiter. Every request of the clients below already passes through it
    /// (see `Paced`); other callers may `acquire` directly.
    pub fn limits(&self) -> &super::limits::RateLimits {
        &self.limits
    }

    /// The endpoint every AWS request of the run goes to, when the configuration overrides it
    /// (`AWS_ENDPOINT_URL`, `endpoint_url` in a profile): an emulator, or a proxy.
    pub fn endpoint_url(&self) -> Option<String> {
        self.base.endpoint_url().map(str::to_string)
    }

    /// The SDK configuration for a Region.
    pub fn config(&self, region: &str) -> SdkConfig {
        self.base
            .to_builder()
            .region(Region::new(region.to_string()))
            .build()
    }

    /// Calls refused by the impairment so far.
    pub fn refused_calls(&self) -> Vec<ImpairedCall> {
        self.refused
            .lock()
            .expect("impairment log poisoned")
            .clone()
    }

    /// The configuration for one service in a Region, its HTTP client paced by the run's limits.
    fn service_config(&self, region: &str, service: Service) -> SdkConfig {
        let mut b = self
            .base
            .to_builder()
            .region(Region::new(region.to_string()));
        // Quotas are per account: the step's role's account, else the caller's.
        let mut account = None;
        if let Ok(Some(role)) = STEP_ROLE.try_with(|r| r.clone()) {
            account = super::limits::account_of(&role.arn).map(str::to_string);
            b = b.credentials_provider(role.credentials);
        }
        if let Some(inner) = self.base.http_client() {
            b = b.http_client(Paced {
                inner,
                limits: self.limits.clone(),
                service,
                account,
                region: region.to_string(),
            });
        }
        let step = CALL_TIMEOUTS.try_with(|t| *t).unwrap_or_default();
        if !step.is_default() {
            let run = self.base.timeout_config();
            let mut t = aws_config::timeout::TimeoutConfig::builder();
            if let Some(d) = step.connect.or(run.and_then(|t| t.connect_timeout())) {
                t = t.connect_timeout(d);
            }
            if let Some(d) = step
                .attempt
                .or(run.and_then(|t| t.operation_attempt_timeout()))
            {
                t = t.operation_attempt_timeout(d);
            }
            if let Some(d) = run.and_then(|t| t.read_timeout()) {
                t = t.read_timeout(d);
            }
            if let Some(d) = run.and_then(|t| t.operation_timeout()) {
                t = t.operation_timeout(d);
            }
            b = b.timeout_config(t.build());
        }
        b.build()
    }

    fn guard(&self, region: &str) -> RegionGuard {
        self.guard_for(region, None)
    }

    /// A guard that matches service-scoped impairments by the catalogue's service name
    /// (`catalog`) instead of the SDK's service name, for services whose SDK names do not
    /// contain the catalogue's (ARC: `Route53RecoveryCluster` is impaired as `arc`).
    fn guard_for(&self, region: &str, catalog: Option<Service>) -> RegionGuard {
        RegionGuard {
            catalog: catalog.map(Service::name),
            region: region.to_string(),
            impaired: self
                .options
                .impaired
                .iter()
                .filter(|i| i.region == region)
                .map(|i| i.service.clone())
                .collect(),
            refused: self.refused.clone(),
            calls: self.calls.clone(),
        }
    }

    pub fn dynamodb(&self, region: &str) -> aws_sdk_dynamodb::Client {
        let conf = aws_sdk_dynamodb::config::Builder::from(
            &self.service_config(region, Service::DynamoDb),
        )
        .interceptor(self.guard(region))
        .build();
        aws_sdk_dynamodb::Client::from_conf(conf)
    }
    pub fn kms(&self, region: &str) -> aws_sdk_kms::Client {
        let conf = aws_sdk_kms::config::Builder::from(&self.service_config(region, Service::Kms))
            .interceptor(self.guard(region))
            .build();
        aws_sdk_kms::Client::from_conf(conf)
    }
    pub fn apigateway(&self, region: &str) -> aws_sdk_apigateway::Client {
        let conf = aws_sdk_apigateway::config::Builder::from(
            &self.service_config(region, Service::ApiGateway),
        )
        .interceptor(self.guard(region))
        .build();
        aws_sdk_apigateway::Client::from_conf(conf)
    }
    /// Route 53's control plane is in us-east-1 whatever the step's Region.
    pub fn route53(&self) -> aws_sdk_route53::Client {
        let conf = aws_sdk_route53::config::Builder::from(
            &self.service_config("us-east-1", Service::Route53),
        )
        .interceptor(self.guard("us-east-1"))
        .build();
        aws_sdk_route53::Client::from_conf(conf)
    }
    /// DynamoDB Streams in `region` (the stream of a table's item-level changes).
    pub fn dynamodb_streams(&self, region: &str) -> aws_sdk_dynamodbstreams::Client {
        let conf = aws_sdk_dynamodbstreams::config::Builder::from(
            &self.service_config(region, Service::DynamoDb),
        )
        .interceptor(self.guard_for(region, Some(Service::DynamoDb)))
        .build();
        aws_sdk_dynamodbstreams::Client::from_conf(conf)
    }
    /// IAM is a global service: its control plane, the one API endpoint `iam.amazonaws.com`, is
    /// signed for and served from us-east-1, whatever the step's Region (AWS General Reference,
    /// "AWS Identity and Access Management endpoints and quotas"; AWS Fault Isolation
    /// Boundaries whitepaper, "Global services").
    pub fn iam(&self) -> aws_sdk_iam::Client {
        let conf =
            aws_sdk_iam::config::Builder::from(&self.service_config("us-east-1", Service::Iam))
                .interceptor(self.guard("us-east-1"))
                .build();
        aws_sdk_iam::Client::from_conf(conf)
    }
    pub fn cloudwatch(&self, region: &str) -> aws_sdk_cloudwatch::Client {
        let conf = aws_sdk_cloudwatch::config::Builder::from(
            &self.service_config(region, Service::CloudWatch),
        )
        .interceptor(self.guard(region))
        .build();
        aws_sdk_cloudwatch::Client::from_conf(conf)
    }
    /// Amazon RDS in `region` (a Regional service: DB instances and clusters live in one Region).
    pub fn rds(&self, region: &str) -> aws_sdk_rds::Client {
        let conf = aws_sdk_rds::config::Builder::from(&self.service_config(region, Service::Rds))
            .interceptor(self.guard_for(region, Some(Service::Rds)))
            .build();
        aws_sdk_rds::Client::from_conf(conf)
    }
    /// CloudTrail in `region` (event history: LookupEvents), signed with the current step's
    /// role when [`in_step_as`] set one.
    pub fn cloudtrail(&self, region: &str) -> aws_sdk_cloudtrail::Client {
        let conf =
            aws_sdk_cloudtrail::config::Builder::from(&self.service_config(region, Service::Core))
                .interceptor(self.guard(region))
                .build();
        aws_sdk_cloudtrail::Client::from_conf(conf)
    }
    /// AWS Fault Injection Service in `region`, for a drill's `faults:`. Not behind the
    /// impairment: the experiments are the drill's own instrument, not part of the recovery the
    /// `impair:` fence judges (a game day starts and stops them whatever drillbook may reach).
    pub fn fis(&self, region: &str) -> aws_sdk_fis::Client {
        aws_sdk_fis::Client::new(&self.service_config(region, Service::Core))
    }
    /// AWS Organizations (its API is in us-east-1), as the caller: the organization's
    /// management account or a delegated administrator lists its OUs and accounts.
    pub fn organizations(&self) -> aws_sdk_organizations::Client {
        aws_sdk_organizations::Client::new(
            &self.service_config(super::organizations::ORGANIZATIONS_REGION, Service::Core),
        )
    }
    pub fn sts(&self, region: &str) -> aws_sdk_sts::Client {
        let conf = aws_sdk_sts::config::Builder::from(&self.service_config(region, Service::Core))
            .interceptor(self.guard(region))
            .build();
        aws_sdk_sts::Client::from_conf(conf)
    }

    /// Whether a game-day impairment makes `service` in `region` unreachable (an impairment of
    /// the whole Region, or of that service there).
    pub fn is_impaired(&self, region: &str, service: Service) -> bool {
        self.options
            .impaired
            .iter()
            .any(|i| i.region == region && i.service.as_deref().is_none_or(|s| s == service.name()))
    }

    /// ARC's routing-control data plane at one of a cluster's Regional endpoints, signed for
    /// that endpoint's Region: "You must specify one of these Regional endpoints (the AWS Region
    /// and the endpoint URL) ... you must also specify the --region of the Regional endpoint"
    /// (ARC developer guide, "List and update routing controls and states with the AWS CLI",
    /// <https://docs.aws.amazon.com/r53recovery/latest/dg/getting-started-cli-routing.control-state.html>).
    /// The URL is used as given, path included (real endpoints end in `/v1`).
    ///
    /// One attempt per call: the caller moves on to the next endpoint instead of retrying this
    /// one ("be prepared to retry with each of the available endpoints", same page).
    pub fn arc_cluster(
        &self,
        region: &str,
        endpoint_url: &str,
    ) -> aws_sdk_route53recoverycluster::Client {
        use aws_sdk_route53recoverycluster::config::retry::RetryConfig;
        let conf = aws_sdk_route53recoverycluster::config::Builder::from(
            &self.service_config(region, Service::Arc),
        )
        .endpoint_url(endpoint_url)
        .retry_config(RetryConfig::standard().with_max_attempts(1))
        .interceptor(self.guard_for(region, Some(Service::Arc)))
        .build();
        aws_sdk_route53recoverycluster::Client::from_conf(conf)
    }

    /// ARC's Recovery Control Config API (the control plane: DescribeCluster, ...), which is
    /// called in us-west-2: "you must specify the US West (Oregon) Region for Route 53 ARC API
    /// calls" (Routing Control API reference, Welcome,
    /// <https://docs.aws.amazon.com/routing-control/latest/APIReference/Welcome.html>).
    pub fn arc_config(&self) -> aws_sdk_route53recoverycontrolconfig::Client {
        let conf = aws_sdk_route53recoverycontrolconfig::config::Builder::from(
            &self.service_config(ARC_CONFIG_REGION, Service::Arc),
        )
        .interceptor(self.guard_for(ARC_CONFIG_REGION, Some(Service::Arc)))
        .build();
        aws_sdk_route53recoverycontrolconfig::Client::from_conf(conf)
    }

    /// ECS in `region` (services and their deployments).
    pub fn ecs(&self, region: &str) -> aws_sdk_ecs::Client {
        let conf = aws_sdk_ecs::config::Builder::from(&self.service_config(region, Service::Ecs))
            .interceptor(self.guard_for(region, Some(Service::Ecs)))
            .build();
        aws_sdk_ecs::Client::from_conf(conf)
    }
    /// Systems Manager in `region` (Parameter Store).
    pub fn ssm(&self, region: &str) -> aws_sdk_ssm::Client {
        let conf = aws_sdk_ssm::config::Builder::from(&self.service_config(region, Service::Ssm))
            .interceptor(self.guard_for(region, Some(Service::Ssm)))
            .build();
        aws_sdk_ssm::Client::from_conf(conf)
    }
    /// Amazon S3 in `region`, the bucket's Region. With an endpoint override (an emulator, a
    /// proxy) requests are path-style: a virtual-hosted-style host `BUCKET.127.0.0.1` names no
    /// server (Amazon S3 user guide, "Virtual hosting of buckets": path-style requests remain
    /// supported); on AWS the SDK's virtual-hosted style is kept.
    pub fn s3(&self, region: &str) -> aws_sdk_s3::Client {
        let conf = aws_sdk_s3::config::Builder::from(&self.service_config(region, Service::S3))
            .force_path_style(self.base.endpoint_url().is_some())
            .interceptor(self.guard_for(region, Some(Service::S3)))
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    /// Who is calling (STS GetCallerIdentity in `region`).
    pub async fn identity(&self, region: &str) -> Result<Identity, ActionError> {
        let out = self
            .sts(region)
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| aws_error("sts", "GetCallerIdentity", region, e))?;
        Ok(Identity {
            account: out.account().unwrap_or_default().to_string(),
            arn: out.arn().unwrap_or_default().to_string(),
        })
    }
}

/// An HTTP client that waits for the run's rate limit of the service, in the account that
/// signs and the Region it calls, before each request (SDK retries included), so the engine
/// stays under AWS's API quotas on its own.
#[derive(Debug, Clone)]
struct Paced {
    inner: SharedHttpClient,
    limits: RateLimits,
    service: Service,
    /// The account of the step's role; `None`: the caller's.
    account: Option<String>,
    region: String,
}

impl HttpClient for Paced {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(PacedConnector {
            inner: self.inner.http_connector(settings, components),
            limits: self.limits.clone(),
            service: self.service,
            account: self.account.clone(),
            region: self.region.clone(),
        })
    }
}

#[derive(Debug)]
struct PacedConnector {
    inner: SharedHttpConnector,
    limits: RateLimits,
    service: Service,
    account: Option<String>,
    region: String,
}

impl HttpConnector for PacedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let inner = self.inner.clone();
        let limits = self.limits.clone();
        let service = self.service;
        let account = self.account.clone();
        let region = self.region.clone();
        // Route 53 and KMS have per-operation buckets; Route 53's REST paths name the
        // operation, KMS's X-Amz-Target header does.
        let operation: Option<String> = match service {
            Service::Route53 => super::limits::route53_operation(request.method(), request.uri())
                .map(str::to_string),
            Service::Kms => request
                .headers()
                .get("x-amz-target")
                .and_then(super::limits::json_operation)
                .map(str::to_string),
            _ => None,
        };
        HttpConnectorFuture::new(async move {
            let scope = super::limits::Scope {
                account: account.as_deref(),
                region: &region,
                operation: operation.as_deref(),
            };
            limits.acquire_in(service, scope).await;
            inner.call(request).await
        })
    }
}

/// The Region of ARC's Recovery Control Config API (see [`Aws::arc_config`]).
pub const ARC_CONFIG_REGION: &str = "us-west-2";

/// How long an AWS call may take to connect, unless the configuration says otherwise.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long one attempt of an AWS call may take, unless the configuration says otherwise.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(20);

/// Gives the configuration an HTTPS client when it names none (what `aws_config::defaults`
/// loads: each service client would then build the SDK's default itself, out of reach), so
/// that [`Aws::service_config`] has a client to pace. Without it no request was paced. The
/// client is the SDK's default: hyper 1.x, rustls with aws-lc, the `HTTPS_PROXY`/`NO_PROXY`
/// environment honoured.
pub fn with_http_client(base: SdkConfig) -> SdkConfig {
    use aws_smithy_http_client::{Builder, ConnectorBuilder, proxy::ProxyConfig, tls};
    if base.http_client().is_some() {
        return base;
    }
    let client = Builder::new().build_with_connector_fn(|settings, components| {
        let mut conn = ConnectorBuilder::default().tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::AwsLc,
        ));
        conn.set_connector_settings(settings.cloned());
        if let Some(c) = components {
            conn.set_sleep_impl(c.sleep_impl());
        }
        conn.set_proxy_config(Some(ProxyConfig::from_env()));
        conn.build()
    });
    base.to_builder().http_client(client).build()
}

/// Gives every call a connect and an attempt timeout where the configuration sets none, so a
/// Region that accepts connections and never answers costs seconds, not the step's timeout
/// times its attempts.
fn with_default_timeouts(base: SdkConfig) -> SdkConfig {
    let t = base.timeout_config();
    let mut b = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(
            t.and_then(|t| t.connect_timeout())
                .unwrap_or(CONNECT_TIMEOUT),
        )
        .operation_attempt_timeout(
            t.and_then(|t| t.operation_attempt_timeout())
                .unwrap_or(ATTEMPT_TIMEOUT),
        );
    if let Some(d) = t.and_then(|t| t.read_timeout()) {
        b = b.read_timeout(d);
    }
    if let Some(d) = t.and_then(|t| t.operation_timeout()) {
        b = b.operation_timeout(d);
    }
    base.to_builder().timeout_config(b.build()).build()
}

/// The error an impaired Region's calls fail with (found again in [`aws_error`]).
#[derive(Debug, thiserror::Error)]
#[error("{region} is impaired by the game-day scenario: {service} {operation} refused")]
pub struct RegionImpaired {
    pub region: String,
    pub service: String,
    pub operation: String,
}

/// Interceptor that refuses every call to an impaired Region (or service in it) before it is
/// sent, as if the Region were unreachable.
#[derive(Debug, Clone)]
struct RegionGuard {
    /// The catalogue's name of the client's service, when impairments are matched by it.
    catalog: Option<&'static str>,
    region: String,
    /// One entry per impairment of this Region: `None` = all services.
    impaired: Vec<Option<String>>,
    refused: Arc<Mutex<Vec<ImpairedCall>>>,
    /// Where calls that changed something are logged (see [`AwsCall`]).
    calls: Arc<Mutex<Vec<AwsCall>>>,
}

impl Intercept for RegionGuard {
    fn name(&self) -> &'static str {
        "drillbook-region-impairment"
    }

    /// Logs every answered call of a mutating operation with its request id, so the journal
    /// can say which CloudTrail events are drillbook's.
    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some((service, operation)) = cfg
            .load::<Metadata>()
            .map(|m| (m.service().to_string(), m.name().to_string()))
        else {
            return Ok(());
        };
        let Some(response) = context.response() else {
            return Ok(());
        };
        if !is_mutating(&operation) {
            return Ok(());
        }
        let request_id = ["x-amzn-requestid", "x-amz-request-id", "x-amzn-request-id"]
            .iter()
            .find_map(|h| response.headers().get(*h))
            .map(str::to_string);
        let role_arn = current_role_arn();
        self.calls.lock().expect("call log poisoned").push(AwsCall {
            step: CURRENT_STEP.try_with(|s| s.clone()).ok(),
            service,
            operation,
            region: self.region.clone(),
            request_id,
            at: chrono::Utc::now(),
            status: response.status().as_u16(),
            account: role_arn
                .as_deref()
                .and_then(|a| a.split(':').nth(4))
                .map(str::to_string),
            role_arn,
        });
        Ok(())
    }

    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if self.impaired.is_empty() {
            return Ok(());
        }
        let (service, operation) = cfg
            .load::<Metadata>()
            .map(|m| (m.service().to_lowercase(), m.name().to_string()))
            .unwrap_or_default();
        let hit = self.impaired.iter().any(|s| match (s, self.catalog) {
            (None, _) => true,
            (Some(s), Some(name)) => s == name,
            (Some(s), None) => service
                .replace([' ', '-'], "")
                .contains(&s.replace([' ', '-'], "")),
        });
        if !hit {
            return Ok(());
        }
        let step = CURRENT_STEP.try_with(|s| s.clone()).ok();
        self.refused
            .lock()
            .expect("impairment log poisoned")
            .push(ImpairedCall {
                step,
                region: self.region.clone(),
                service: service.clone(),
                operation: operation.clone(),
            });
        Err(Box::new(RegionImpaired {
            region: self.region.clone(),
            service,
            operation,
        }))
    }
}

/// Codes AWS uses for throttling; worth retrying with backoff.
const THROTTLING: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "ProvisionedThroughputExceededException",
    "PriorRequestNotComplete",
    "SlowDown",
    "TransactionInProgressException",
];

fn find_in_chain<'a, T: std::error::Error + 'static>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(t) = e.downcast_ref::<T>() {
            return Some(t);
        }
        cur = e.source();
    }
    None
}

/// Turns an SDK error into an [`ActionError`] carrying the service's error code and message,
/// the request id, whether it is worth retrying, and a hint.
pub fn aws_error<E>(
    service: &str,
    operation: &str,
    region: &str,
    err: SdkError<E, HttpResponse>,
) -> ActionError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    if let Some(imp) = find_in_chain::<RegionImpaired>(&err) {
        return ActionError::Impaired {
            region: imp.region.clone(),
            service: service.to_string(),
            operation: operation.to_string(),
        };
    }
    let (code, message, retryable, request_id, status) = match &err {
        SdkError::ServiceError(se) => {
            let status = se.raw().status().as_u16();
            let code = se.err().code().unwrap_or("Unknown").to_string();
            let message = se.err().message().unwrap_or_default().to_string();
            let request_id = ["x-amzn-requestid", "x-amz-request-id", "x-amzn-request-id"]
                .iter()
                .find_map(|h| se.raw().headers().get(*h))
                .map(str::to_string);
            let retryable = status >= 500 || status == 429 || THROTTLING.contains(&code.as_str());
            (code, message, retryable, request_id, Some(status))
        }
        SdkError::TimeoutError(_) => (
            "Timeout".to_string(),
            "the request timed out".to_string(),
            true,
            None,
            None,
        ),
        SdkError::DispatchFailure(d) => (
            "ConnectionFailed".to_string(),
            aws_smithy_types::error::display::DisplayErrorContext(&err).to_string(),
            d.is_io() || d.is_timeout() || d.is_other(),
            None,
            None,
        ),
        SdkError::ResponseError(_) => (
            "BadResponse".to_string(),
            aws_smithy_types::error::display::DisplayErrorContext(&err).to_string(),
            true,
            None,
            None,
        ),
        _ => (
            "RequestFailed".to_string(),
            aws_smithy_types::error::display::DisplayErrorContext(&err).to_string(),
            false,
            None,
            None,
        ),
    };
    let lower = message.to_lowercase();
    if lower.contains("loading credentials") || lower.contains("no credentials") {
        return ActionError::Aws(Box::new(AwsFailure {
            service: service.to_string(),
            operation: operation.to_string(),
            region: region.to_string(),
            code: "NoCredentials".into(),
            message: "no AWS credentials could be loaded".into(),
            retryable: false,
            request_id: None,
            hint: "configure credentials (`aws configure`, `aws sso login`, or AWS_PROFILE); \
                   for the emulator: `eval \"$(localstack/emulator env)\"`"
                .into(),
        }));
    }
    if status == Some(501)
        || code == "NotImplemented"
        || lower.contains("not yet implemented")
        || lower.contains("pro feature")
        || lower.contains("not implemented")
    {
        return ActionError::Unsupported {
            operation: operation.to_string(),
            hint: format!(
                "the AWS endpoint in use does not implement {service} {operation} ({code}: {message}); \
                 run against AWS, or an emulator that supports it"
            ),
        };
    }
    let hint = if is_scp_denial(&code, &message) {
        // An organization guardrail, not a missing permission of the caller: AWS's denial says
        // so ("with an explicit deny in a service control policy", IAM user guide,
        // "Troubleshoot access denied error messages").
        format!(
            "the organization's service control policy (SCP) denies {service}:{operation} in \
             {region}: a Region-deny SCP must allow the recovery Region; ask the organization's \
             administrators to allow {region} for the recovery roles before the next drill"
        )
    } else {
        hint_for(service, operation, &code, retryable)
    };
    ActionError::Aws(Box::new(AwsFailure {
        service: service.to_string(),
        operation: operation.to_string(),
        region: region.to_string(),
        code,
        message,
        retryable,
        request_id,
        hint,
    }))
}

fn hint_for(service: &str, operation: &str, code: &str, retryable: bool) -> String {
    if code.contains("AccessDenied")
        || code == "UnauthorizedOperation"
        || code == "AccessDeniedException"
    {
        return format!(
            "the caller lacks permission for {service}:{operation}; `drillbook iam-policy RUNBOOK` prints the policy the runbook needs"
        );
    }
    if code.contains("NotFound") || code.contains("NoSuch") {
        return "check the resource name and the step's Region".to_string();
    }
    if code.contains("Expired")
        || code.contains("InvalidClientTokenId")
        || code.contains("UnrecognizedClient")
    {
        return "refresh your AWS credentials (for SSO: `aws sso login`)".to_string();
    }
    if code == "ConnectionFailed" {
        return "check network access to the AWS endpoint (and AWS_ENDPOINT_URL if set)"
            .to_string();
    }
    if retryable {
        return "transient; drillbook retries it as the step's `retry:` allows".to_string();
    }
    String::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offline_config() -> SdkConfig {
        SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("ca-central-1"))
            .endpoint_url("http://127.0.0.1:9")
            .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
                aws_sdk_dynamodb::config::Credentials::for_tests(),
            ))
            .build()
    }

    #[tokio::test]
    async fn impaired_region_is_refused_before_sending_and_named() {
        let aws = Aws::from_config(
            offline_config(),
            AwsOptions {
                profile: None,
                impaired: vec![Impairment {
                    region: "ca-central-1".into(),
                    service: None,
                }],
                ..Default::default()
            },
        );
        let err = in_step("probe", async {
            aws.dynamodb("ca-central-1").list_tables().send().await
        })
        .await
        .unwrap_err();
        let err = aws_error("dynamodb", "ListTables", "ca-central-1", err);
        assert!(
            matches!(&err, ActionError::Impaired { region, .. } if region == "ca-central-1"),
            "{err:?}"
        );
        let refused = aws.refused_calls();
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].step.as_deref(), Some("probe"));
        assert_eq!(refused[0].operation, "ListTables");
    }

    #[tokio::test]
    async fn other_services_pass_a_service_scoped_impairment() {
        let aws = Aws::from_config(
            offline_config(),
            AwsOptions {
                profile: None,
                impaired: vec![Impairment {
                    region: "ca-central-1".into(),
                    service: Some("kms".into()),
                }],
                ..Default::default()
            },
        );
        // DynamoDB is not impaired: the call goes out and fails to connect (nothing listens).
        let err = aws
            .dynamodb("ca-central-1")
            .list_tables()
            .send()
            .await
            .unwrap_err();
        let err = aws_error("dynamodb", "ListTables", "ca-central-1", err);
        assert!(
            matches!(&err, ActionError::Aws(f) if f.code == "ConnectionFailed"),
            "{err:?}"
        );
        let err = aws
            .kms("ca-central-1")
            .list_keys()
            .send()
            .await
            .unwrap_err();
        let err = aws_error("kms", "ListKeys", "ca-central-1", err);
        assert!(matches!(&err, ActionError::Impaired { .. }), "{err:?}");
    }
}
