//! A fault-injecting loopback HTTP proxy, for moto's EC2 server or the GCP
//! simulator: it answers a chosen fraction of requests with throttling,
//! internal errors, dropped connections or added latency (some of them after
//! the call went through, so the caller cannot know whether it happened),
//! hides a newly created `pcx-` from Describe for a while (EC2's eventual
//! consistency), stops everything after the k-th mutating call (a crash
//! point: the test then kills the client with SIGKILL), and holds chosen
//! calls until several arrive at once (a race, made certain).
//!
//! It is plain HTTP/1.1 over tokio, not a server framework, so that it can
//! close a connection without answering. It runs on its own thread and
//! runtime: a test may block (waiting for a `peerctl` process) while the
//! proxy keeps serving.

use crate::proxy::top_level_items;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One kind of injected failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    /// Not forwarded; EC2's `RequestLimitExceeded` (HTTP 503), or GCP's 429 `rateLimitExceeded`.
    Throttle,
    /// Not forwarded; EC2's `InternalError` (HTTP 500), or GCP's 500 `backendError`.
    InternalError,
    /// Forwarded, then the answer is replaced by a 500: the call happened, the caller cannot know.
    InternalErrorAfterForward,
    /// Not forwarded; the connection is closed without an answer.
    Drop,
    /// Forwarded, then the connection is closed without an answer (the answer is lost).
    DropAfterForward,
    /// Forwarded after `FaultConfig::slow`; the answer is correct.
    Slow,
}

impl Fault {
    pub const ALL: [Fault; 6] =
        [Fault::Throttle, Fault::InternalError, Fault::InternalErrorAfterForward, Fault::Drop, Fault::DropAfterForward, Fault::Slow];

    /// The name used in the counters.
    pub fn name(self) -> &'static str {
        match self {
            Fault::Throttle => "throttle",
            Fault::InternalError => "internal_error",
            Fault::InternalErrorAfterForward => "internal_error_after_forward",
            Fault::Drop => "drop",
            Fault::DropAfterForward => "drop_after_forward",
            Fault::Slow => "slow",
        }
    }
}

/// What the proxy does to the traffic; `FaultConfig::default()` passes everything through.
#[derive(Debug, Clone)]
pub struct FaultConfig {
    /// Fraction (0.0–1.0) of eligible requests that get a fault.
    pub rate: f64,
    /// The faults to pick from, uniformly (repeat one to weight it).
    pub mix: Vec<Fault>,
    /// Reads (EC2 `Describe…`, GCP GETs and operation waits) are eligible.
    pub reads: bool,
    /// Mutating calls are eligible.
    pub mutations: bool,
    /// Seed of the fault sequence.
    pub seed: u64,
    /// Delay of `Fault::Slow`.
    pub slow: Duration,
    /// Added to every request.
    pub latency: Duration,
    /// After a `CreateVpcPeeringConnection` passes through, its `pcx-` is
    /// left out of `DescribeVpcPeeringConnections` answers for this long.
    pub hide_new_pcx: Duration,
    /// While a `pcx-` is hidden, mutating calls naming it are answered
    /// `InvalidVpcPeeringConnectionID.NotFound` without being forwarded.
    pub hidden_pcx_not_found: bool,
}

impl Default for FaultConfig {
    fn default() -> Self {
        FaultConfig {
            rate: 0.0,
            mix: Fault::ALL.to_vec(),
            reads: true,
            mutations: true,
            seed: 1,
            slow: Duration::from_millis(300),
            latency: Duration::ZERO,
            hide_new_pcx: Duration::ZERO,
            hidden_pcx_not_found: false,
        }
    }
}

impl FaultConfig {
    /// Every kind of fault on `rate` of all calls, reads and mutations alike.
    pub fn rate(rate: f64, seed: u64) -> FaultConfig {
        FaultConfig { rate, seed, ..FaultConfig::default() }
    }
}

/// What the proxy has done so far.
#[derive(Debug, Clone, Default)]
pub struct Counters {
    pub requests: u64,
    /// Faults injected, by `Fault::name` (and `hidden_pcx_not_found`).
    pub faults: BTreeMap<&'static str, u64>,
    /// Mutating calls that reached the upstream server.
    pub mutations_forwarded: u64,
    /// Those calls in order: the EC2 action, or GCP's `METHOD path` (for a GCP firewall insert, with the rule's name).
    pub mutation_log: Vec<String>,
    /// Calls that reached the upstream server, by operation (EC2 action, or GCP `METHOD lastSegment`).
    pub forwarded: BTreeMap<String, u64>,
    /// `pcx-` entries left out of Describe answers.
    pub hidden_from_describe: u64,
    /// Error answers from upstream (status, first 300 characters), passed on to the client.
    pub upstream_errors: Vec<(u16, String)>,
}

impl Counters {
    pub fn faults_total(&self) -> u64 {
        self.faults.values().sum()
    }
}

#[derive(Default)]
struct Crash {
    /// Trip after this many mutating calls were forwarded; 0: disarmed.
    after: u64,
    seen: u64,
    tripped: bool,
}

struct Hold {
    /// Matched against `METHOD TARGET\nBODY`.
    pattern: String,
    left: usize,
    barrier: Arc<tokio::sync::Barrier>,
}

struct Inner {
    upstream: String,
    client: reqwest::Client,
    config: Mutex<FaultConfig>,
    rng: Mutex<u64>,
    counters: Mutex<Counters>,
    crash: Mutex<Crash>,
    crashed: Condvar,
    holds: Mutex<Vec<Hold>>,
    /// One-shot faults: the next request matching the pattern gets the fault.
    scripted: Mutex<Vec<(String, Fault)>>,
    hidden: Mutex<Vec<(String, Instant)>>,
    request_ids: AtomicU64,
    /// Requests being handled now.
    in_flight: AtomicU64,
}

/// A running proxy; stopped when dropped.
pub struct FaultProxy {
    /// `http://127.0.0.1:PORT`: point a client here instead of at the upstream.
    pub endpoint: String,
    inner: Arc<Inner>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FaultProxy {
    /// A proxy to `upstream` (`http://127.0.0.1:PORT`, no path), on its own thread.
    pub fn start(upstream: &str, config: FaultConfig) -> crate::Result<FaultProxy> {
        let upstream = upstream.trim_end_matches('/');
        let upstream = match upstream.find("/compute/v1") {
            Some(at) => &upstream[..at],
            None => upstream,
        };
        let seed = config.seed;
        let inner = Arc::new(Inner {
            upstream: upstream.to_string(),
            client: reqwest::Client::builder().pool_idle_timeout(Duration::from_secs(5)).build()?,
            config: Mutex::new(config),
            rng: Mutex::new(seed),
            counters: Mutex::default(),
            crash: Mutex::default(),
            crashed: Condvar::new(),
            holds: Mutex::default(),
            scripted: Mutex::default(),
            hidden: Mutex::default(),
            request_ids: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
        });
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
        let serving = inner.clone();
        let thread = std::thread::spawn(move || {
            runtime.block_on(async move {
                let Ok(listener) = TcpListener::from_std(listener) else { return };
                tokio::select! {
                    _ = accept_loop(listener, serving) => {}
                    _ = stopped => {}
                }
            });
            runtime.shutdown_background();
        });
        Ok(FaultProxy { endpoint, inner, stop: Some(stop), thread: Some(thread) })
    }

    /// Replaces the fault settings (and restarts the fault sequence from the new seed).
    pub fn configure(&self, config: FaultConfig) {
        *lock(&self.inner.rng) = config.seed;
        *lock(&self.inner.config) = config;
    }

    /// A snapshot of the counters.
    pub fn counters(&self) -> Counters {
        lock(&self.inner.counters).clone()
    }

    /// Arms a crash point: once `k` more mutating calls have been forwarded,
    /// nothing else is (every later request, and the k-th call's answer, is
    /// dropped) and `wait_crash` returns. Random faults are off while armed.
    pub fn crash_after(&self, k: u64) {
        *lock(&self.inner.crash) = Crash { after: k, seen: 0, tripped: false };
    }

    /// Disarms the crash point; traffic flows again.
    pub fn disarm(&self) {
        *lock(&self.inner.crash) = Crash::default();
    }

    /// Whether the crash point was reached, waiting at most `timeout` for it.
    pub fn wait_crash(&self, timeout: Duration) -> bool {
        let crash = lock(&self.inner.crash);
        let (crash, _) = self.inner.crashed.wait_timeout_while(crash, timeout, |c| !c.tripped).unwrap_or_else(|e| e.into_inner());
        crash.tripped
    }

    /// Waits (at most `timeout`) until no request is being handled, so that
    /// every call that got through has been answered by the upstream server.
    pub fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.inner.in_flight.load(Ordering::SeqCst) > 0 {
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        true
    }

    /// Gives `fault` to the next request whose `METHOD TARGET\nBODY` contains
    /// `pattern`, whatever the rate (once; call again for more).
    pub fn fault_next(&self, pattern: &str, fault: Fault) {
        lock(&self.inner.scripted).push((pattern.to_string(), fault));
    }

    /// Holds the next `n` requests whose `METHOD TARGET\nBODY` contains
    /// `pattern` (`Action=CreateVpcPeeringConnection`, `/addPeering?`, …)
    /// until all `n` have arrived, then lets them go together (waiting at
    /// most 20 s for the last).
    pub fn hold_until_together(&self, pattern: &str, n: usize) {
        lock(&self.inner.holds).push(Hold { pattern: pattern.to_string(), left: n, barrier: Arc::new(tokio::sync::Barrier::new(n)) });
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

async fn accept_loop(listener: TcpListener, inner: Arc<Inner>) {
    while let Ok((stream, _)) = listener.accept().await {
        let inner = inner.clone();
        tokio::spawn(async move {
            let _ = stream.set_nodelay(true);
            serve(stream, inner).await;
        });
    }
}

/// A parsed HTTP/1.1 request.
struct Request {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// What to do with one request.
enum Answer {
    Respond(Response),
    Close,
}

async fn serve(mut stream: TcpStream, inner: Arc<Inner>) {
    let mut buf = Vec::new();
    loop {
        let request = match read_request(&mut stream, &mut buf).await {
            Ok(Some(request)) => request,
            _ => return,
        };
        match handle(&inner, request).await {
            Answer::Respond(response) => {
                if write_response(&mut stream, &response).await.is_err() {
                    return;
                }
            }
            // Dropping the stream closes the connection without an answer.
            Answer::Close => return,
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Reads until `buf` holds at least `n` bytes.
async fn fill(stream: &mut TcpStream, buf: &mut Vec<u8>, n: usize) -> std::io::Result<()> {
    while buf.len() < n {
        if stream.read_buf(buf).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
    }
    Ok(())
}

/// Reads until `buf` holds `needle`; its position.
async fn fill_until(stream: &mut TcpStream, buf: &mut Vec<u8>, needle: &[u8]) -> std::io::Result<Option<usize>> {
    loop {
        if let Some(at) = find(buf, needle) {
            return Ok(Some(at));
        }
        if stream.read_buf(buf).await? == 0 {
            return Ok(None);
        }
    }
}

async fn read_request(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<Option<Request>> {
    let Some(end) = fill_until(stream, buf, b"\r\n\r\n").await? else { return Ok(None) };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    buf.drain(..end + 4);
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split(' ');
    let (method, target) = (first.next().unwrap_or_default().to_string(), first.next().unwrap_or("/").to_string());
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string())).collect();
    let header = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    if header("expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue")) {
        stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await?;
    }
    let body = if header("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked")) {
        let mut body = Vec::new();
        loop {
            let Some(at) = fill_until(stream, buf, b"\r\n").await? else { return Ok(None) };
            let line = String::from_utf8_lossy(&buf[..at]).into_owned();
            buf.drain(..at + 2);
            let size = usize::from_str_radix(line.split(';').next().unwrap_or("0").trim(), 16).unwrap_or(0);
            if size == 0 {
                // Trailers, up to an empty line.
                while let Some(at) = fill_until(stream, buf, b"\r\n").await? {
                    buf.drain(..at + 2);
                    if at == 0 {
                        break;
                    }
                }
                break;
            }
            fill(stream, buf, size + 2).await?;
            body.extend(buf.drain(..size));
            buf.drain(..2);
        }
        body
    } else {
        let length: usize = header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
        fill(stream, buf, length).await?;
        buf.drain(..length).collect()
    };
    Ok(Some(Request { method, target, headers, body }))
}

async fn write_response(stream: &mut TcpStream, response: &Response) -> std::io::Result<()> {
    let reason = reqwest::StatusCode::from_u16(response.status).ok().and_then(|s| s.canonical_reason()).unwrap_or("Unknown");
    let mut head = format!("HTTP/1.1 {} {reason}\r\n", response.status);
    for (name, value) in &response.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("content-length: {}\r\n\r\n", response.body.len()));
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(&response.body).await?;
    stream.flush().await
}

/// Which API a request speaks, for the shape of injected errors.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Dialect {
    Ec2,
    Gcp,
}

/// What the proxy needs to know about a request.
struct Call {
    dialect: Dialect,
    /// EC2 action, or `METHOD lastPathSegment` for GCP.
    op: String,
    mutation: bool,
    /// The form parameters of an EC2 call.
    params: Vec<(String, String)>,
    /// How the call shows in `Counters::mutation_log`.
    label: String,
}

fn url_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|hex| u8::from_str_radix(hex, 16).ok()) {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn classify(request: &Request) -> Call {
    let form = String::from_utf8_lossy(&request.body);
    let params: Vec<(String, String)> =
        form.split('&').filter_map(|p| p.split_once('=')).map(|(k, v)| (url_decode(k), url_decode(v))).collect();
    if let Some((_, action)) = params.iter().find(|(k, _)| k == "Action") {
        let read = ["Describe", "Get", "List", "AssumeRole"].iter().any(|prefix| action.starts_with(prefix));
        return Call { dialect: Dialect::Ec2, op: action.clone(), mutation: !read, label: action.clone(), params };
    }
    let path = request.target.split('?').next().unwrap_or_default();
    let last = path.trim_end_matches('/').rsplit('/').next().unwrap_or_default();
    let mutation = request.method != "GET" && last != "wait";
    let path = path.split("/compute/v1/").nth(1).unwrap_or(path);
    let mut label = format!("{} {path}", request.method);
    if last == "firewalls" {
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap_or_default();
        label.push_str(&format!(" ({})", body["name"].as_str().unwrap_or_default()));
    }
    Call { dialect: Dialect::Gcp, op: format!("{} {last}", request.method), mutation, label, params: Vec::new() }
}

impl Inner {
    fn count_fault(&self, name: &'static str) {
        *lock(&self.counters).faults.entry(name).or_default() += 1;
    }

    /// Draws this request's fault, if it is eligible and unlucky.
    fn draw(&self, call: &Call) -> Option<Fault> {
        let config = lock(&self.config).clone();
        let eligible = if call.mutation { config.mutations } else { config.reads };
        if !eligible || config.rate <= 0.0 || config.mix.is_empty() {
            return None;
        }
        let mut state = lock(&self.rng);
        let roll = (splitmix(&mut state) >> 11) as f64 / (1u64 << 53) as f64;
        if roll >= config.rate {
            return None;
        }
        let pick = splitmix(&mut state) % config.mix.len() as u64;
        config.mix.get(usize::try_from(pick).unwrap_or(0)).copied()
    }

    fn error(&self, dialect: Dialect, status: u16, code: &str, message: &str) -> Answer {
        let id = self.request_ids.fetch_add(1, Ordering::Relaxed);
        let (content_type, body) = match dialect {
            Dialect::Ec2 => (
                "text/xml;charset=UTF-8",
                format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>fault-{id:08}</RequestID></Response>"
                ),
            ),
            Dialect::Gcp => (
                "application/json; charset=UTF-8",
                serde_json::json!({"error": {"code": status, "message": message,
                    "errors": [{"message": message, "domain": if status == 429 { "usageLimits" } else { "global" }, "reason": code}]}})
                .to_string(),
            ),
        };
        Answer::Respond(Response { status, headers: vec![("content-type".into(), content_type.into())], body: body.into_bytes() })
    }

    fn throttle(&self, dialect: Dialect) -> Answer {
        match dialect {
            Dialect::Ec2 => self.error(dialect, 503, "RequestLimitExceeded", "Request limit exceeded."),
            Dialect::Gcp => self.error(dialect, 429, "rateLimitExceeded", "Rate Limit Exceeded"),
        }
    }

    fn internal_error(&self, dialect: Dialect) -> Answer {
        match dialect {
            Dialect::Ec2 => self.error(dialect, 500, "InternalError", "An internal error has occurred"),
            Dialect::Gcp => self.error(dialect, 500, "backendError", "Internal error. Please try again or contact Google Support."),
        }
    }

    /// A `pcx-` named by a mutating call that is still hidden.
    fn hidden_pcx_named(&self, call: &Call) -> Option<String> {
        let hidden = lock(&self.hidden);
        let now = Instant::now();
        call.params
            .iter()
            .filter(|(k, _)| k == "VpcPeeringConnectionId")
            .map(|(_, v)| v)
            .find(|id| hidden.iter().any(|(h, until)| h == *id && *until > now))
            .cloned()
    }

    async fn forward(&self, request: &Request, call: &Call) -> Result<Response, String> {
        let method = reqwest::Method::from_bytes(request.method.as_bytes()).map_err(|e| e.to_string())?;
        let mut headers = HeaderMap::new();
        for (name, value) in &request.headers {
            if ["host", "content-length", "transfer-encoding", "connection", "expect", "keep-alive"].contains(&name.as_str()) {
                continue;
            }
            if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) {
                headers.append(name, value);
            }
        }
        let url = format!("{}{}", self.upstream, request.target);
        let answer =
            self.client.request(method, url).headers(headers).body(request.body.clone()).send().await.map_err(|e| e.to_string())?;
        let status = answer.status().as_u16();
        let headers: Vec<(String, String)> = answer
            .headers()
            .iter()
            .filter(|(name, _)| !["content-length", "transfer-encoding", "connection", "keep-alive"].contains(&name.as_str()))
            .filter_map(|(name, value)| Some((name.as_str().to_string(), value.to_str().ok()?.to_string())))
            .collect();
        let body = answer.bytes().await.map_err(|e| e.to_string())?.to_vec();
        {
            let mut counters = lock(&self.counters);
            *counters.forwarded.entry(call.op.clone()).or_default() += 1;
            if call.mutation {
                counters.mutations_forwarded += 1;
                counters.mutation_log.push(call.label.clone());
            }
            if status >= 400 {
                let text = String::from_utf8_lossy(&body);
                counters.upstream_errors.push((status, text.chars().take(300).collect()));
            }
        }
        Ok(Response { status, headers, body })
    }

    /// Remembers a new `pcx-` and hides it from Describe; strips hidden ones from a Describe answer.
    fn eventual_consistency(&self, call: &Call, response: &mut Response) {
        let window = lock(&self.config).hide_new_pcx;
        if window.is_zero() || call.dialect != Dialect::Ec2 || response.status != 200 {
            return;
        }
        let text = String::from_utf8_lossy(&response.body).into_owned();
        match call.op.as_str() {
            "CreateVpcPeeringConnection" => {
                if let Some(id) = element(&text, "vpcPeeringConnectionId") {
                    lock(&self.hidden).push((id.to_string(), Instant::now() + window));
                }
            }
            "DescribeVpcPeeringConnections" => {
                let now = Instant::now();
                let hidden: Vec<String> = lock(&self.hidden).iter().filter(|(_, until)| *until > now).map(|(id, _)| id.clone()).collect();
                let (stripped, removed) = strip_connections(&text, &hidden);
                if removed > 0 {
                    lock(&self.counters).hidden_from_describe += removed;
                    response.body = stripped.into_bytes();
                }
            }
            _ => {}
        }
    }
}

/// Counts a request in flight for as long as it lives.
struct InFlight<'a>(&'a AtomicU64);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn handle(inner: &Inner, request: Request) -> Answer {
    inner.in_flight.fetch_add(1, Ordering::SeqCst);
    let _in_flight = InFlight(&inner.in_flight);
    let call = classify(&request);
    lock(&inner.counters).requests += 1;
    let latency = lock(&inner.config).latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }

    // A crash point: exactly `after` mutating calls get through, then nothing.
    let (armed, crash_now) = {
        let mut crash = lock(&inner.crash);
        if crash.tripped {
            return Answer::Close;
        }
        let armed = crash.after > 0;
        let mut now = false;
        if armed && call.mutation {
            crash.seen += 1;
            if crash.seen > crash.after {
                return Answer::Close;
            }
            now = crash.seen == crash.after;
        }
        (armed, now)
    };

    let line = format!("{} {}\n{}", request.method, request.target, String::from_utf8_lossy(&request.body));
    let barrier = {
        let mut holds = lock(&inner.holds);
        let found = holds.iter_mut().find(|h| line.contains(&h.pattern) && h.left > 0).map(|h| {
            h.left -= 1;
            h.barrier.clone()
        });
        holds.retain(|h| h.left > 0);
        found
    };
    if let Some(barrier) = barrier {
        let _ = tokio::time::timeout(Duration::from_secs(20), barrier.wait()).await;
    }

    let not_found = call.mutation && lock(&inner.config).hidden_pcx_not_found;
    if let Some(id) = inner.hidden_pcx_named(&call).filter(|_| not_found) {
        inner.count_fault("hidden_pcx_not_found");
        return inner.error(
            Dialect::Ec2,
            400,
            "InvalidVpcPeeringConnectionID.NotFound",
            &format!("The vpcPeeringConnection ID '{id}' does not exist"),
        );
    }

    let scripted = {
        let mut scripted = lock(&inner.scripted);
        let at = scripted.iter().position(|(pattern, _)| line.contains(pattern));
        at.map(|at| scripted.remove(at).1)
    };
    let fault = if armed { None } else { scripted.or_else(|| inner.draw(&call)) };
    if let Some(fault) = fault {
        inner.count_fault(fault.name());
    }
    match fault {
        Some(Fault::Throttle) => return inner.throttle(call.dialect),
        Some(Fault::InternalError) => return inner.internal_error(call.dialect),
        Some(Fault::Drop) => return Answer::Close,
        Some(Fault::Slow) => {
            let slow = lock(&inner.config).slow;
            tokio::time::sleep(slow).await;
        }
        _ => {}
    }

    let mut response = match inner.forward(&request, &call).await {
        Ok(response) => response,
        Err(error) => {
            return Answer::Respond(Response { status: 502, headers: Vec::new(), body: format!("proxy: {error}").into_bytes() });
        }
    };
    if crash_now {
        let mut crash = lock(&inner.crash);
        crash.tripped = true;
        inner.crashed.notify_all();
        return Answer::Close;
    }
    inner.eventual_consistency(&call, &mut response);
    match fault {
        Some(Fault::InternalErrorAfterForward) => inner.internal_error(call.dialect),
        Some(Fault::DropAfterForward) => Answer::Close,
        _ => Answer::Respond(response),
    }
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The text of the first `<name>` element.
fn element<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{name}>"))? + start;
    Some(&xml[start..end])
}

/// Leaves the connections whose id is in `hidden` out of a Describe answer; how many went.
fn strip_connections(xml: &str, hidden: &[String]) -> (String, u64) {
    let (open, close) = ("<vpcPeeringConnectionSet>", "</vpcPeeringConnectionSet>");
    let (Some(start), Some(end)) = (xml.find(open), xml.rfind(close)) else { return (xml.to_string(), 0) };
    let inner = &xml[start + open.len()..end];
    let mut kept = String::new();
    let mut removed = 0;
    for item in top_level_items(inner) {
        // The connection's own id is its first `vpcPeeringConnectionId` element.
        if element(item, "vpcPeeringConnectionId").is_some_and(|id| hidden.iter().any(|h| h == id)) {
            removed += 1;
        } else {
            kept.push_str(item);
        }
    }
    (format!("{}{open}{kept}{close}{}", &xml[..start], &xml[end + close.len()..]), removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_hidden_connections_from_a_describe_answer() {
        let xml = "<R><vpcPeeringConnectionSet><item><vpcPeeringConnectionId>pcx-1</vpcPeeringConnectionId><tagSet><item>t</item></tagSet></item><item><vpcPeeringConnectionId>pcx-2</vpcPeeringConnectionId></item></vpcPeeringConnectionSet></R>";
        let (out, removed) = strip_connections(xml, &["pcx-1".to_string()]);
        assert_eq!(removed, 1);
        assert_eq!(
            out,
            "<R><vpcPeeringConnectionSet><item><vpcPeeringConnectionId>pcx-2</vpcPeeringConnectionId></item></vpcPeeringConnectionSet></R>"
        );
        assert_eq!(strip_connections(xml, &[]).1, 0);
    }

    #[test]
    fn faults_hit_about_the_chosen_fraction_and_repeat_with_the_seed() {
        let draw = |seed| {
            let mut state = seed;
            (0..10_000).filter(|_| ((splitmix(&mut state) >> 11) as f64 / (1u64 << 53) as f64) < 0.2).count()
        };
        let hits = draw(7);
        assert!((1_800..2_200).contains(&hits), "{hits}");
        assert_eq!(hits, draw(7));
    }

    #[test]
    fn decodes_form_values() {
        assert_eq!(url_decode("a%2Fb+c%3D"), "a/b c=");
        assert_eq!(url_decode("100%"), "100%");
    }
}
