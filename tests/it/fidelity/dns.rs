//! Fidelity: Route 53's data plane, the hosted zones served over DNS by the emulator (see mod.rs
//! and localstack/README.md, "DNS server"), asked with plain DNS messages built here (RFC 1035,
//! section 4) over UDP and TCP.
//!
//! The Region faults of this file are made in an isolated emulator: the shared one keeps its
//! Regions for the other tests.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, TcpStream, UdpSocket};
use std::time::Duration;

use aws_sdk_route53::types::{
    AliasTarget, Change, ChangeAction, ChangeBatch, HealthCheckConfig, HealthCheckType,
    ResourceRecord, ResourceRecordSet, ResourceRecordSetFailover, RrType,
};
use sha2::{Digest, Sha256};

use crate::support::{self, Emulator, emulator, unique_prefix};

// ----------------------------------------------------------------------------- DNS messages

const A: u16 = 1;
const NS: u16 = 2;
const CNAME: u16 = 5;
const SOA: u16 = 6;
const TXT: u16 = 16;
const AAAA: u16 = 28;

const NOERROR: u16 = 0;
const NXDOMAIN: u16 = 3;
const REFUSED: u16 = 5;

/// One resource record of an answer, its RDATA in presentation form.
#[derive(Debug, Clone, PartialEq)]
struct Record {
    name: String,
    rtype: u16,
    ttl: u32,
    data: String,
}

#[derive(Debug)]
struct Reply {
    flags: u16,
    answers: Vec<Record>,
    authority: Vec<Record>,
}

impl Reply {
    fn rcode(&self) -> u16 {
        self.flags & 0x000f
    }
    /// Authoritative Answer (RFC 1035, 4.1.1).
    fn aa(&self) -> bool {
        self.flags & 0x0400 != 0
    }
    /// The data of the answers of type `rtype`.
    fn data(&self, rtype: u16) -> Vec<String> {
        self.answers
            .iter()
            .filter(|r| r.rtype == rtype)
            .map(|r| r.data.clone())
            .collect()
    }
}

fn query_message(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend(id.to_be_bytes());
    m.extend(0x0100u16.to_be_bytes()); // RD
    m.extend([0, 1, 0, 0, 0, 0, 0, 0]); // QDCOUNT 1
    for label in name.trim_end_matches('.').split('.') {
        m.push(u8::try_from(label.len()).expect("label length"));
        m.extend(label.as_bytes());
    }
    m.push(0);
    m.extend(qtype.to_be_bytes());
    m.extend(1u16.to_be_bytes()); // IN
    m
}

fn u16_at(m: &[u8], pos: usize) -> u16 {
    u16::from_be_bytes([m[pos], m[pos + 1]])
}

/// A domain name at `pos` (with compression pointers); returns it and the position after it.
fn read_name(m: &[u8], mut pos: usize) -> (String, usize) {
    let mut labels = Vec::new();
    let mut after = None;
    for _ in 0..128 {
        let len = usize::from(m[pos]);
        if len & 0xc0 == 0xc0 {
            after.get_or_insert(pos + 2);
            pos = ((len & 0x3f) << 8) | usize::from(m[pos + 1]);
            continue;
        }
        if len == 0 {
            let end = after.unwrap_or(pos + 1);
            return (labels.join(".").to_lowercase(), end);
        }
        labels.push(String::from_utf8_lossy(&m[pos + 1..pos + 1 + len]).into_owned());
        pos += 1 + len;
    }
    panic!("name compression loop in {m:?}");
}

fn rdata(m: &[u8], rtype: u16, start: usize, len: usize) -> String {
    let d = &m[start..start + len];
    match rtype {
        A => Ipv4Addr::new(d[0], d[1], d[2], d[3]).to_string(),
        AAAA => Ipv6Addr::from(<[u8; 16]>::try_from(d).unwrap()).to_string(),
        NS | CNAME => read_name(m, start).0,
        SOA => {
            let (mname, p) = read_name(m, start);
            let (rname, p) = read_name(m, p);
            let nums: Vec<String> = (0..5)
                .map(|i| u32::from_be_bytes(m[p + 4 * i..p + 4 * i + 4].try_into().unwrap()))
                .map(|n| n.to_string())
                .collect();
            format!("{mname} {rname} {}", nums.join(" "))
        }
        TXT => {
            let mut parts = Vec::new();
            let mut i = 0;
            while i < d.len() {
                let n = usize::from(d[i]);
                parts.push(String::from_utf8_lossy(&d[i + 1..i + 1 + n]).into_owned());
                i += 1 + n;
            }
            parts.join("")
        }
        _ => hex::encode(d),
    }
}

fn parse_reply(m: &[u8], id: u16) -> Reply {
    assert!(m.len() >= 12, "short DNS reply {m:?}");
    assert_eq!(u16_at(m, 0), id, "reply to another query");
    let flags = u16_at(m, 2);
    assert!(flags & 0x8000 != 0, "not a response (QR clear)");
    let counts: Vec<usize> = (0..4).map(|i| usize::from(u16_at(m, 4 + 2 * i))).collect();
    let mut pos = 12;
    for _ in 0..counts[0] {
        pos = read_name(m, pos).1 + 4;
    }
    let mut sections: Vec<Vec<Record>> = Vec::new();
    for &count in &counts[1..] {
        let mut records = Vec::new();
        for _ in 0..count {
            let (name, p) = read_name(m, pos);
            let rtype = u16_at(m, p);
            let ttl = u32::from_be_bytes(m[p + 4..p + 8].try_into().unwrap());
            let len = usize::from(u16_at(m, p + 8));
            records.push(Record {
                name,
                rtype,
                ttl,
                data: rdata(m, rtype, p + 10, len),
            });
            pos = p + 10 + len;
        }
        sections.push(records);
    }
    Reply {
        flags,
        answers: sections[0].clone(),
        authority: sections[1].clone(),
    }
}

/// Asks `server` (`127.0.0.1:PORT`) for `name` `qtype` over UDP.
fn query(server: &str, name: &str, qtype: u16) -> Reply {
    let id = fastrand::u16(..);
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind a UDP socket");
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    socket
        .send_to(&query_message(id, name, qtype), server)
        .expect("send the query");
    let mut buf = [0u8; 4096];
    let (n, _) = socket
        .recv_from(&mut buf)
        .unwrap_or_else(|e| panic!("no DNS answer from {server} for {name}: {e}"));
    parse_reply(&buf[..n], id)
}

/// The same over TCP (a two-byte length before each message, RFC 1035, 4.2.2).
fn query_tcp(server: &str, name: &str, qtype: u16) -> Reply {
    let id = fastrand::u16(..);
    let mut stream = TcpStream::connect(server).expect("connect to the DNS server over TCP");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let msg = query_message(id, name, qtype);
    let len = u16::try_from(msg.len()).unwrap();
    stream.write_all(&len.to_be_bytes()).unwrap();
    stream.write_all(&msg).unwrap();
    let mut len = [0u8; 2];
    stream
        .read_exact(&mut len)
        .expect("read the reply's length");
    let mut reply = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut reply).expect("read the reply");
    parse_reply(&reply, id)
}

fn dns(emu: &Emulator) -> String {
    emu.dns_server()
        .expect("the emulator's state file names its DNS server (dns=)")
}

// ----------------------------------------------------------------------------- Route 53 helpers

async fn r53(emu: &Emulator) -> aws_sdk_route53::Client {
    aws_sdk_route53::Client::new(&emu.sdk_config("us-east-1").await)
}

async fn create_zone(r53: &aws_sdk_route53::Client, name: &str) -> (String, Vec<String>) {
    let out = r53
        .create_hosted_zone()
        .name(name)
        .caller_reference(format!("{name}-zone"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateHostedZone {name}: {e:?}"));
    let id = out.hosted_zone().unwrap().id().rsplit('/').next().unwrap();
    let ns = out
        .delegation_set()
        .map(|d| d.name_servers().to_vec())
        .unwrap_or_default();
    (id.to_string(), ns)
}

async fn https_check(r53: &aws_sdk_route53::Client, caller_ref: &str, fqdn: &str) -> String {
    let config = HealthCheckConfig::builder()
        .r#type(HealthCheckType::Https)
        .fully_qualified_domain_name(fqdn)
        .port(443)
        .resource_path("/health")
        .build()
        .unwrap();
    r53.create_health_check()
        .caller_reference(caller_ref)
        .health_check_config(config)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateHealthCheck {caller_ref}: {e:?}"))
        .health_check()
        .unwrap()
        .id()
        .to_string()
}

async fn upsert(r53: &aws_sdk_route53::Client, zone: &str, sets: Vec<ResourceRecordSet>) {
    let mut batch = ChangeBatch::builder();
    for set in sets {
        batch = batch.changes(
            Change::builder()
                .action(ChangeAction::Upsert)
                .resource_record_set(set)
                .build()
                .unwrap(),
        );
    }
    r53.change_resource_record_sets()
        .hosted_zone_id(zone)
        .change_batch(batch.build().unwrap())
        .send()
        .await
        .unwrap_or_else(|e| panic!("ChangeResourceRecordSets: {e:?}"));
}

fn record(
    name: &str,
    rtype: RrType,
    ttl: i64,
    value: &str,
) -> aws_sdk_route53::types::builders::ResourceRecordSetBuilder {
    ResourceRecordSet::builder()
        .name(name)
        .r#type(rtype)
        .ttl(ttl)
        .resource_records(ResourceRecord::builder().value(value).build().unwrap())
}

fn alias(
    name: &str,
    rtype: RrType,
    target: &str,
    evaluate: bool,
) -> aws_sdk_route53::types::builders::ResourceRecordSetBuilder {
    ResourceRecordSet::builder()
        .name(name)
        .r#type(rtype)
        .alias_target(
            AliasTarget::builder()
                .hosted_zone_id("Z2FDTNDATAQYW2")
                .dns_name(target)
                .evaluate_target_health(evaluate)
                .build()
                .unwrap(),
        )
}

/// TestDNSAnswer's RecordData, to compare the two planes.
async fn test_dns_answer(
    r53: &aws_sdk_route53::Client,
    zone: &str,
    name: &str,
    rtype: RrType,
) -> Vec<String> {
    r53.test_dns_answer()
        .hosted_zone_id(zone)
        .record_name(name)
        .record_type(rtype)
        .send()
        .await
        .unwrap_or_else(|e| panic!("TestDNSAnswer {name}: {e:?}"))
        .record_data()
        .to_vec()
}

/// One address the emulator documents for an alias target (localstack/README.md): SHA-256 of
/// `key`, in 198.18.0.0/15 (skipping .0) and 2001:db8::/32.
fn documented_address(key: &str) -> (String, String) {
    let digest = Sha256::digest(key.as_bytes());
    let m: u64 = (1 << 17) - 2;
    let host = digest
        .iter()
        .fold(0u64, |r, b| (r * 256 + u64::from(*b)) % m);
    let a = Ipv4Addr::from(u32::from(Ipv4Addr::new(198, 18, 0, 0)) + 1 + host as u32);
    let low = digest[20..]
        .iter()
        .fold(0u128, |r, b| (r << 8) | u128::from(*b));
    let aaaa = Ipv6Addr::from((0x2001_0db8u128 << 96) | low);
    (a.to_string(), aaaa.to_string())
}

/// Every address the emulator documents for an alias target (A, AAAA): the lowercased name
/// without its final dot hashed as above; an API Gateway name
/// (`*.execute-api.REGION.amazonaws.com`) has three, the others hashing `NAME#1`, `NAME#2`.
fn documented_addresses(target: &str) -> (Vec<String>, Vec<String>) {
    let key = target.trim_end_matches('.').to_lowercase();
    let n = if key.contains(".execute-api.") { 3 } else { 1 };
    (0..n)
        .map(|i| {
            documented_address(&if i == 0 {
                key.clone()
            } else {
                format!("{key}#{i}")
            })
        })
        .unzip()
}

/// Asserts that one answer of an API Gateway name is two distinct addresses of its set (a
/// rotating subset, as the emulator answers), or the whole set of any other name.
#[track_caller]
fn assert_drawn(got: &[String], set: &[String]) {
    let want = set.len().min(2);
    let mut distinct = got.to_vec();
    distinct.sort();
    distinct.dedup();
    assert!(
        got.len() == want && distinct.len() == want && got.iter().all(|a| set.contains(a)),
        "answer {got:?} is not {want} addresses of {set:?}"
    );
}

/// An API Gateway regional domain name in `region` (the alias target of a custom domain).
fn regional_name(p: &str, tag: &str, region: &str) -> String {
    format!(
        "d-{}{tag}.execute-api.{region}.amazonaws.com",
        p.trim_end_matches('-')
    )
}

// ----------------------------------------------------------------------------- tests

/// A failover record set answers over DNS as TestDNSAnswer does: the primary while its health
/// check passes, the secondary when it fails, and the primary again when both fail; each with
/// its record's TTL and the AA flag. Route 53 developer guide, "How Amazon Route 53 chooses
/// records when health checking is configured"
/// (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/health-checks-how-route-53-chooses-records.html):
/// "If Route 53 considers both the primary and secondary records unhealthy, Route 53 returns
/// the primary record."
#[tokio::test(flavor = "multi_thread")]
async fn dns_failover_answer_follows_health() {
    let emu = emulator();
    let server = dns(emu);
    let p = unique_prefix("dns_failover");
    let r53 = r53(emu).await;
    let zone_name = format!("{p}zone.example");
    let (zone, _) = create_zone(&r53, &format!("{zone_name}.")).await;
    let name = format!("app.{zone_name}");
    let hp = https_check(&r53, &format!("{p}hp"), "primary.example.test").await;
    let hs = https_check(&r53, &format!("{p}hs"), "secondary.example.test").await;
    upsert(
        &r53,
        &zone,
        vec![
            record(&name, RrType::A, 30, "192.0.2.11")
                .set_identifier("p")
                .failover(ResourceRecordSetFailover::Primary)
                .health_check_id(&hp)
                .build()
                .unwrap(),
            record(&name, RrType::A, 20, "192.0.2.12")
                .set_identifier("s")
                .failover(ResourceRecordSetFailover::Secondary)
                .health_check_id(&hs)
                .build()
                .unwrap(),
        ],
    )
    .await;
    let reply = query(&server, &name, A);
    assert_eq!((reply.rcode(), reply.aa()), (NOERROR, true), "{reply:?}");
    assert_eq!(
        reply.answers,
        vec![Record {
            name: name.clone(),
            rtype: A,
            ttl: 30,
            data: "192.0.2.11".into()
        }]
    );
    emu.set_health(&hp, false);
    let reply = query(&server, &name, A);
    assert_eq!(reply.data(A), vec!["192.0.2.12"], "primary unhealthy");
    assert_eq!(reply.answers[0].ttl, 20);
    assert_eq!(
        reply.data(A),
        test_dns_answer(&r53, &zone, &name, RrType::A).await,
        "DNS and TestDNSAnswer disagree"
    );
    emu.set_health(&hs, false);
    assert_eq!(
        query(&server, &name, A).data(A),
        vec!["192.0.2.11"],
        "both unhealthy: the primary"
    );
    emu.set_health(&hp, true);
    emu.set_health(&hs, true);
    assert_eq!(query_tcp(&server, &name, A).data(A), vec!["192.0.2.11"]);
}

/// An alias A (AAAA) record answers over DNS with the emulator's documented address for its
/// target, TTL 60, and the target name itself answers with the same address. Route 53
/// developer guide, "Choosing between alias and non-alias records"
/// (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/resource-record-sets-choosing-alias-non-alias.html):
/// "If an alias record points to an AWS resource, you can't set the time to live (TTL); Route 53
/// uses the default TTL for the resource" (60 s here, "the TTL for load balancers", API
/// reference, ResourceRecordSet).
#[tokio::test(flavor = "multi_thread")]
async fn dns_alias_record_answers_the_documented_address() {
    let emu = emulator();
    let server = dns(emu);
    let p = unique_prefix("dns_alias");
    let r53 = r53(emu).await;
    let zone_name = format!("{p}zone.example");
    let (zone, _) = create_zone(&r53, &format!("{zone_name}.")).await;
    let name = format!("api.{zone_name}");
    let target = regional_name(&p, "a", "eu-west-3");
    upsert(
        &r53,
        &zone,
        vec![
            alias(&name, RrType::A, &target, false).build().unwrap(),
            alias(&name, RrType::Aaaa, &target, false).build().unwrap(),
        ],
    )
    .await;
    let (want_a, want_aaaa) = documented_addresses(&target);
    let a = query(&server, &name, A);
    assert_eq!((a.rcode(), a.aa()), (NOERROR, true), "{a:?}");
    assert_drawn(&a.data(A), &want_a);
    assert_eq!(a.answers[0].ttl, 60);
    assert_drawn(&query(&server, &name, AAAA).data(AAAA), &want_aaaa);
    assert_drawn(
        &test_dns_answer(&r53, &zone, &name, RrType::A).await,
        &want_a,
    );
    let direct = query(&server, &target, A);
    assert_eq!((direct.rcode(), direct.aa()), (NOERROR, true), "{direct:?}");
    assert_drawn(&direct.data(A), &want_a);
    assert_drawn(&query(&server, &target, AAAA).data(AAAA), &want_aaaa);
}

/// An API Gateway Regional name answers a rotating subset of its addresses, as API Gateway's
/// Regional endpoints do: two answers for the same name (over DNS, or TestDNSAnswer for an
/// alias to it) can differ, but each is two of that name's three documented addresses, so any
/// two answers share one; a name that is not API Gateway's keeps its one address.
#[tokio::test(flavor = "multi_thread")]
async fn dns_api_gateway_names_answer_rotating_addresses_of_their_set() {
    let emu = emulator();
    let server = dns(emu);
    let p = unique_prefix("dns_rotate");
    let r53 = r53(emu).await;
    let zone_name = format!("{p}zone.example");
    let (zone, _) = create_zone(&r53, &format!("{zone_name}.")).await;
    let name = format!("api.{zone_name}");
    let target = regional_name(&p, "r", "sa-east-1");
    upsert(
        &r53,
        &zone,
        vec![alias(&name, RrType::A, &target, false).build().unwrap()],
    )
    .await;
    let (set, _) = documented_addresses(&target);
    assert_eq!(set.len(), 3);
    let mut seen = std::collections::BTreeSet::new();
    let mut answers = vec![];
    for i in 0..24 {
        let got = match i % 3 {
            0 => query(&server, &target, A).data(A),
            1 => query(&server, &name, A).data(A),
            _ => test_dns_answer(&r53, &zone, &name, RrType::A).await,
        };
        assert_drawn(&got, &set);
        let mut key = got.clone();
        key.sort();
        seen.insert(key);
        answers.push(got);
    }
    assert!(
        seen.len() > 1,
        "24 answers of {target} were all the same: {seen:?}"
    );
    for a in &answers {
        for b in &answers {
            assert!(a.iter().any(|x| b.contains(x)), "{a:?} and {b:?}");
        }
    }
    // a name outside API Gateway: one stable address
    let other = format!("{p}lb.elb.amazonaws.com");
    let (one, _) = documented_addresses(&other);
    for _ in 0..3 {
        assert_eq!(query(&server, &other, A).data(A), one);
    }
}

/// A name that does not exist in a zone is NXDOMAIN with the zone's SOA in the authority
/// section, its TTL the lesser of the SOA's own and its MINIMUM (RFC 2308, section 3); a name
/// that exists without the type asked is NOERROR with no answer and the SOA (NODATA). The apex
/// answers the zone's NS (its delegation set) and SOA. Route 53 developer guide, "NS and SOA
/// records that Amazon Route 53 creates for a public hosted zone"
/// (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/SOA-NSrecords.html).
#[tokio::test(flavor = "multi_thread")]
async fn dns_missing_names_are_nxdomain_with_the_zone_soa() {
    let emu = emulator();
    let server = dns(emu);
    let p = unique_prefix("dns_nx");
    let r53 = r53(emu).await;
    let zone_name = format!("{p}zone.example");
    let (zone, name_servers) = create_zone(&r53, &format!("{zone_name}.")).await;
    let t = format!("t.{zone_name}");
    upsert(
        &r53,
        &zone,
        vec![record(&t, RrType::Txt, 60, "\"hello\"").build().unwrap()],
    )
    .await;
    let nx = query(&server, &format!("nope.{zone_name}"), A);
    assert_eq!((nx.rcode(), nx.aa()), (NXDOMAIN, true), "{nx:?}");
    assert!(nx.answers.is_empty(), "{nx:?}");
    assert_eq!(nx.authority.len(), 1, "{nx:?}");
    let soa = &nx.authority[0];
    assert_eq!((soa.name.as_str(), soa.rtype), (zone_name.as_str(), SOA));
    let fields: Vec<&str> = soa.data.split(' ').collect();
    assert_eq!(fields.len(), 7, "{soa:?}");
    assert_eq!(
        fields[0],
        name_servers[0].trim_end_matches('.'),
        "SOA MNAME is the first name server"
    );
    let minimum: u32 = fields[6].parse().unwrap();
    let apex_soa = query(&server, &zone_name, SOA);
    assert_eq!(apex_soa.answers.len(), 1, "{apex_soa:?}");
    assert_eq!(soa.ttl, apex_soa.answers[0].ttl.min(minimum));

    let nodata = query(&server, &t, A);
    assert_eq!((nodata.rcode(), nodata.aa()), (NOERROR, true));
    assert!(nodata.answers.is_empty(), "{nodata:?}");
    assert_eq!(nodata.authority[0].rtype, SOA);
    assert_eq!(query(&server, &t, TXT).data(TXT), vec!["hello"]);

    let mut ns = query(&server, &zone_name, NS).data(NS);
    ns.sort();
    let mut want: Vec<String> = name_servers
        .iter()
        .map(|n| n.trim_end_matches('.').to_lowercase())
        .collect();
    want.sort();
    assert!(
        !want.is_empty(),
        "CreateHostedZone returned no DelegationSet"
    );
    assert_eq!(ns, want);
}

/// A name outside every hosted zone, and not an alias target, is REFUSED, without the AA flag:
/// an authoritative-only server answers only for its zones (RFC 1035, 4.1.1 RCODE 5, "the name
/// server refuses to perform the specified operation").
#[tokio::test(flavor = "multi_thread")]
async fn dns_refuses_names_outside_every_zone() {
    let emu = emulator();
    let server = dns(emu);
    let p = unique_prefix("dns_refused");
    let reply = query(&server, &format!("www.{p}nowhere.example.org"), A);
    assert_eq!((reply.rcode(), reply.aa()), (REFUSED, false), "{reply:?}");
    assert!(reply.answers.is_empty());
    let reply = query_tcp(&server, &format!("{p}nowhere.test"), AAAA);
    assert_eq!(reply.rcode(), REFUSED, "{reply:?}");
}

/// A CNAME answers with itself and, when its target is in a served zone, the target's records
/// (over UDP and TCP alike); a CNAME to a name outside the zones answers with the CNAME only,
/// for the resolver to follow (RFC 1034, section 4.3.2, step 3a).
#[tokio::test(flavor = "multi_thread")]
async fn dns_cname_chains_are_followed_inside_the_zones() {
    let emu = emulator();
    let server = dns(emu);
    let p = unique_prefix("dns_cname");
    let r53 = r53(emu).await;
    let zone_name = format!("{p}zone.example");
    let (zone, _) = create_zone(&r53, &format!("{zone_name}.")).await;
    let c = format!("c.{zone_name}");
    let www = format!("www.{zone_name}");
    let out = format!("out.{zone_name}");
    let outside = regional_name(&p, "c", "eu-west-3");
    upsert(
        &r53,
        &zone,
        vec![
            record(&c, RrType::Cname, 120, &www).build().unwrap(),
            record(&www, RrType::A, 45, "192.0.2.21").build().unwrap(),
            record(&out, RrType::Cname, 120, &outside).build().unwrap(),
        ],
    )
    .await;
    for reply in [query(&server, &c, A), query_tcp(&server, &c, A)] {
        assert_eq!((reply.rcode(), reply.aa()), (NOERROR, true), "{reply:?}");
        assert_eq!(
            reply.answers,
            vec![
                Record {
                    name: c.clone(),
                    rtype: CNAME,
                    ttl: 120,
                    data: www.clone()
                },
                Record {
                    name: www.clone(),
                    rtype: A,
                    ttl: 45,
                    data: "192.0.2.21".into()
                },
            ]
        );
    }
    let reply = query(&server, &out, A);
    assert_eq!(reply.data(CNAME), vec![outside.clone()]);
    assert!(reply.data(A).is_empty(), "{reply:?}");
    let (want_a, _) = documented_addresses(&outside);
    assert_drawn(&query(&server, &outside, A).data(A), &want_a);
}

/// Region faults move the DNS answer only through health: a failover alias with
/// EvaluateTargetHealth leaves the primary's Region when that Region's API Gateway fails, and
/// comes back when it recovers. A fault on us-east-1, where Route 53's control plane is, leaves
/// DNS answering while the Route 53 API fails: "Global AWS services ... their control plane is
/// hosted in a single AWS Region, while their data plane is globally distributed" (AWS Fault
/// Isolation Boundaries whitepaper, "Global services",
/// https://docs.aws.amazon.com/whitepapers/latest/aws-fault-isolation-boundaries/global-services.html).
#[tokio::test(flavor = "multi_thread")]
async fn dns_answers_follow_region_health_and_survive_the_control_plane() {
    let emu = support::isolated_emulator("dns-data-plane");
    let server = dns(&emu);
    let p = unique_prefix("dns_plane");
    emu.fast(&p);
    let r53 = r53(&emu).await;
    let zone_name = format!("{p}zone.example");
    let (zone, _) = create_zone(&r53, &format!("{zone_name}.")).await;
    let name = format!("api.{zone_name}");
    let (primary, secondary) = ("ap-northeast-2", "eu-west-3");
    let primary_target = regional_name(&p, "p", primary);
    let secondary_target = regional_name(&p, "s", secondary);
    upsert(
        &r53,
        &zone,
        vec![
            alias(&name, RrType::A, &primary_target, true)
                .set_identifier("primary")
                .failover(ResourceRecordSetFailover::Primary)
                .build()
                .unwrap(),
            alias(&name, RrType::A, &secondary_target, true)
                .set_identifier("secondary")
                .failover(ResourceRecordSetFailover::Secondary)
                .build()
                .unwrap(),
        ],
    )
    .await;
    let want_primary = documented_addresses(&primary_target).0;
    let want_secondary = documented_addresses(&secondary_target).0;
    // an answer from one side: addresses of that side's set only
    let from = |data: Vec<String>, set: &[String]| {
        !data.is_empty() && data.iter().all(|a| set.contains(a))
    };
    assert_drawn(&query(&server, &name, A).data(A), &want_primary);

    emu.fault(primary, Some("apigateway"), "error");
    let moved = support::poll(Duration::from_secs(10), || async {
        from(query(&server, &name, A).data(A), &want_secondary).then_some(())
    })
    .await;
    assert!(moved.is_some(), "the answer did not leave {primary}");

    emu.fault("us-east-1", None, "reset");
    let control_plane = r53.list_hosted_zones().send().await;
    assert!(
        control_plane.is_err(),
        "the Route 53 API answered with us-east-1 down"
    );
    let reply = query(&server, &name, A);
    assert_eq!((reply.rcode(), reply.aa()), (NOERROR, true), "{reply:?}");
    assert!(
        from(reply.data(A), &want_secondary),
        "with us-east-1 down: {reply:?}"
    );

    emu.clear_faults(Some(primary));
    let back = support::poll(Duration::from_secs(10), || async {
        from(query(&server, &name, A).data(A), &want_primary).then_some(())
    })
    .await;
    assert!(
        back.is_some(),
        "the answer did not come back to {primary} while us-east-1 was down"
    );
    emu.clear_faults(None);
}

/// hickory's resolver (the crate drillbook's `dns.resolve` uses), pointed at the emulator's
/// server, reads its answers: an alias A, a CNAME to an alias target outside the zones (which
/// the resolver asks for again), an answer too large for UDP even with EDNS (TC, then TCP: RFC 7766), and
/// NXDOMAIN.
#[tokio::test(flavor = "multi_thread")]
async fn dns_answers_read_with_hickory_resolver() {
    use hickory_resolver::config::{
        ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts,
    };
    use hickory_resolver::net::runtime::TokioRuntimeProvider;
    use hickory_resolver::proto::rr::RecordType;

    let emu = emulator();
    let addr: std::net::SocketAddr = dns(emu).parse().unwrap();
    let p = unique_prefix("dns_hickory");
    let r53 = r53(emu).await;
    let zone_name = format!("{p}zone.example");
    let (zone, _) = create_zone(&r53, &format!("{zone_name}.")).await;
    let api = format!("api.{zone_name}");
    let out = format!("out.{zone_name}");
    let big = format!("big.{zone_name}");
    let target = regional_name(&p, "h", "eu-west-3");
    let txt: Vec<ResourceRecord> = (0..30)
        .map(|i| {
            ResourceRecord::builder()
                .value(format!("\"{}\"", format!("v{i:02}").repeat(60)))
                .build()
                .unwrap()
        })
        .collect();
    upsert(
        &r53,
        &zone,
        vec![
            alias(&api, RrType::A, &target, false).build().unwrap(),
            record(&out, RrType::Cname, 60, &target).build().unwrap(),
            ResourceRecordSet::builder()
                .name(&big)
                .r#type(RrType::Txt)
                .ttl(60)
                .set_resource_records(Some(txt))
                .build()
                .unwrap(),
        ],
    )
    .await;
    let mut opts = ResolverOpts::default();
    opts.timeout = Duration::from_secs(3);
    opts.attempts = 2;
    opts.cache_size = 0;
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
    let resolver = hickory_resolver::Resolver::builder_with_config(
        ResolverConfig::from_name_servers(vec![ns]),
        TokioRuntimeProvider::default(),
    )
    .with_options(opts)
    .build()
    .expect("build a resolver");
    let data = |lookup: &hickory_resolver::lookup::Lookup, t: RecordType| -> Vec<String> {
        lookup
            .answers()
            .iter()
            .filter(|r| r.record_type() == t)
            .map(|r| r.data.to_string())
            .collect()
    };
    let (want_a, _) = documented_addresses(&target);
    let got = resolver
        .lookup(format!("{api}."), RecordType::A)
        .await
        .expect("alias A");
    assert_drawn(&data(&got, RecordType::A), &want_a);
    let got = resolver
        .lookup(format!("{out}."), RecordType::A)
        .await
        .expect("CNAME to an alias target");
    assert_drawn(&data(&got, RecordType::A), &want_a);
    let got = resolver
        .lookup(format!("{big}."), RecordType::TXT)
        .await
        .expect("a TXT set larger than 512 bytes");
    assert_eq!(data(&got, RecordType::TXT).len(), 30);
    let nx = resolver
        .lookup(format!("nope.{zone_name}."), RecordType::A)
        .await
        .expect_err("a missing name");
    assert!(nx.is_nx_domain(), "{nx:?}");
}
