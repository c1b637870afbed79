//! The actions of DNS answers and HTTP probes.

use super::*;

pub(super) const ACTIONS: &[ActionSpec] = &[
    // ---- arc (Route 53 Application Recovery Controller) ------------------------------------
    // ---- dns, http -----------------------------------------------------------------------
    ActionSpec {
        name: "dns.resolve",
        summary: "Ask DNS what a name answers (Route 53's data plane: its name servers keep answering without us-east-1), optionally checked against `expect`.",
        service: Service::Core,
        params: &[
            p(
                "name",
                K::String,
                true,
                None,
                "the name to resolve, e.g. `api.example.com`",
            ),
            p(
                "type",
                K::Enum(&["A", "AAAA", "CNAME", "TXT"]),
                false,
                Some("A"),
                "the record type to ask for",
            ),
            p(
                "server",
                K::String,
                false,
                None,
                "DNS server to ask, `HOST:PORT` or an IP (default: DRILLBOOK_DNS_SERVER, else the system's resolvers)",
            ),
            p(
                "expect",
                K::String,
                false,
                None,
                "text the answer must contain (an address, a name, or part of one)",
            ),
            p(
                "same_as",
                K::String,
                false,
                None,
                "another name whose records (same type, same server) this one's answer must share, e.g. the secondary's API Gateway regional domain name: an alias record answers with its target's addresses, a rotating subset of them",
            ),
            p(
                "not_same_as",
                K::String,
                false,
                None,
                "with `same_as`: the other name (e.g. the primary's regional domain name) whose records the answer must not share; sharing both names' records, or neither's, is ambiguous",
            ),
        ],
        outputs: &[
            o(
                "answer",
                "what the name answers (comma-separated), or the response code",
            ),
            o(
                "same",
                "with `same_as`: `true` when the answer shares records with `same_as` and not with `not_same_as`",
            ),
            o(
                "server",
                "the server asked (`system` for the system's resolvers)",
            ),
            o(
                "ttl",
                "the answer's TTL in seconds: how long resolvers may keep it (reports compare it with the runbook's wait)",
            ),
        ],
        default_estimate: secs(1),
        estimate_param: None,
        mutates: false,
        needs_region: false,
        iam: &[],
        control_plane: ControlPlane::DataPlane,
    },
    ActionSpec {
        name: "http.probe",
        summary: "Call an application endpoint (the secondary's API Gateway stage) as clients do and check its status and latency: a readiness gate on the data plane. Read-only, so a dry run probes too.",
        service: Service::Core,
        params: &[
            p(
                "url",
                K::String,
                true,
                None,
                "the URL to GET, e.g. `{{ steps.api-ready.invoke_url }}/health`",
            ),
            p(
                "host",
                K::String,
                false,
                None,
                "the name to send as Host header and TLS server name (SNI), the connection still going to the URL's host: a custom domain probed at one Region's Regional domain name",
            ),
            p(
                "expect_status",
                K::Integer,
                false,
                Some("200"),
                "the HTTP status that passes",
            ),
            p(
                "max_latency",
                K::Duration,
                false,
                None,
                "the longest an answer may take to pass, e.g. `2s`",
            ),
            p(
                "attempts",
                K::Integer,
                false,
                Some("3"),
                "how many requests to try (500 ms apart) before the probe fails; it passes at the first that passes",
            ),
        ],
        outputs: &[
            o(
                "status",
                "the HTTP status of the last attempt (empty when nothing answered)",
            ),
            o(
                "latency_ms",
                "how long the last attempt took, in milliseconds",
            ),
        ],
        default_estimate: secs(2),
        estimate_param: None,
        mutates: false,
        needs_region: false,
        iam: &[],
        control_plane: ControlPlane::UrlRegion,
    },
];
