//! A fault-injecting HTTP proxy in front of the emulator.
//!
//! `FaultProxy::start(upstream, rules)` listens on `127.0.0.1:0` and forwards every HTTP/1.1
//! request to `upstream` (one upstream connection per request, `Connection: close` both ways, so
//! every request is handled on its own). Before forwarding, each request is matched against the
//! rules in order: a rule matches when its `needle` occurs in the request's head (request line
//! and headers, e.g. `X-Amz-Target: TrentService.UpdatePrimaryRegion`) or body. The first rule
//! whose schedule says "inject now" applies its fault:
//!
//! - `Status(code)`: answers `code` without forwarding (the request never took effect);
//! - `Throttle`: answers HTTP 400 with the protocol's throttling error (`ThrottlingException`
//!   for JSON protocols, `Throttling` for REST-XML/query), without forwarding;
//! - `Delay(d)`: waits `d`, then forwards normally;
//! - `Reset`: resets the connection without forwarding (the request never took effect);
//! - `LostAfterEffect`: forwards, reads the whole response, then resets the connection: the
//!   request took effect but the client never learns it.
//!
//! A rule's schedule: it lets `skip` matching requests through first, then injects on every
//! `every`-th matching request, at most `times` times (`None`: forever). `injected()` tells how
//! many times each rule fired, so a test can assert that its fault really happened.
//!
//! The emulator's request recording sits behind the proxy: it sees exactly what reached it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone)]
pub(crate) enum Fault {
    Status(u16),
    Throttle,
    Delay(Duration),
    Reset,
    LostAfterEffect,
}

#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub needle: String,
    pub fault: Fault,
    pub skip: usize,
    pub every: usize,
    pub times: Option<usize>,
}

impl Rule {
    /// Injects `fault` into the first request matching `needle`, once.
    pub(crate) fn new(needle: &str, fault: Fault) -> Rule {
        Rule {
            needle: needle.to_string(),
            fault,
            skip: 0,
            every: 1,
            times: Some(1),
        }
    }
    /// Lets the first `n` matching requests through.
    pub(crate) fn skip(mut self, n: usize) -> Rule {
        self.skip = n;
        self
    }
    /// Injects on every `n`-th matching request (after `skip`).
    pub(crate) fn every(mut self, n: usize) -> Rule {
        self.every = n.max(1);
        self
    }
    /// Injects at most `n` times.
    pub(crate) fn times(mut self, n: usize) -> Rule {
        self.times = Some(n);
        self
    }
    /// Injects forever: a fault that never clears.
    pub(crate) fn forever(mut self) -> Rule {
        self.times = None;
        self
    }
}

#[derive(Default)]
struct State {
    rules: Vec<Rule>,
    /// Matching requests seen per rule.
    seen: Vec<usize>,
    /// Faults injected per rule.
    injected: Vec<usize>,
}

impl State {
    fn decide(&mut self, head: &str, body: &str) -> Option<Fault> {
        for (i, r) in self.rules.iter().enumerate() {
            if !(head.contains(&r.needle) || body.contains(&r.needle)) {
                continue;
            }
            self.seen[i] += 1;
            let n = self.seen[i];
            let due = n > r.skip && (n - r.skip - 1).is_multiple_of(r.every);
            let left = r.times.is_none_or(|t| self.injected[i] < t);
            if due && left {
                self.injected[i] += 1;
                return Some(r.fault.clone());
            }
        }
        None
    }
}

pub(crate) struct FaultProxy {
    endpoint: String,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    /// Starts the proxy on the current tokio runtime; `upstream` is `http://127.0.0.1:PORT`.
    pub(crate) async fn start(upstream: &str, rules: Vec<Rule>) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let state = Arc::new(Mutex::new(State::default()));
        let proxy = FaultProxy {
            endpoint,
            state: state.clone(),
            task: tokio::spawn(async move {
                while let Ok((conn, _)) = listener.accept().await {
                    let (state, upstream) = (state.clone(), upstream.clone());
                    tokio::spawn(async move {
                        let _ = serve(conn, &upstream, &state).await;
                    });
                }
            }),
        };
        proxy.set_rules(rules);
        proxy
    }

    /// `http://127.0.0.1:PORT`: give it to drillbook as `AWS_ENDPOINT_URL`.
    pub(crate) fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Replaces the rules (and their counters): `set_rules(vec![])` clears every fault.
    pub(crate) fn set_rules(&self, rules: Vec<Rule>) {
        let mut s = self.state.lock().unwrap();
        s.seen = vec![0; rules.len()];
        s.injected = vec![0; rules.len()];
        s.rules = rules;
    }

    /// How many times each rule injected its fault.
    pub(crate) fn injected(&self) -> Vec<usize> {
        self.state.lock().unwrap().injected.clone()
    }

    /// How many requests matched each rule.
    pub(crate) fn seen(&self) -> Vec<usize> {
        self.state.lock().unwrap().seen.clone()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads one HTTP request (head and `Content-Length` body); `None` at EOF.
async fn read_request(conn: &mut TcpStream) -> std::io::Result<Option<(String, Vec<u8>)>> {
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let mut chunk = [0u8; 8192];
        let n = conn.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let len = header(&head, "content-length")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < len {
        let mut chunk = vec![0u8; len - body.len()];
        let n = conn.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Ok(Some((head, body)))
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// The head with its `Connection` header replaced by `Connection: close`.
fn with_connection_close(head: &str) -> String {
    let mut out = String::new();
    for line in head.trim_end_matches("\r\n\r\n").split("\r\n") {
        if line
            .split_once(':')
            .is_some_and(|(k, _)| k.trim().eq_ignore_ascii_case("connection"))
        {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    out
}

async fn reset(conn: TcpStream) {
    // SO_LINGER 0: closing sends RST instead of FIN (and does not block).
    use std::os::fd::AsRawFd;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket descriptor owned by `conn`, and a correctly sized option value.
    unsafe {
        libc::setsockopt(
            conn.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
    drop(conn);
}

/// A CBOR text string (major type 3) shorter than 24 bytes.
fn cbor_text(s: &str) -> Vec<u8> {
    assert!(s.len() < 24);
    let mut out = vec![0x60 | s.len() as u8];
    out.extend_from_slice(s.as_bytes());
    out
}

fn throttle_response(head: &str) -> Vec<u8> {
    // Smithy RPC v2 CBOR (CloudWatch in the AWS SDK for Rust): the error is a CBOR map with
    // `__type`, and the response says its protocol in `smithy-protocol`.
    if header(head, "smithy-protocol").is_some_and(|p| p.contains("cbor")) {
        let mut body = vec![0xa2];
        body.extend(cbor_text("__type"));
        body.extend(cbor_text("ThrottlingException"));
        body.extend(cbor_text("message"));
        body.extend(cbor_text("Rate exceeded"));
        let mut out = format!(
            "HTTP/1.1 400 Bad Request\r\nContent-Type: application/cbor\r\n\
             smithy-protocol: rpc-v2-cbor\r\nx-amzn-RequestId: fault-proxy\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .into_bytes();
        out.extend(body);
        return out;
    }
    let json = header(head, "x-amz-target").is_some()
        || header(head, "content-type").is_some_and(|c| c.contains("json"));
    let (ctype, body) = if json {
        (
            "application/x-amz-json-1.1",
            r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.to_string(),
        )
    } else {
        (
            "text/xml",
            "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>\
             <Message>Rate exceeded</Message></Error><RequestId>fault-proxy</RequestId>\
             </ErrorResponse>"
                .to_string(),
        )
    };
    format!(
        "HTTP/1.1 400 Bad Request\r\nContent-Type: {ctype}\r\nx-amzn-RequestId: fault-proxy\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn status_response(code: u16) -> Vec<u8> {
    let body = format!(
        "<ErrorResponse><Error><Code>InternalFailure</Code><Message>injected HTTP {code}\
         </Message></Error></ErrorResponse>"
    );
    format!(
        "HTTP/1.1 {code} Injected\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Forwards one request upstream and returns the whole response, rewritten to
/// `Connection: close`.
async fn forward(upstream: &str, head: &str, body: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut up = TcpStream::connect(upstream).await?;
    up.write_all(with_connection_close(head).as_bytes()).await?;
    up.write_all(body).await?;
    let mut resp = Vec::new();
    up.read_to_end(&mut resp).await?;
    let Some(i) = resp.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(resp);
    };
    let rhead = String::from_utf8_lossy(&resp[..i + 4]).into_owned();
    let mut out = with_connection_close(&rhead).into_bytes();
    out.extend_from_slice(&resp[i + 4..]);
    Ok(out)
}

async fn serve(mut conn: TcpStream, upstream: &str, state: &Mutex<State>) -> std::io::Result<()> {
    let Some((head, body)) = read_request(&mut conn).await? else {
        return Ok(());
    };
    let fault = state
        .lock()
        .unwrap()
        .decide(&head, &String::from_utf8_lossy(&body));
    match fault {
        None => {}
        Some(Fault::Status(code)) => return conn.write_all(&status_response(code)).await,
        Some(Fault::Throttle) => return conn.write_all(&throttle_response(&head)).await,
        Some(Fault::Reset) => {
            reset(conn).await;
            return Ok(());
        }
        Some(Fault::Delay(d)) => tokio::time::sleep(d).await,
        Some(Fault::LostAfterEffect) => {
            let _ = forward(upstream, &head, &body).await?;
            reset(conn).await;
            return Ok(());
        }
    }
    let resp = forward(upstream, &head, &body).await?;
    conn.write_all(&resp).await?;
    conn.shutdown().await
}
