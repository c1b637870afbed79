"""Route 53's data plane: the emulator's hosted zones served over DNS (UDP and TCP) on a local
port, with the record selection of TestDNSAnswer (route53.answer: failover, weighted,
multivalue, health checks that measure, alias records). See ../README.md, "DNS server".

  * A name in a hosted zone (the zone with the longest matching name; private hosted zones are
    not served, as Route 53's public name servers do not serve them) is answered authoritatively
    (AA): the selected records with their TTLs; alias A/AAAA records with the target's
    addresses; CNAME chains followed while the target is in a served zone; the zone's NS and
    SOA at its apex; NXDOMAIN or NODATA with the zone's SOA in the authority section, its TTL the
    lesser of the SOA's TTL and its MINIMUM field (RFC 2308, section 3); a referral (NS in the
    authority section, AA clear) below an NS record set that delegates a subdomain.
  * An alias target name outside every zone (an API Gateway regional domain name, a registered
    target, a name an alias record of a served zone points to, or a name of an AWS resource that
    can be an alias target) answers A and AAAA with the emulator's addresses for it
    (route53.addresses: one stable address; for an API Gateway name a rotating 2 of its 3),
    TTL 60.
  * Anything else is REFUSED.

Region faults do not apply here: Route 53's data plane is global ("their control plane is
hosted in a single AWS Region, while their data plane is globally distributed", AWS Fault
Isolation Boundaries whitepaper, "Global services"), so a fault on us-east-1 leaves the answers
as they are. Health checks still measure faults (route53._endpoint_healthy), which is how a
lost Region moves the answers.
"""

from __future__ import annotations

import re
import socketserver
import sys
import threading
import traceback
from typing import Any, Iterator

from dnslib import EDNS0, QTYPE, RCODE, RR, TXT, DNSHeader, DNSLabel, DNSRecord
from dnslib.server import BaseResolver, DNSHandler, DNSLogger

from . import route53

# Names of AWS resources that can be alias targets (Route 53 API reference, AliasTarget
# "DNSName"): API Gateway, CloudFront, Elastic Beanstalk, Elastic Load Balancing, Global
# Accelerator, S3 website endpoints, VPC interface endpoints, App Runner.
_ALIAS_TARGET_NAMES = re.compile(
    r"(\.execute-api\.[a-z]{2}(-[a-z]+)+-\d\.amazonaws\.com"
    r"|\.cloudfront\.net"
    r"|\.elasticbeanstalk\.com"
    r"|\.elb\.amazonaws\.com|\.elb\.[a-z]{2}(-[a-z]+)+-\d\.amazonaws\.com"
    r"|\.awsglobalaccelerator\.com"
    r"|(^|\.)s3-website[.-][a-z0-9.-]*\.amazonaws\.com"
    r"|\.vpce\.amazonaws\.com"
    r"|\.awsapprunner\.com)$")

# EDNS(0): the largest UDP answer this server sends (RFC 6891); without EDNS, 512 (RFC 1035).
EDNS_UDP_SIZE = 4096
MAX_CHAIN = 8
# The SOA Route 53 gives a new public hosted zone (developer guide, "NS and SOA records that
# Amazon Route 53 creates for a public hosted zone"), for a zone that has none.
DEFAULT_SOA = "{ns}. awsdns-hostmaster.amazon.com. 1 7200 900 1209600 86400"


def _norm(name: Any) -> str:
    return str(name or "").strip().rstrip(".").lower()


def _within(key: str, zone: str) -> bool:
    return key == zone or key.endswith("." + zone)


def _backends() -> Iterator[Any]:
    from moto.route53.models import route53_backends

    for account in list(route53_backends.values()):
        yield from list(account.values())


def find_zone(name: str) -> tuple[Any, Any] | None:
    """(backend, zone) of the public hosted zone with the longest name that contains `name`;
    among zones of the same name (other delegation sets, other accounts), the first created."""
    key = _norm(name)
    best: tuple[int, Any, Any] | None = None
    for backend in _backends():
        for zone in list(backend.zones.values()):
            if zone.private_zone:
                continue
            zname = _norm(zone.name)
            if _within(key, zname) and (best is None or len(zname) > best[0]):
                best = (len(zname), backend, zone)
    return None if best is None else (best[1], best[2])


def is_alias_target(name: str) -> bool:
    """Whether the emulator answers `name` (outside every zone) with its stable address."""
    key = _norm(name)
    if not key:
        return False
    if route53.region_of(key) is not None or _ALIAS_TARGET_NAMES.search(key):
        return True
    for backend in _backends():
        for zone in list(backend.zones.values()):
            for rr in list(zone.rrsets):
                alias = getattr(rr, "alias_target", None)
                if alias and _norm(alias.get("DNSName")) == key:
                    return True
    return False


def _rdata_rr(owner: DNSLabel, rtype: str, ttl: int, value: str) -> RR | None:
    """A resource record from a Route 53 value (zone-file presentation format)."""
    parse_as = {"SPF": "TXT", "SVCB": "HTTPS"}.get(rtype, rtype)
    try:
        rr = RR.fromZone(f". {ttl} IN {parse_as} {value}")[0]
    except Exception:
        print(f"dns: cannot encode {rtype} {value!r}; left out", file=sys.stderr)
        return None
    rr.rname = owner
    if parse_as != rtype:
        rr.rtype = getattr(QTYPE, rtype)
        if rtype == "SPF" and not isinstance(rr.rdata, TXT):
            return None
    return rr


class Route53Resolver(BaseResolver):
    """Answers queries from the emulator's hosted zones (see the module's docstring)."""

    def resolve(self, request: DNSRecord, handler: Any) -> DNSRecord:
        try:
            return self._resolve(request, handler)
        except Exception:
            traceback.print_exc()
            reply = request.reply(ra=0, aa=0)
            reply.header.rcode = RCODE.SERVFAIL
            return reply

    def _resolve(self, request: DNSRecord, handler: Any) -> DNSRecord:
        reply = request.reply(ra=0, aa=1)
        reply.header.ad = 0
        opt = next((rr for rr in request.ar if rr.rtype == QTYPE.OPT), None)
        if handler is not None:
            udp = int(opt.rclass) if opt is not None else 512
            handler.udplen = max(512, min(udp, EDNS_UDP_SIZE))
        if opt is not None:
            reply.add_ar(EDNS0(udp_len=EDNS_UDP_SIZE))
        if request.header.opcode != 0:
            return _fail(reply, RCODE.NOTIMP)
        if len(request.questions) != 1:
            return _fail(reply, RCODE.FORMERR)
        q = request.q
        if q.qclass not in (1, 255):  # IN, ANY
            return _fail(reply, RCODE.REFUSED)
        qtype = QTYPE.get(q.qtype, str(q.qtype))
        found = find_zone(str(q.qname))
        if found is None:
            if not is_alias_target(str(q.qname)):
                return _fail(reply, RCODE.REFUSED)
            if qtype in ("A", "AAAA", "ANY"):
                for t in (("A", "AAAA") if qtype == "ANY" else (qtype,)):
                    for addr in route53.addresses(str(q.qname), t):
                        reply.add_answer(_rdata_rr(q.qname, t, route53.ALIAS_TTL, addr))
            return reply
        backend, zone = found
        if self._referral(reply, backend, zone, q.qname, qtype):
            return reply
        self._answer_chain(reply, backend, zone, q.qname, qtype)
        return reply

    # ------------------------------------------------------------------ parts of an answer

    def _answer_chain(self, reply: DNSRecord, backend: Any, zone: Any, qname: DNSLabel,
                      qtype: str) -> None:
        owner, seen = qname, set()
        for _ in range(MAX_CHAIN + 1):
            seen.add(_norm(owner))
            code, recs = self._lookup(backend, zone, str(owner), qtype)
            if code == "NXDOMAIN":
                # RFC 6604: the RCODE is that of the last name of the chain.
                reply.header.rcode = RCODE.NXDOMAIN
                self._add_soa(reply, backend, zone)
                return
            if not recs:
                self._add_soa(reply, backend, zone)  # NODATA (RFC 2308)
                return
            for r in recs:
                rr = _rdata_rr(owner, r.rtype, r.ttl, r.value)
                if rr is not None:
                    reply.add_answer(rr)
            cname = next((r for r in recs if r.rtype == "CNAME"), None)
            if qtype in ("CNAME", "ANY") or cname is None or len(recs) > 1:
                return
            target = _norm(cname.value)
            nxt = find_zone(target)
            if target in seen or nxt is None:
                return  # a loop, or a name this server is not authoritative for
            backend, zone = nxt
            owner = DNSLabel(cname.value.rstrip(".") + ".")

    def _lookup(self, backend: Any, zone: Any, name: str,
                qtype: str) -> tuple[str, list[route53.Answer]]:
        if qtype != "ANY":
            return route53.answer(backend, zone, name, qtype)
        key = _norm(name)
        types = sorted({rr.type for rr in list(zone.rrsets) if _norm(rr.name) == key})
        if not types:
            return route53.answer(backend, zone, name, "CNAME")
        out: list[route53.Answer] = []
        for t in types:
            out.extend(route53.answer(backend, zone, name, t)[1])
        return "NOERROR", out

    def _referral(self, reply: DNSRecord, backend: Any, zone: Any, qname: DNSLabel,
                  qtype: str) -> bool:
        """Below an NS record set other than the apex's, the name belongs to the delegated zone:
        a referral, not an authoritative answer (RFC 1034, section 4.3.2). DS at the cut is the
        parent's."""
        key, apex = _norm(qname), _norm(zone.name)
        labels = key.split(".")
        cuts = {_norm(rr.name) for rr in list(zone.rrsets) if rr.type == "NS"} - {apex}
        for i in range(len(labels) - len(apex.split(".")) - 1, -1, -1):
            cut = ".".join(labels[i:])
            if cut not in cuts or (cut == key and qtype == "DS"):
                continue
            reply.header.aa = 0
            _, ns = route53.answer(backend, zone, cut, "NS")
            owner = DNSLabel(cut + ".")
            for r in ns:
                rr = _rdata_rr(owner, "NS", r.ttl, r.value)
                if rr is not None:
                    reply.add_auth(rr)
                glue = _norm(r.value)
                if _within(glue, cut):
                    for t in ("A", "AAAA"):
                        for g in route53.answer(backend, zone, glue, t)[1]:
                            if g.rtype == t:
                                reply.add_ar(_rdata_rr(DNSLabel(glue + "."), t, g.ttl, g.value))
            return True
        return False

    def _add_soa(self, reply: DNSRecord, backend: Any, zone: Any) -> None:
        apex = _norm(zone.name)
        _, soa = route53.answer(backend, zone, apex, "SOA")
        if soa:
            ttl, value = soa[0].ttl, soa[0].value
        else:
            ns = (zone.delegation_set.name_servers if zone.delegation_set else None) or ["ns"]
            ttl, value = 900, DEFAULT_SOA.format(ns=_norm(ns[0]))
        rr = _rdata_rr(DNSLabel(apex + "."), "SOA", ttl, value)
        if rr is not None:
            rr.ttl = min(rr.ttl, int(rr.rdata.times[-1]))
            reply.add_auth(rr)


def _fail(reply: DNSRecord, rcode: int) -> DNSRecord:
    reply.header.aa = 0
    reply.header.rcode = rcode
    return reply


class _Handler(DNSHandler):
    udplen = 512

    def get_reply(self, data: bytes) -> bytes:
        request = DNSRecord.parse(data)
        reply = self.server.resolver.resolve(request, self)
        rdata = reply.pack()
        if self.protocol == "udp" and len(rdata) > self.udplen:
            # Too large for UDP: the header with TC and the question (and OPT), no records, so
            # the client asks again over TCP (RFC 2181, section 9; RFC 7766). dnslib's own
            # truncation drops the question, which resolvers that match it ignore.
            small = DNSRecord(DNSHeader(id=reply.header.id, bitmap=reply.header.bitmap, tc=1),
                              q=request.q)
            small.ar = [rr for rr in reply.ar if rr.rtype == QTYPE.OPT]
            small.set_header_qa()
            rdata = small.pack()
        return rdata


class _UDPServer(socketserver.ThreadingMixIn, socketserver.UDPServer):
    daemon_threads = True
    # no SO_REUSEADDR: on Linux it would let two emulators share a UDP port
    allow_reuse_address = False


class _TCPServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


def start(host: str = "127.0.0.1", port: int = 0) -> tuple[str, int]:
    """Serves DNS on `host`:`port`, UDP and TCP, in daemon threads (port 0: one free for both);
    returns (host, port). Raises OSError when the port cannot be had."""
    resolver = Route53Resolver()
    logger = DNSLogger("error", prefix=False,
                       logf=lambda s: print(f"dns: {s}", file=sys.stderr, flush=True))
    for attempt in range(50):
        udp = _UDPServer((host, port), _Handler)
        chosen = udp.server_address[1]
        try:
            tcp = _TCPServer((host, chosen), _Handler)
        except OSError:
            udp.server_close()
            if port or attempt == 49:
                raise
            continue
        break
    for server in (udp, tcp):
        server.resolver = resolver  # type: ignore[attr-defined]
        server.logger = logger  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, daemon=True,
                         name=f"dns-{server.socket_type}").start()
    return host, chosen
