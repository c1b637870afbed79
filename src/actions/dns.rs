//! DNS over the wire, the way clients see a failover: Route 53's data plane (its authoritative
//! name servers) is global and keeps answering when us-east-1, where its control plane lives
//! (TestDNSAnswer, ListResourceRecordSets), is lost (Well-Architected REL11-BP04; DESIGN.md).
//!
//! The resolver is hickory's. It asks the server a step names (`server: HOST:PORT`), else the
//! run's (`DRILLBOOK_DNS_SERVER`, which the emulator exports), else the system's resolvers
//! (`/etc/resolv.conf`).

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::Resolver;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RecordType;

use super::{Action, ActionError, ActionSpec, Finding, Observation, Outcome, StepContext};
use crate::catalog;

/// This service's actions, for the registry.
pub(super) fn all() -> Vec<Arc<dyn Action>> {
    vec![Arc::new(Resolve)]
}

/// The environment variable naming the DNS server to ask (`HOST:PORT`).
pub const DNS_SERVER_ENV: &str = "DRILLBOOK_DNS_SERVER";

/// What a name answers over DNS: the records' data as text (addresses, names), or the response
/// code when there is none (`NXDOMAIN`, `NOERROR` for a name without that type).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsAnswer {
    pub code: String,
    pub data: Vec<String>,
    /// The server asked (`system` for the system's resolvers).
    pub server: String,
    /// The smallest TTL of the answer's records, in seconds: how long a resolver may keep
    /// this answer (none without records).
    pub ttl: Option<u32>,
}

impl DnsAnswer {
    pub fn text(&self) -> String {
        if self.data.is_empty() {
            self.code.clone()
        } else {
            self.data.join(", ")
        }
    }
}

fn invalid(message: String) -> ActionError {
    ActionError::Invalid {
        message,
        hint: "give the DNS server as HOST:PORT (`127.0.0.1:5353`) or an IP address".into(),
    }
}

fn parse_server(s: &str) -> Result<SocketAddr, ActionError> {
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    s.parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, 53))
        .map_err(|_| invalid(format!("`{s}` is not a DNS server address")))
}

fn record_type(t: &str) -> Result<RecordType, ActionError> {
    match t.to_ascii_uppercase().as_str() {
        "A" => Ok(RecordType::A),
        "AAAA" => Ok(RecordType::AAAA),
        "CNAME" => Ok(RecordType::CNAME),
        "TXT" => Ok(RecordType::TXT),
        other => Err(ActionError::Invalid {
            message: format!("record type `{other}` is not one of A, AAAA, CNAME, TXT"),
            hint: "set `type` to A, AAAA, CNAME or TXT".into(),
        }),
    }
}

/// The server to ask: the step's, else the run's (`AwsOptions::dns_server`), else none (the
/// system's resolvers).
fn server_for(server: Option<&str>) -> Result<Option<SocketAddr>, ActionError> {
    server.map(parse_server).transpose()
}

fn resolver(server: Option<SocketAddr>) -> Result<Resolver<TokioRuntimeProvider>, ActionError> {
    let mut opts = ResolverOpts::default();
    opts.timeout = Duration::from_secs(3);
    opts.attempts = 2;
    // Every look is fresh: a failover is judged on what the servers answer now.
    opts.cache_size = 0;
    let builder = match server {
        Some(addr) => {
            let connection = |mut c: ConnectionConfig| {
                c.port = addr.port();
                c
            };
            let ns = NameServerConfig::new(
                addr.ip(),
                true,
                vec![
                    connection(ConnectionConfig::udp()),
                    connection(ConnectionConfig::tcp()),
                ],
            );
            Resolver::builder_with_config(
                ResolverConfig::from_name_servers(vec![ns]),
                TokioRuntimeProvider::default(),
            )
        }
        None => Resolver::builder_tokio().map_err(|e| ActionError::Invalid {
            message: format!("the system's DNS configuration cannot be read: {e}"),
            hint: format!("name a server with `server:` or {DNS_SERVER_ENV}=HOST:PORT"),
        })?,
    };
    builder
        .with_options(opts)
        .build()
        .map_err(|e| invalid(format!("cannot build a DNS resolver: {e}")))
}

/// Asks DNS what `name` answers for `rtype` (A, AAAA, CNAME, TXT), through `server`
/// (`HOST:PORT`) or the system's resolvers.
pub async fn resolve(
    name: &str,
    rtype: &str,
    server: Option<&str>,
) -> Result<DnsAnswer, ActionError> {
    let t = record_type(rtype)?;
    let server = server_for(server)?;
    let shown = server.map_or_else(|| "system".to_string(), |a| a.to_string());
    let fqdn = if name.ends_with('.') {
        name.to_string()
    } else {
        format!("{name}.")
    };
    match resolver(server)?.lookup(fqdn.as_str(), t).await {
        Ok(lookup) => {
            let records = lookup.answers().iter().filter(|r| r.record_type() == t);
            Ok(DnsAnswer {
                code: "NOERROR".into(),
                data: records
                    .clone()
                    .map(|r| r.data.to_string().trim_end_matches('.').to_string())
                    .collect(),
                ttl: records.map(|r| r.ttl).min(),
                server: shown,
            })
        }
        Err(e) if e.is_nx_domain() => Ok(DnsAnswer {
            code: "NXDOMAIN".into(),
            data: vec![],
            server: shown,
            ttl: None,
        }),
        Err(e) if e.is_no_records_found() => Ok(DnsAnswer {
            code: "NOERROR".into(),
            data: vec![],
            server: shown,
            ttl: None,
        }),
        Err(e) => Err(ActionError::Aws(Box::new(super::AwsFailure {
            service: "dns".into(),
            operation: format!("query {fqdn} {rtype}"),
            region: String::new(),
            code: "DnsQueryFailed".into(),
            message: e.to_string(),
            retryable: true,
            request_id: None,
            hint: format!(
                "the DNS server {shown} did not answer; check `server:` (or {DNS_SERVER_ENV}) and that it serves the zone"
            ),
        }))),
    }
}

// ------------------------------------------------------------------------------ dns.resolve

/// `dns.resolve`: what a name answers over DNS, optionally checked against `expect`.
pub(crate) struct Resolve;

#[async_trait::async_trait]
impl Action for Resolve {
    fn spec(&self) -> &'static ActionSpec {
        catalog::lookup("dns.resolve").expect("dns.resolve is in the catalogue")
    }

    async fn observe(&self, ctx: &StepContext) -> Result<Observation, ActionError> {
        let name = ctx.params.str("name")?;
        let rtype = ctx.params.str_or("type", "A")?;
        let server = ctx
            .params
            .opt_str("server")?
            .or_else(|| ctx.aws.options.dns_server.clone());
        let expect = ctx.params.opt_str("expect")?;
        let same_as = ctx.params.opt_str("same_as")?;
        let not_same_as = ctx.params.opt_str("not_same_as")?;
        let answer = resolve(&name, &rtype, server.as_deref()).await?;
        let mut findings = vec![];
        let mut outputs = BTreeMap::new();
        let mut facts = BTreeMap::new();
        if answer.data.is_empty() {
            findings.push(Finding {
                message: format!("`{name}` {rtype} answers {} over DNS", answer.code),
                hint: "check the records and their health checks".into(),
            });
        } else if let Some(e) = &expect
            && !answer.text().to_lowercase().contains(&e.to_lowercase())
        {
            findings.push(Finding {
                message: format!(
                    "`{name}` answers {} over DNS, which does not contain `{e}`",
                    answer.text()
                ),
                hint: RETRY_HINT.into(),
            });
        }
        if let Some(other) = &same_as {
            // An alias record answers with its target's addresses, so which endpoint answers
            // is found by which endpoint's own addresses the answer shares (see [`owner`]).
            let theirs = resolve(other, &rtype, server.as_deref()).await?;
            let not = match &not_same_as {
                Some(n) => Some(resolve(n, &rtype, server.as_deref()).await?),
                None => None,
            };
            let mut candidates: Vec<&[String]> = vec![&theirs.data];
            if let Some(n) = &not {
                candidates.push(&n.data);
            }
            let verdict = owner(&answer.data, &candidates);
            let same = verdict == Owner::One(0);
            if !answer.data.is_empty() && !same {
                let message = match (&verdict, &not, &not_same_as) {
                    (Owner::One(_), Some(n), Some(nn)) => format!(
                        "`{name}` answers {} over DNS: `{nn}`'s {rtype} records ({}), not `{other}`'s ({})",
                        answer.text(),
                        n.text(),
                        theirs.text()
                    ),
                    (Owner::Several(_), Some(n), Some(nn)) => format!(
                        "`{name}` answers {} over DNS, which shares {rtype} records with both `{other}` ({}) and `{nn}` ({}): ambiguous",
                        answer.text(),
                        theirs.text(),
                        n.text()
                    ),
                    (_, Some(n), Some(nn)) => format!(
                        "`{name}` answers {} over DNS, which shares no {rtype} record with `{other}` ({}) nor `{nn}` ({}): ambiguous",
                        answer.text(),
                        theirs.text(),
                        n.text()
                    ),
                    _ => format!(
                        "`{name}` answers {} over DNS, `{other}` answers {}: no {rtype} record in common",
                        answer.text(),
                        theirs.text()
                    ),
                };
                findings.push(Finding {
                    message,
                    hint: RETRY_HINT.into(),
                });
            }
            facts.insert("same_as_answer".into(), theirs.text().into());
            if let Some(n) = &not {
                facts.insert("not_same_as_answer".into(), n.text().into());
            }
            outputs.insert("same".to_string(), same.to_string());
        }
        facts.insert("server".into(), answer.server.clone().into());
        facts.insert("response_code".into(), answer.code.clone().into());
        outputs.insert("answer".to_string(), answer.text());
        outputs.insert("server".to_string(), answer.server.clone());
        if let Some(ttl) = answer.ttl {
            outputs.insert("ttl".to_string(), ttl.to_string());
        }
        Ok(Observation {
            summary: format!(
                "`{name}` {rtype} answers {} (asked {})",
                answer.text(),
                answer.server
            ),
            facts,
            findings,
            changes: vec![],
            outputs,
        })
    }

    async fn verify(&self, ctx: &StepContext, outcome: &Outcome) -> Result<(), ActionError> {
        let answer = outcome.outputs.get("answer").cloned().unwrap_or_default();
        if let Some(e) = ctx.params.opt_str("expect")?
            && !answer.to_lowercase().contains(&e.to_lowercase())
        {
            return Err(ActionError::Verification {
                message: format!("the DNS answer {answer:?} does not contain `{e}`"),
                hint: "check the failover records and health checks".into(),
            });
        }
        if let Some(other) = ctx.params.opt_str("same_as")?
            && outcome.outputs.get("same").map(String::as_str) != Some("true")
        {
            return Err(ActionError::Verification {
                message: format!("the DNS answer {answer:?} is not what `{other}` answers"),
                hint: "check the failover records and health checks".into(),
            });
        }
        Ok(())
    }
}

const RETRY_HINT: &str = "fail over first, or wait for the record's TTL and the health checkers";

/// Which of several names an answer belongs to, judged by the addresses they share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// The answer shares records with this name (its index) and with no other.
    One(usize),
    /// It shares records with several names (their indexes): they answer from overlapping sets.
    Several(Vec<usize>),
    /// It shares records with none of them (or is empty).
    None,
}

/// Judges which of `candidates` (each a name's own answer) `answer` belongs to: the one whose
/// records it intersects, and no other's. An alias record answers with its target's addresses
/// (Route 53 API reference, TestDNSAnswer: it answers "like dig"; AliasTarget), but an API
/// Gateway Regional name answers a rotating subset of its addresses, and TestDNSAnswer's
/// resolver (us-east-1) and this run's are different resolvers: two lookups of the same target
/// need not be equal, only drawn from the same endpoint's addresses. Equal sets would fail
/// forever; intersecting ones do not.
pub fn owner(answer: &[String], candidates: &[&[String]]) -> Owner {
    let mine: std::collections::BTreeSet<String> =
        answer.iter().map(|d| d.to_ascii_lowercase()).collect();
    let hits: Vec<usize> = candidates
        .iter()
        .enumerate()
        .filter(|(_, theirs)| {
            theirs
                .iter()
                .any(|d| mine.contains(&d.to_ascii_lowercase()))
        })
        .map(|(i, _)| i)
        .collect();
    match hits.as_slice() {
        [] => Owner::None,
        [one] => Owner::One(*one),
        _ => Owner::Several(hits),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_parse_with_or_without_a_port() {
        assert_eq!(
            parse_server("127.0.0.1:5353").unwrap(),
            "127.0.0.1:5353".parse().unwrap()
        );
        assert_eq!(parse_server("10.0.0.2").unwrap().port(), 53);
        assert!(parse_server("ns1.example").is_err());
        assert!(record_type("mx").is_err());
        assert_eq!(record_type("aaaa").unwrap(), RecordType::AAAA);
    }

    fn v(xs: &[&str]) -> Vec<String> {
        xs.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn an_answer_belongs_to_the_one_target_whose_addresses_it_shares() {
        let secondary = v(&["198.18.0.1", "198.18.0.2"]);
        let primary = v(&["198.19.0.1", "198.19.0.2"]);
        let both: [&[String]; 2] = [&secondary, &primary];
        // one: a rotated subset of the secondary's addresses, not equal to its lookup
        assert_eq!(
            owner(&v(&["198.18.0.3", "198.18.0.1"]), &both),
            Owner::One(0)
        );
        assert_eq!(owner(&v(&["198.19.0.2"]), &both), Owner::One(1));
        // both: ambiguous
        assert_eq!(
            owner(&v(&["198.18.0.2", "198.19.0.1"]), &both),
            Owner::Several(vec![0, 1])
        );
        // neither: ambiguous too
        assert_eq!(owner(&v(&["203.0.113.9"]), &both), Owner::None);
        assert_eq!(owner(&[], &both), Owner::None);
        // names compare without case
        assert_eq!(
            owner(&v(&["D-1.example"]), &[&v(&["d-1.example"])[..]]),
            Owner::One(0)
        );
    }
}
