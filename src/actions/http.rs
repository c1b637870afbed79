//! `http.probe`: a readiness gate on the data plane. It calls an application endpoint (the
//! secondary's API Gateway stage) the way clients do and reports its status and latency,
//! changing nothing, so a dry run probes too.
//!
//! The HTTP client is the one the AWS SDK already uses (aws-smithy-http-client: hyper 1.x,
//! rustls with aws-lc). `host` sets the Host header and the TLS server name (SNI) while the
//! connection goes to the URL's host, as `curl --connect-to` does: a custom domain name is
//! probed at one Region's Regional domain name, bypassing DNS (API Gateway DG, "Custom domain
//! names for REST APIs": the custom domain is served at the Regional domain name, whose
//! certificate names the custom domain).
//!
//! With the run's AWS endpoint overridden (`AWS_ENDPOINT_URL`: an emulator, or a proxy that
//! serves AWS's endpoints), a URL whose host is an API Gateway invoke or Regional domain name
//! (`*.execute-api.REGION.amazonaws.com`) is sent to that endpoint with the name kept in the
//! Host header, the way a private API is invoked through a VPC endpoint (API Gateway DG,
//! "Invoke a private API": with the `Host` header naming the API).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_smithy_runtime_api::client::dns::{DnsFuture, ResolveDns, ResolveDnsError};
use aws_smithy_runtime_api::client::http::{HttpConnector, HttpConnectorSettings};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_types::body::SdkBody;

use super::{Action, ActionError, ActionSpec, Finding, Observation, Outcome, StepContext};
use crate::catalog;

/// This service's actions, for the registry.
pub(super) fn all() -> Vec<Arc<dyn Action>> {
    vec![Arc::new(Probe)]
}

/// How long a connection may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long an attempt may take when the step sets no `max_latency`.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause between two attempts.
const PAUSE: Duration = Duration::from_millis(500);

/// The parts of an `http://` or `https://` URL the probe needs.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Url {
    scheme: String,
    host: String,
    port: u16,
    /// Whether the URL wrote its port.
    explicit_port: bool,
    /// Path and query, starting with `/`.
    path: String,
}

fn invalid_url(url: &str, why: &str) -> ActionError {
    ActionError::Invalid {
        message: format!("`{url}` is not an http(s) URL: {why}"),
        hint: "give `url` as https://HOST[:PORT]/PATH, e.g. the stage's invoke URL and /health"
            .into(),
    }
}

fn parse_url(url: &str) -> Result<Url, ActionError> {
    let (scheme, rest) = url
        .trim()
        .split_once("://")
        .ok_or_else(|| invalid_url(url, "no scheme"))?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => 80,
        "https" => 443,
        _ => return Err(invalid_url(url, "the scheme must be http or https")),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    let path = path.split('#').next().unwrap_or_default();
    let path = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    };
    let authority = authority.rsplit('@').next().unwrap_or_default();
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6
            .split_once(']')
            .ok_or_else(|| invalid_url(url, "an unclosed `[`"))?;
        (h.to_string(), after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (authority.to_string(), None),
        }
    };
    if host.is_empty() {
        return Err(invalid_url(url, "no host"));
    }
    let port = port
        .map(|p| p.parse::<u16>().map_err(|_| invalid_url(url, "a bad port")))
        .transpose()?;
    Ok(Url {
        scheme,
        host: host.to_ascii_lowercase(),
        port: port.unwrap_or(default_port),
        explicit_port: port.is_some(),
        path,
    })
}

/// The Region of an API Gateway invoke or Regional domain name
/// (`ID.execute-api.REGION.amazonaws.com`), or of a URL with such a host.
pub fn execute_api_region(host_or_url: &str) -> Option<String> {
    let host = match parse_url(host_or_url) {
        Ok(u) => u.host,
        Err(_) => host_or_url
            .trim()
            .trim_end_matches('.')
            .to_ascii_lowercase(),
    };
    crate::catalog::execute_api_region(&host)
}

/// Connects every name to `target` (an address, or a name resolved the system's way).
#[derive(Debug, Clone)]
struct ConnectTo {
    target: String,
}

impl ResolveDns for ConnectTo {
    fn resolve_dns<'a>(&'a self, _name: &'a str) -> DnsFuture<'a> {
        let target = self.target.clone();
        DnsFuture::new(async move {
            if let Ok(ip) = target.parse::<IpAddr>() {
                return Ok(vec![ip]);
            }
            tokio::net::lookup_host((target.as_str(), 0))
                .await
                .map(|addrs| addrs.map(|a| a.ip()).collect())
                .map_err(ResolveDnsError::new)
        })
    }
}

/// Where one probe goes: the URI asked for (its host is the name in the Host header and SNI),
/// the address connected to, and the Host header.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Route {
    uri: String,
    connect_to: String,
    host_header: String,
}

fn route(url: &Url, host: Option<&str>, endpoint: Option<&Url>) -> Route {
    let endpoint = endpoint.filter(|_| catalog::execute_api_region(&url.host).is_some());
    let (scheme, connect_to, port, explicit) = match endpoint {
        Some(e) => (e.scheme.clone(), e.host.clone(), e.port, true),
        None => (
            url.scheme.clone(),
            url.host.clone(),
            url.port,
            url.explicit_port,
        ),
    };
    let name = host
        .map(|h| h.trim().trim_end_matches('.').to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| url.host.clone());
    let bracketed = if name.contains(':') {
        format!("[{name}]")
    } else {
        name.clone()
    };
    let uri = if explicit {
        format!("{scheme}://{bracketed}:{port}{}", url.path)
    } else {
        format!("{scheme}://{bracketed}{}", url.path)
    };
    let host_header = if host.is_none() && url.explicit_port {
        format!("{bracketed}:{}", url.port)
    } else {
        bracketed
    };
    Route {
        uri,
        connect_to,
        host_header,
    }
}

/// One attempt's result: the status (None when nothing answered) and how long it took.
#[derive(Debug, Clone)]
struct Attempt {
    status: Option<u16>,
    latency: Duration,
    error: Option<String>,
}

async fn attempt(route: &Route, timeout: Duration) -> Attempt {
    let connector = aws_smithy_http_client::Connector::builder()
        .connector_settings(
            HttpConnectorSettings::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .read_timeout(timeout)
                .build(),
        )
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::AwsLc,
        ))
        .build_with_resolver(ConnectTo {
            target: route.connect_to.clone(),
        });
    let mut request = HttpRequest::new(SdkBody::empty());
    let started = Instant::now();
    if let Err(e) = request.set_uri(route.uri.as_str()) {
        return Attempt {
            status: None,
            latency: Duration::ZERO,
            error: Some(format!("bad URI {}: {e}", route.uri)),
        };
    }
    request
        .headers_mut()
        .insert("host", route.host_header.clone());
    request.headers_mut().insert(
        "user-agent",
        concat!("drillbook/", env!("CARGO_PKG_VERSION")),
    );
    let sent = tokio::time::timeout(timeout, connector.call(request)).await;
    let latency = started.elapsed();
    match sent {
        Ok(Ok(response)) => Attempt {
            status: Some(response.status().as_u16()),
            latency,
            error: None,
        },
        Ok(Err(e)) => Attempt {
            status: None,
            latency,
            error: Some(error_chain(&e)),
        },
        Err(_) => Attempt {
            status: None,
            latency,
            error: Some(format!(
                "no answer within {}",
                crate::duration::format_duration(timeout)
            )),
        },
    }
}

/// An error and its sources, on one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

/// Whether an attempt passes: the expected status, within `max_latency` when set.
fn passes(a: &Attempt, expect: u16, max_latency: Option<Duration>) -> bool {
    a.status == Some(expect) && max_latency.is_none_or(|m| a.latency <= m)
}

fn ms(d: Duration) -> u128 {
    d.as_millis()
}

/// `http.probe`.
struct Probe;

#[async_trait::async_trait]
impl Action for Probe {
    fn spec(&self) -> &'static ActionSpec {
        catalog::lookup("http.probe").expect("http.probe is in the catalogue")
    }

    async fn observe(&self, ctx: &StepContext) -> Result<Observation, ActionError> {
        let raw = ctx.params.str("url")?;
        let url = parse_url(&raw)?;
        let host = ctx.params.opt_str("host")?;
        let expect = ctx.params.opt_u64("expect_status")?.unwrap_or(200);
        let expect = u16::try_from(expect)
            .ok()
            .filter(|s| (100..600).contains(s))
            .ok_or_else(|| ActionError::Invalid {
                message: format!("`expect_status` must be an HTTP status (100-599), not {expect}"),
                hint: "check the step's `with:` block".into(),
            })?;
        let max_latency = ctx.params.opt_duration("max_latency")?;
        let attempts = ctx.params.opt_u64("attempts")?.unwrap_or(3).clamp(1, 20);
        let region =
            execute_api_region(&raw).or_else(|| host.as_deref().and_then(execute_api_region));
        if let Some(r) = &region
            && ctx
                .aws
                .options
                .impaired
                .iter()
                .any(|i| &i.region == r && i.service.is_none())
        {
            return Err(ActionError::Impaired {
                region: r.clone(),
                service: "execute-api".into(),
                operation: format!("GET {raw}"),
            });
        }
        let endpoint = ctx.aws.endpoint_url().and_then(|e| parse_url(&e).ok());
        let route = route(&url, host.as_deref(), endpoint.as_ref());
        // An attempt may take a little longer than `max_latency`, to tell "slow" from "no answer".
        let timeout = max_latency
            .map(|m| (m * 2).max(Duration::from_secs(1)))
            .unwrap_or(ATTEMPT_TIMEOUT);
        let mut tried: Vec<Attempt> = vec![];
        for i in 0..attempts {
            if i > 0 {
                tokio::time::sleep(PAUSE).await;
            }
            let a = attempt(&route, timeout).await;
            let ok = passes(&a, expect, max_latency);
            tried.push(a);
            if ok {
                break;
            }
        }
        let last = tried.last().expect("at least one attempt").clone();
        let ok = passes(&last, expect, max_latency);
        let shown = match &host {
            Some(h) => format!("GET {raw} (Host {h})"),
            None => format!("GET {raw}"),
        };
        let said = |a: &Attempt| match (a.status, &a.error) {
            (Some(s), _) => format!("{s} in {} ms", ms(a.latency)),
            (None, Some(e)) => format!("no answer after {} ms ({e})", ms(a.latency)),
            (None, None) => format!("no answer after {} ms", ms(a.latency)),
        };
        let mut findings = vec![];
        if !ok {
            let why = match (last.status, max_latency) {
                (Some(s), Some(m)) if s == expect => format!(
                    "answered {s} in {} ms, more than max_latency {}",
                    ms(last.latency),
                    crate::duration::format_duration(m)
                ),
                (Some(s), _) => format!("answered {s}, not {expect}"),
                (None, _) => said(&last),
            };
            findings.push(Finding {
                message: format!("{shown} {why} (attempt {} of {attempts})", tried.len()),
                hint: "the endpoint is not ready to take traffic: check the stage and its Region's health before switching to it".into(),
            });
        }
        let mut facts = BTreeMap::new();
        facts.insert(
            "attempts".into(),
            tried.iter().map(said).collect::<Vec<_>>().into(),
        );
        facts.insert("connected_to".into(), route.connect_to.clone().into());
        if let Some(r) = &region {
            facts.insert("region".into(), r.clone().into());
        }
        let outputs = [
            (
                "status".to_string(),
                last.status.map(|s| s.to_string()).unwrap_or_default(),
            ),
            ("latency_ms".to_string(), ms(last.latency).to_string()),
        ]
        .into();
        Ok(Observation {
            summary: format!("{shown} answered {}", said(&last)),
            facts,
            findings,
            changes: vec![],
            outputs,
        })
    }

    async fn verify(&self, ctx: &StepContext, outcome: &Outcome) -> Result<(), ActionError> {
        let expect = ctx.params.opt_u64("expect_status")?.unwrap_or(200);
        let status = outcome.outputs.get("status").cloned().unwrap_or_default();
        if status != expect.to_string() {
            return Err(ActionError::Verification {
                message: format!("the endpoint answered {status:?}, not {expect}"),
                hint: "check the stage and its Region's health".into(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_with_ports_paths_and_brackets() {
        let u = parse_url("https://abc.execute-api.eu-west-1.amazonaws.com/prod/health").unwrap();
        assert_eq!(
            (u.scheme.as_str(), u.host.as_str(), u.port, u.path.as_str()),
            (
                "https",
                "abc.execute-api.eu-west-1.amazonaws.com",
                443,
                "/prod/health"
            )
        );
        let u = parse_url("http://127.0.0.1:4566").unwrap();
        assert_eq!(
            (u.port, u.path.as_str(), u.explicit_port),
            (4566, "/", true)
        );
        let u = parse_url("http://[::1]:8080/x?y=1#frag").unwrap();
        assert_eq!((u.host.as_str(), u.path.as_str()), ("::1", "/x?y=1"));
        assert!(parse_url("ftp://example.com/").is_err());
        assert!(parse_url("example.com/health").is_err());
        assert!(parse_url("http://:80/").is_err());
        assert_eq!(
            execute_api_region("https://abc.execute-api.ap-southeast-2.amazonaws.com/prod"),
            Some("ap-southeast-2".into())
        );
        assert_eq!(execute_api_region("https://api.example.com/prod"), None);
    }

    #[test]
    fn host_names_the_request_and_the_endpoint_takes_execute_api_urls() {
        let url = parse_url("https://d-1.execute-api.eu-west-1.amazonaws.com/health").unwrap();
        // `host`: Host header and SNI, the connection still to the URL's host
        let r = route(&url, Some("api.example.com"), None);
        assert_eq!(r.uri, "https://api.example.com/health");
        assert_eq!(r.connect_to, "d-1.execute-api.eu-west-1.amazonaws.com");
        assert_eq!(r.host_header, "api.example.com");
        // an AWS endpoint override takes execute-api URLs, the name kept in the Host header
        let emu = parse_url("http://127.0.0.1:4566").unwrap();
        let r = route(&url, None, Some(&emu));
        assert_eq!(
            r.uri,
            "http://d-1.execute-api.eu-west-1.amazonaws.com:4566/health"
        );
        assert_eq!(r.connect_to, "127.0.0.1");
        assert_eq!(r.host_header, "d-1.execute-api.eu-west-1.amazonaws.com");
        // ... and no other URL
        let other = parse_url("https://status.example.com/ok").unwrap();
        let r = route(&other, None, Some(&emu));
        assert_eq!(r.uri, "https://status.example.com/ok");
        assert_eq!(r.connect_to, "status.example.com");
    }

    #[test]
    fn an_attempt_passes_on_the_status_within_the_latency() {
        let a = |status: Option<u16>, ms: u64| Attempt {
            status,
            latency: Duration::from_millis(ms),
            error: None,
        };
        assert!(passes(&a(Some(200), 30), 200, None));
        assert!(passes(
            &a(Some(200), 30),
            200,
            Some(Duration::from_millis(30))
        ));
        assert!(!passes(
            &a(Some(200), 31),
            200,
            Some(Duration::from_millis(30))
        ));
        assert!(!passes(&a(Some(503), 1), 200, None));
        assert!(!passes(&a(None, 1), 200, None));
        assert!(passes(&a(Some(404), 1), 404, None));
    }
}
