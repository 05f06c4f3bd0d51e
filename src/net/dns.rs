//! Embedded DNS resolver for containers, in the role of podman's aardvark-dns and
//! docker's 127.0.0.11: names of the containers a client can reach are answered
//! from a [`View`] the caller builds per query; everything else is forwarded to
//! the host's upstream servers and the reply relayed.
//!
//! Messages are parsed and built with `hickory-proto` (RFC 1035 wire format,
//! RFC 6891 EDNS(0)); the transport is plain std sockets and threads: UDP, and
//! TCP with 2-byte length-prefixed messages, several per connection (RFC 7766).
//! [`answer`] is the pure part, [`serve`] runs the sockets.

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Header, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, PTR};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};

/// The largest UDP payload this server sends or advertises in its OPT record, in bytes
/// (RFC 6891 section 6.2.5; a client asking for more gets this much).
pub const MAX_UDP_PAYLOAD: u16 = 4096;

/// The UDP payload limit without EDNS, in bytes (RFC 1035 section 4.2.1).
const CLASSIC_UDP_PAYLOAD: u16 = 512;

/// What one client may resolve locally.
///
/// - `names`: query name (lower-case ASCII, labels separated by `.`, no trailing dot, e.g.
///   `"web"` or `"web.myproject_default"`) -> its addresses, IPv4 and IPv6 mixed, in answer order.
/// - `reverse`: address -> name (same form as above) answered for PTR queries.
/// - `networks`: the subnets the client is on, as (network address, prefix length in bits);
///   a PTR query for an address inside one of them that is not in `reverse` gets NXDOMAIN
///   instead of being forwarded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct View {
    /// Name -> addresses (A and AAAA answers).
    pub names: BTreeMap<String, Vec<IpAddr>>,
    /// Address -> name (PTR answers).
    pub reverse: BTreeMap<IpAddr, String>,
    /// (network address, prefix length) of the client's subnets.
    pub networks: Vec<(IpAddr, u8)>,
    /// Where this client's other names are forwarded (its own `--dns` servers);
    /// `None`: the server's upstreams.
    pub upstreams: Option<Vec<SocketAddr>>,
}

/// How a query arrived, which decides how large the reply may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// A datagram: 512 bytes without EDNS, else min(client's EDNS payload size, [`MAX_UDP_PAYLOAD`]).
    Udp,
    /// A length-prefixed stream message (RFC 7766): up to 65535 bytes.
    Tcp,
}

/// What the server does with one query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send these bytes (a complete DNS message) back to the client.
    Reply(Vec<u8>),
    /// The name is not local: send the query to the upstream servers and relay their reply.
    Forward,
    /// Not a query whose header can be read (or a response): say nothing.
    Drop,
}

/// Answer one DNS message `query` (wire format, RFC 1035 section 4) from `view`.
///
/// - A name in `view.names` (case-insensitive, trailing dot ignored): A / AAAA get the
///   addresses of that family, ANY gets all, every other type NOERROR with no answers
///   (NODATA); never forwarded. A PTR query for `in-addr.arpa` / `ip6.arpa` of an address in
///   `view.reverse` gets the name as an FQDN. Local answers have AA=1 and TTL 0.
/// - An unknown single-label name, or the reverse name of an unknown address inside
///   `view.networks`: NXDOMAIN. Any other unknown name: [`Action::Forward`].
/// - Replies copy the id, RD and CD bits and echo the question; RA=1. A query with an OPT
///   record gets one back (advertising [`MAX_UDP_PAYLOAD`], DO copied; EDNS version > 0 gets
///   BADVERS, RFC 6891 section 6.1.3). A reply larger than `transport` allows is sent without
///   answers and with TC=1.
/// - Errors: a readable header with an opcode other than QUERY -> NOTIMP; not exactly one
///   question, or an undecodable message -> FORMERR; fewer than 12 bytes or QR=1 -> [`Action::Drop`].
///
/// Never panics, whatever the bytes.
pub fn answer(query: &[u8], view: &View, transport: Transport) -> Action {
    let Ok(header) = Header::read(&mut BinDecoder::new(query)) else { return Action::Drop };
    let request = header.metadata;
    if request.message_type == MessageType::Response {
        return Action::Drop;
    }
    if request.op_code != OpCode::Query {
        return reply(response_to(&request, None, None, ResponseCode::NotImp), CLASSIC_UDP_PAYLOAD.into());
    }
    if header.counts.queries != 1 {
        return reply(response_to(&request, None, None, ResponseCode::FormErr), CLASSIC_UDP_PAYLOAD.into());
    }
    let Ok(message) = Message::from_vec(query) else {
        return reply(response_to(&request, None, None, ResponseCode::FormErr), CLASSIC_UDP_PAYLOAD.into());
    };
    let Some(question) = message.queries.first() else {
        return reply(response_to(&request, None, None, ResponseCode::FormErr), CLASSIC_UDP_PAYLOAD.into());
    };
    let limit = size_limit(message.edns.as_ref(), transport);
    if message.edns.as_ref().is_some_and(|edns| edns.version() > 0) {
        return reply(response_to(&request, Some(question), message.edns.as_ref(), ResponseCode::BADVERS), limit);
    }
    let (code, answers) = match lookup(question, view) {
        Lookup::Forward => return Action::Forward,
        Lookup::NxDomain => (ResponseCode::NXDomain, Vec::new()),
        Lookup::Answers(answers) => (ResponseCode::NoError, answers),
    };
    let mut response = response_to(&request, Some(question), message.edns.as_ref(), code);
    response.metadata.authoritative = true;
    response.answers = answers;
    reply(response, limit)
}

/// A SERVFAIL reply to `query` (its id, RD bit, question and OPT record if it can be
/// decoded), for when no upstream answered; `None` when `query` has no readable header or
/// is a response. Never panics.
pub fn servfail(query: &[u8]) -> Option<Vec<u8>> {
    let header = Header::read(&mut BinDecoder::new(query)).ok()?;
    if header.metadata.message_type == MessageType::Response {
        return None;
    }
    let message = Message::from_vec(query).ok().filter(|m| m.queries.len() == 1);
    let question = message.as_ref().and_then(|m| m.queries.first());
    let edns = message.as_ref().and_then(|m| m.edns.as_ref());
    response_to(&header.metadata, question, edns, ResponseCode::ServFail).to_vec().ok()
}

/// The outcome of looking a question up in a view.
enum Lookup {
    Answers(Vec<Record>),
    NxDomain,
    Forward,
}

fn lookup(question: &Query, view: &View) -> Lookup {
    let name = question.name();
    let qtype = question.query_type();
    let in_class = matches!(question.query_class(), DNSClass::IN | DNSClass::ANY);
    if let Some(addresses) = name_key(name).and_then(|key| view.names.get(&key)) {
        let answers = addresses
            .iter()
            .filter(|_| in_class)
            .filter_map(|address| match (address, qtype) {
                (IpAddr::V4(v4), RecordType::A | RecordType::ANY) => Some(RData::A(A(*v4))),
                (IpAddr::V6(v6), RecordType::AAAA | RecordType::ANY) => Some(RData::AAAA(AAAA(*v6))),
                _ => None,
            })
            .map(|data| Record::from_rdata(name.clone(), 0, data))
            .collect();
        return Lookup::Answers(answers);
    }
    if let Some(address) = arpa_address(name) {
        if let Some(host) = view.reverse.get(&address) {
            let target = Name::from_ascii(format!("{host}.")).ok().filter(|_| in_class && matches!(qtype, RecordType::PTR | RecordType::ANY));
            return Lookup::Answers(target.map(|target| Record::from_rdata(name.clone(), 0, RData::PTR(PTR(target)))).into_iter().collect());
        }
        if view.networks.iter().any(|&(network, prefix)| in_subnet(address, network, prefix)) {
            return Lookup::NxDomain;
        }
        return Lookup::Forward;
    }
    if name.iter().count() == 1 { Lookup::NxDomain } else { Lookup::Forward }
}

/// `name` as a [`View::names`] key: lower-case labels joined by dots; `None` for the root
/// or a name whose labels could not be written that way (a dot or non-UTF-8 inside a label).
fn name_key(name: &Name) -> Option<String> {
    let mut key = String::new();
    for label in name.iter() {
        let label = std::str::from_utf8(label).ok().filter(|l| !l.is_empty() && !l.contains('.'))?;
        if !key.is_empty() {
            key.push('.');
        }
        key.push_str(&label.to_ascii_lowercase());
    }
    Some(key).filter(|k| !k.is_empty())
}

/// The full address a reverse name (`4.3.2.1.in-addr.arpa.`, 32 nibbles + `ip6.arpa.`) stands for.
fn arpa_address(name: &Name) -> Option<IpAddr> {
    let net = name.parse_arpa_name().ok()?;
    let full = match net.addr() {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    };
    (net.prefix_len() == full).then(|| net.addr())
}

/// Whether `address` lies in `network`/`prefix` (same family only; a prefix longer than the
/// address never matches).
fn in_subnet(address: IpAddr, network: IpAddr, prefix: u8) -> bool {
    match (address, network) {
        (IpAddr::V4(a), IpAddr::V4(n)) if prefix <= 32 => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) if prefix <= 128 => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// The largest reply, in bytes, a client reached over `transport` can take.
fn size_limit(edns: Option<&Edns>, transport: Transport) -> usize {
    match (transport, edns) {
        (Transport::Tcp, _) => usize::from(u16::MAX),
        (Transport::Udp, None) => usize::from(CLASSIC_UDP_PAYLOAD),
        (Transport::Udp, Some(edns)) => usize::from(edns.max_payload().clamp(CLASSIC_UDP_PAYLOAD, MAX_UDP_PAYLOAD)),
    }
}

/// The UDP size limit of a raw query (512 when it cannot be decoded).
fn udp_limit_of(query: &[u8]) -> usize {
    size_limit(Message::from_vec(query).ok().and_then(|m| m.edns).as_ref(), Transport::Udp)
}

/// A reply to `request` with `code`, echoing `question`, and an OPT record when the request
/// had `edns`; RA set, RD and CD copied, no answers yet.
fn response_to(request: &hickory_proto::op::Metadata, question: Option<&Query>, edns: Option<&Edns>, code: ResponseCode) -> Message {
    let mut message = Message::response(request.id, request.op_code);
    message.metadata.recursion_desired = request.recursion_desired;
    message.metadata.checking_disabled = request.checking_disabled;
    message.metadata.recursion_available = true;
    message.metadata.response_code = code;
    if let Some(question) = question {
        message.add_query(question.clone());
    }
    if let Some(asked) = edns {
        let mut edns = Edns::new();
        edns.set_max_payload(MAX_UDP_PAYLOAD);
        edns.set_dnssec_ok(asked.flags().dnssec_ok);
        message.set_edns(edns);
    }
    message
}

/// Encode `message`; when it is larger than `limit` bytes, drop the answers and set TC
/// (RFC 1035 section 4.2.1, RFC 6891 section 7).
fn reply(mut message: Message, limit: usize) -> Action {
    match message.to_vec() {
        Ok(bytes) if bytes.len() <= limit => Action::Reply(bytes),
        _ => {
            message.answers.clear();
            message.metadata.truncation = true;
            message.to_vec().map_or(Action::Drop, Action::Reply)
        }
    }
}

/// Timing and bounds of [`serve`].
#[derive(Debug, Clone, Copy)]
struct Limits {
    /// How long one upstream gets to answer before the next is tried.
    upstream_timeout: Duration,
    /// A TCP connection with no complete message for this long is closed.
    tcp_idle: Duration,
    /// Open client TCP connections at most; more are closed at once.
    max_tcp: usize,
    /// Forwarded UDP queries in flight at most; more get SERVFAIL.
    max_forwards: usize,
    /// How often blocked loops look at the stop flag.
    poll: Duration,
}

impl Limits {
    const DEFAULT: Limits = Limits {
        upstream_timeout: Duration::from_secs(2),
        tcp_idle: Duration::from_secs(10),
        max_tcp: 64,
        max_forwards: 128,
        poll: Duration::from_millis(100),
    };
}

/// Picks what one client may see; `None`: a stranger, whose queries are dropped
/// unanswered (the resolver is no open forwarder, and no reflector for spoofed sources).
pub type ViewFor = Arc<dyn Fn(IpAddr) -> Option<View> + Send + Sync>;

/// What every serving thread shares.
struct Shared {
    view_for: ViewFor,
    upstreams: Vec<SocketAddr>,
    stop: Arc<AtomicBool>,
    limits: Limits,
    forwards: Arc<AtomicUsize>,
    connections: Arc<AtomicUsize>,
}

/// Serve DNS on `udp` sockets and `tcp` listeners until `stop` is set.
///
/// One thread per socket and per listener; they notice `stop` within about 100 ms and the
/// returned handles then finish. For each query `view_for(client address)` is called (an
/// IPv4-mapped IPv6 source is given as IPv4) and the query answered with [`answer`]. A
/// query to forward is sent to `upstreams` in order, each given 2 s: over UDP from a fresh
/// ephemeral port with a random id (a truncated reply is retried over TCP), over TCP when
/// the client asked over TCP; a SERVFAIL or REFUSED reply makes the next upstream be tried.
/// The reply is relayed with the client's id; when nothing usable came back the client gets
/// SERVFAIL. UDP forwards run on their own threads, at most 128 at once (more: SERVFAIL).
/// TCP (RFC 7766): 2-byte length-prefixed messages, several per connection, answered in
/// order; at most 64 connections, each closed after 10 s without a message.
///
/// Errors: setting up a socket (timeouts, non-blocking mode) or starting a thread failed.
pub fn serve(
    udp: Vec<UdpSocket>,
    tcp: Vec<TcpListener>,
    view_for: ViewFor,
    upstreams: Vec<SocketAddr>,
    stop: Arc<AtomicBool>,
) -> io::Result<Vec<JoinHandle<()>>> {
    serve_with(udp, tcp, view_for, upstreams, stop, Limits::DEFAULT)
}

fn serve_with(
    udp: Vec<UdpSocket>,
    tcp: Vec<TcpListener>,
    view_for: ViewFor,
    upstreams: Vec<SocketAddr>,
    stop: Arc<AtomicBool>,
    limits: Limits,
) -> io::Result<Vec<JoinHandle<()>>> {
    let shared = Arc::new(Shared { view_for, upstreams, stop, limits, forwards: Arc::default(), connections: Arc::default() });
    let mut handles = Vec::new();
    for socket in udp {
        socket.set_nonblocking(false)?;
        socket.set_read_timeout(Some(limits.poll))?;
        let shared = shared.clone();
        handles.push(std::thread::Builder::new().name("dns-udp".into()).spawn(move || serve_udp(Arc::new(socket), &shared))?);
    }
    for listener in tcp {
        listener.set_nonblocking(true)?;
        let shared = shared.clone();
        handles.push(std::thread::Builder::new().name("dns-tcp".into()).spawn(move || serve_tcp(&listener, &shared))?);
    }
    Ok(handles)
}

/// One running task counted in a shared counter while this is alive.
struct Slot(Arc<AtomicUsize>);

impl Slot {
    /// Take a slot if fewer than `max` are taken.
    fn take(counter: &Arc<AtomicUsize>, max: usize) -> Option<Slot> {
        counter.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < max).then_some(n + 1)).ok().map(|_| Slot(counter.clone()))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

fn serve_udp(socket: Arc<UdpSocket>, shared: &Arc<Shared>) {
    let mut buffer = vec![0u8; usize::from(u16::MAX)];
    while !shared.stop.load(Ordering::Relaxed) {
        let (len, client) = match socket.recv_from(&mut buffer) {
            Ok(got) => got,
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted) => continue,
            Err(_) => {
                // E.g. a reported ICMP error: keep serving, without spinning.
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        let query = &buffer[..len];
        let Some(view) = (shared.view_for)(client.ip().to_canonical()) else { continue };
        match answer(query, &view, Transport::Udp) {
            Action::Reply(bytes) => {
                let _ = socket.send_to(&bytes, client);
            }
            Action::Drop => {}
            Action::Forward => forward_udp(query.to_vec(), client, &socket, shared, view.upstreams.unwrap_or_else(|| shared.upstreams.clone())),
        }
    }
}

/// Forward one UDP query on its own thread, or answer SERVFAIL when too many are in flight.
fn forward_udp(query: Vec<u8>, client: SocketAddr, socket: &Arc<UdpSocket>, shared: &Arc<Shared>, upstreams: Vec<SocketAddr>) {
    let started = Slot::take(&shared.forwards, shared.limits.max_forwards).and_then(|slot| {
        let (socket, shared) = (socket.clone(), shared.clone());
        let query = query.clone();
        let work = move || {
            let _slot = slot;
            let reply = forward(&query, Transport::Udp, &upstreams, shared.limits.upstream_timeout).or_else(|| servfail(&query));
            if let Some(bytes) = reply {
                let _ = socket.send_to(&bytes, client);
            }
        };
        std::thread::Builder::new().name("dns-forward".into()).spawn(work).ok()
    });
    if started.is_none()
        && let Some(bytes) = servfail(&query)
    {
        let _ = socket.send_to(&bytes, client);
    }
}

fn serve_tcp(listener: &TcpListener, shared: &Arc<Shared>) {
    while !shared.stop.load(Ordering::Relaxed) {
        let (stream, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => {
                // WouldBlock (nothing to accept) or a transient error such as EMFILE.
                std::thread::sleep(shared.limits.poll.min(Duration::from_millis(50)));
                continue;
            }
        };
        // Over the limit the connection is closed at once; the client may retry.
        let Some(slot) = Slot::take(&shared.connections, shared.limits.max_tcp) else { continue };
        let shared = shared.clone();
        let _ = std::thread::Builder::new().name("dns-tcp-conn".into()).spawn(move || {
            let _slot = slot;
            serve_connection(stream, peer.ip().to_canonical(), &shared);
        });
    }
}

/// Answer length-prefixed queries on one client connection, in order, until the client
/// closes it, it is idle for `tcp_idle`, or `stop` is set.
fn serve_connection(mut stream: TcpStream, client: IpAddr, shared: &Shared) {
    let limits = shared.limits;
    if stream.set_nonblocking(false).is_err() || stream.set_read_timeout(Some(limits.poll)).is_err() || stream.set_write_timeout(Some(limits.tcp_idle)).is_err()
    {
        return;
    }
    let _ = stream.set_nodelay(true);
    let mut pending = Vec::new();
    let mut chunk = [0u8; 4096];
    let mut last_message = Instant::now();
    loop {
        while let Some(query) = take_framed(&mut pending) {
            last_message = Instant::now();
            let Some(view) = (shared.view_for)(client) else { return };
            let reply = match answer(&query, &view, Transport::Tcp) {
                Action::Reply(bytes) => Some(bytes),
                Action::Drop => None,
                Action::Forward => forward(&query, Transport::Tcp, view.upstreams.as_deref().unwrap_or(&shared.upstreams), limits.upstream_timeout)
                    .or_else(|| servfail(&query)),
            };
            if let Some(bytes) = reply
                && write_framed(&mut stream, &bytes).is_err()
            {
                return;
            }
        }
        if shared.stop.load(Ordering::Relaxed) || last_message.elapsed() >= limits.tcp_idle {
            return;
        }
        match stream.read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => pending.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted) => {}
            Err(_) => return,
        }
    }
}

/// Remove one complete length-prefixed message from the front of `pending`.
fn take_framed(pending: &mut Vec<u8>) -> Option<Vec<u8>> {
    let len = usize::from(u16::from_be_bytes([*pending.first()?, *pending.get(1)?]));
    let message = pending.get(2..2 + len)?.to_vec();
    pending.drain(..2 + len);
    Some(message)
}

/// Write `message` with its 2-byte length prefix, in one write.
fn write_framed(stream: &mut TcpStream, message: &[u8]) -> io::Result<()> {
    let len = u16::try_from(message.len()).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "DNS message over 65535 bytes"))?;
    let mut framed = Vec::with_capacity(message.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(message);
    stream.write_all(&framed)
}

/// Read one length-prefixed message.
fn read_framed(stream: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 2];
    stream.read_exact(&mut len)?;
    let mut message = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut message)?;
    Ok(message)
}

/// Send `query` to `upstreams` in order and return the first usable reply, with the
/// query's own id; a SERVFAIL / REFUSED reply is kept only if no later upstream does better.
fn forward(query: &[u8], transport: Transport, upstreams: &[SocketAddr], timeout: Duration) -> Option<Vec<u8>> {
    let client_id = [*query.first()?, *query.get(1)?];
    let mut fallback = None;
    for &upstream in upstreams {
        let id = random_id();
        let mut outgoing = query.to_vec();
        outgoing[..2].copy_from_slice(&id);
        let reply = match transport {
            Transport::Udp => match exchange_udp(&outgoing, upstream, timeout) {
                Some(short) if short[2] & 0x02 != 0 => match exchange_tcp(&outgoing, upstream, timeout) {
                    Some(full) if full.len() <= udp_limit_of(query) => Some(full),
                    _ => Some(short),
                },
                other => other,
            },
            Transport::Tcp => exchange_tcp(&outgoing, upstream, timeout),
        };
        let Some(mut reply) = reply else { continue };
        reply[..2].copy_from_slice(&client_id);
        let code = reply[3] & 0x0F;
        if code == ResponseCode::ServFail.low() || code == ResponseCode::Refused.low() {
            fallback = Some(reply);
            continue;
        }
        return Some(reply);
    }
    fallback
}

/// Whether `reply` answers a query sent with `id`: long enough for a header, QR set, same id.
fn is_reply_to(reply: &[u8], id: [u8; 2]) -> bool {
    reply.len() >= 12 && reply[..2] == id && reply[2] & 0x80 != 0
}

/// One UDP exchange from a fresh ephemeral port; `None` on error or after `timeout`.
fn exchange_udp(query: &[u8], upstream: SocketAddr, timeout: Duration) -> Option<Vec<u8>> {
    let local: SocketAddr = match upstream {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = UdpSocket::bind(local).ok()?;
    socket.connect(upstream).ok()?;
    socket.send(query).ok()?;
    let deadline = Instant::now() + timeout;
    let mut buffer = vec![0u8; usize::from(u16::MAX)];
    loop {
        let left = deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero())?;
        socket.set_read_timeout(Some(left)).ok()?;
        match socket.recv(&mut buffer) {
            Ok(len) if is_reply_to(&buffer[..len], [query[0], query[1]]) => return Some(buffer[..len].to_vec()),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
}

/// One TCP exchange (RFC 7766); `None` on error, or when connecting, sending or receiving
/// takes longer than `timeout`.
fn exchange_tcp(query: &[u8], upstream: SocketAddr, timeout: Duration) -> Option<Vec<u8>> {
    let mut stream = TcpStream::connect_timeout(&upstream, timeout).ok()?;
    stream.set_read_timeout(Some(timeout)).ok()?;
    stream.set_write_timeout(Some(timeout)).ok()?;
    write_framed(&mut stream, query).ok()?;
    let reply = read_framed(&mut stream).ok()?;
    is_reply_to(&reply, [query[0], query[1]]).then_some(reply)
}

/// A fresh random message id (std's randomly keyed hasher over the clock).
fn random_id() -> [u8; 2] {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
    (hasher.finish() as u16).to_be_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    const ID: u16 = 0x1234;

    fn v4(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn view() -> View {
        let mut names = BTreeMap::new();
        names.insert("web".to_string(), vec![v4("172.20.0.2"), v4("fd00::2")]);
        names.insert("db".to_string(), vec![v4("172.20.0.3")]);
        names.insert("db.proj_default".to_string(), vec![v4("172.20.0.3")]);
        names.insert("many".to_string(), (1..=40).map(|i| IpAddr::V4(Ipv4Addr::new(172, 20, 1, i))).collect());
        let mut reverse = BTreeMap::new();
        reverse.insert(v4("172.20.0.2"), "web".to_string());
        reverse.insert(v4("fd00::2"), "web".to_string());
        View { names, reverse, networks: vec![(v4("172.20.0.0"), 16), (v4("fd00::"), 64)], upstreams: None }
    }

    fn query_message(name: &str, qtype: RecordType) -> Message {
        let mut message = Message::new(ID, MessageType::Query, OpCode::Query);
        message.metadata.recursion_desired = true;
        message.add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
        message
    }

    fn query(name: &str, qtype: RecordType) -> Vec<u8> {
        query_message(name, qtype).to_vec().unwrap()
    }

    fn with_edns(name: &str, qtype: RecordType, payload: u16, version: u8) -> Vec<u8> {
        let mut message = query_message(name, qtype);
        let mut edns = Edns::new();
        edns.set_max_payload(payload).set_version(version);
        message.set_edns(edns);
        message.to_vec().unwrap()
    }

    fn reply_to(bytes: &[u8], transport: Transport) -> Message {
        match answer(bytes, &view(), transport) {
            Action::Reply(reply) => Message::from_vec(&reply).unwrap(),
            other => panic!("expected a reply, got {other:?}"),
        }
    }

    fn ask(name: &str, qtype: RecordType) -> Message {
        reply_to(&query(name, qtype), Transport::Udp)
    }

    fn addresses(message: &Message) -> Vec<IpAddr> {
        message
            .answers
            .iter()
            .filter_map(|r| match &r.data {
                RData::A(a) => Some(IpAddr::V4(a.0)),
                RData::AAAA(a) => Some(IpAddr::V6(a.0)),
                _ => None,
            })
            .collect()
    }

    fn assert_local(reply: &Message, code: ResponseCode) {
        assert_eq!(reply.metadata.id, ID);
        assert_eq!(reply.metadata.message_type, MessageType::Response);
        assert_eq!(reply.metadata.response_code, code);
        assert!(reply.metadata.authoritative && reply.metadata.recursion_available && reply.metadata.recursion_desired);
        assert!(!reply.metadata.truncation);
        assert_eq!(reply.queries.len(), 1);
        assert!(reply.answers.iter().all(|r| r.ttl == 0));
    }

    #[test]
    fn a_and_aaaa_answer_the_family() {
        let reply = ask("web", RecordType::A);
        assert_local(&reply, ResponseCode::NoError);
        assert_eq!(addresses(&reply), vec![v4("172.20.0.2")]);
        assert_eq!(reply.queries[0].name().to_ascii(), "web.");
        assert_eq!(addresses(&ask("web", RecordType::AAAA)), vec![v4("fd00::2")]);
        assert_eq!(addresses(&ask("web", RecordType::ANY)), vec![v4("172.20.0.2"), v4("fd00::2")]);
        assert_eq!(addresses(&reply_to(&query("many", RecordType::A), Transport::Tcp)).len(), 40);
    }

    #[test]
    fn known_name_without_that_type_is_nodata() {
        for qtype in [RecordType::AAAA, RecordType::MX, RecordType::TXT, RecordType::PTR] {
            let reply = ask("db", qtype);
            assert_local(&reply, ResponseCode::NoError);
            assert!(reply.answers.is_empty(), "{qtype}");
        }
        // Another class than IN: the name exists, but has no records there.
        let mut message = query_message("web", RecordType::A);
        message.queries[0].set_query_class(DNSClass::CH);
        let reply = reply_to(&message.to_vec().unwrap(), Transport::Udp);
        assert_local(&reply, ResponseCode::NoError);
        assert!(reply.answers.is_empty());
    }

    #[test]
    fn names_are_case_insensitive_and_the_question_keeps_its_case() {
        let reply = ask("WeB.", RecordType::A);
        assert_eq!(addresses(&reply), vec![v4("172.20.0.2")]);
        assert_eq!(reply.queries[0].name().to_ascii(), "WeB.");
        assert_eq!(reply.answers[0].name.to_ascii(), "WeB.");
        assert_eq!(addresses(&ask("DB.Proj_Default", RecordType::A)), vec![v4("172.20.0.3")]);
        assert_eq!(addresses(&ask("db.proj_default.", RecordType::A)), vec![v4("172.20.0.3")]);
    }

    #[test]
    fn ptr_of_known_addresses() {
        for name in ["2.0.20.172.in-addr.arpa.", "2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.IP6.ARPA."] {
            let reply = ask(name, RecordType::PTR);
            assert_local(&reply, ResponseCode::NoError);
            let targets: Vec<String> = reply
                .answers
                .iter()
                .filter_map(|r| match &r.data {
                    RData::PTR(ptr) => Some(ptr.0.to_ascii()),
                    _ => None,
                })
                .collect();
            assert_eq!(targets, ["web."], "{name}");
        }
        // Known address, other type: NODATA.
        assert!(ask("2.0.20.172.in-addr.arpa.", RecordType::A).answers.is_empty());
    }

    #[test]
    fn ptr_of_unknown_addresses() {
        assert_local(&ask("9.9.20.172.in-addr.arpa.", RecordType::PTR), ResponseCode::NXDomain);
        let unknown_v6 = "9.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.";
        assert_local(&ask(unknown_v6, RecordType::PTR), ResponseCode::NXDomain);
        let view = view();
        assert_eq!(answer(&query("8.8.8.8.in-addr.arpa.", RecordType::PTR), &view, Transport::Udp), Action::Forward);
        // Not a whole address: not ours to answer.
        assert_eq!(answer(&query("20.172.in-addr.arpa.", RecordType::PTR), &view, Transport::Udp), Action::Forward);
    }

    #[test]
    fn unknown_names() {
        let reply = ask("nosuch", RecordType::A);
        assert_local(&reply, ResponseCode::NXDomain);
        assert!(reply.answers.is_empty());
        assert_local(&ask("NoSuch.", RecordType::AAAA), ResponseCode::NXDomain);
        let view = view();
        for name in ["example.com", "web.example.com.", "db.other_net", "."] {
            assert_eq!(answer(&query(name, RecordType::A), &view, Transport::Udp), Action::Forward, "{name}");
        }
        // An empty view knows nothing, and still keeps single labels home.
        let Action::Reply(bytes) = answer(&query("web", RecordType::A), &View::default(), Transport::Udp) else { panic!("no reply") };
        assert_local(&Message::from_vec(&bytes).unwrap(), ResponseCode::NXDomain);
    }

    #[test]
    fn edns_is_answered_with_edns() {
        let reply = reply_to(&with_edns("web", RecordType::A, 1232, 0), Transport::Udp);
        assert_local(&reply, ResponseCode::NoError);
        let edns = reply.edns.as_ref().expect("OPT in reply");
        assert_eq!(edns.max_payload(), MAX_UDP_PAYLOAD);
        assert_eq!(edns.version(), 0);
        assert!(ask("web", RecordType::A).edns.is_none());
        // EDNS version 1: BADVERS (extended rcode 16), with an OPT record.
        let reply = reply_to(&with_edns("web", RecordType::A, 1232, 1), Transport::Udp);
        assert_eq!(u16::from(reply.metadata.response_code), 16, "BADVERS");
        assert!(reply.edns.is_some() && reply.answers.is_empty());
        // The DO bit is copied (RFC 3225).
        let mut message = query_message("web", RecordType::A);
        let mut edns = Edns::new();
        edns.set_dnssec_ok(true);
        message.set_edns(edns);
        assert!(reply_to(&message.to_vec().unwrap(), Transport::Udp).edns.unwrap().flags().dnssec_ok);
    }

    #[test]
    fn too_large_for_udp_is_truncated() {
        let reply = ask("many", RecordType::A);
        assert!(reply.metadata.truncation);
        assert!(reply.answers.is_empty());
        assert_eq!(reply.queries.len(), 1);
        // An EDNS client with a small buffer (below 512 counts as 512) gets TC too, with OPT.
        let reply = reply_to(&with_edns("many", RecordType::A, 100, 0), Transport::Udp);
        assert!(reply.metadata.truncation && reply.edns.is_some());
        // A large enough EDNS buffer, or TCP: all of it.
        let reply = reply_to(&with_edns("many", RecordType::A, 1232, 0), Transport::Udp);
        assert!(!reply.metadata.truncation);
        assert_eq!(reply.answers.len(), 40);
        let reply = reply_to(&query("many", RecordType::A), Transport::Tcp);
        assert!(!reply.metadata.truncation);
        assert_eq!(reply.answers.len(), 40);
    }

    /// The rcode and id of a raw reply.
    fn header_of(action: Action) -> (u16, ResponseCode, u16) {
        let Action::Reply(bytes) = action else { panic!("expected a reply, got {action:?}") };
        let header = Header::read(&mut BinDecoder::new(&bytes)).unwrap();
        assert_eq!(header.metadata.message_type, MessageType::Response);
        (header.metadata.id, header.metadata.response_code, header.counts.queries)
    }

    #[test]
    fn malformed_queries() {
        let view = view();
        let good = query("web", RecordType::A);
        // Two questions, or none.
        let mut two = query_message("web", RecordType::A);
        two.add_query(Query::query(Name::from_ascii("db").unwrap(), RecordType::A));
        assert_eq!(header_of(answer(&two.to_vec().unwrap(), &view, Transport::Udp)), (ID, ResponseCode::FormErr, 0));
        let none = Message::new(ID, MessageType::Query, OpCode::Query).to_vec().unwrap();
        assert_eq!(header_of(answer(&none, &view, Transport::Udp)), (ID, ResponseCode::FormErr, 0));
        // The question cut short.
        assert_eq!(header_of(answer(&good[..good.len() - 3], &view, Transport::Udp)), (ID, ResponseCode::FormErr, 0));
        // Not even a header, or not a query: nothing.
        assert_eq!(answer(&good[..11], &view, Transport::Udp), Action::Drop);
        assert_eq!(answer(&[], &view, Transport::Udp), Action::Drop);
        let mut response = good.clone();
        response[2] |= 0x80;
        assert_eq!(answer(&response, &view, Transport::Udp), Action::Drop);
    }

    #[test]
    fn other_opcodes_are_not_implemented() {
        let view = view();
        for opcode in [OpCode::Status, OpCode::Notify, OpCode::Update, OpCode::Unknown(3), OpCode::Unknown(15)] {
            let mut message = query_message("web", RecordType::A);
            message.metadata.op_code = opcode;
            assert_eq!(header_of(answer(&message.to_vec().unwrap(), &view, Transport::Udp)), (ID, ResponseCode::NotImp, 0), "{opcode}");
        }
    }

    #[test]
    fn servfail_keeps_id_question_and_edns() {
        let reply = Message::from_vec(&servfail(&with_edns("example.com", RecordType::A, 1232, 0)).unwrap()).unwrap();
        assert_eq!(reply.metadata.id, ID);
        assert_eq!(reply.metadata.response_code, ResponseCode::ServFail);
        assert!(!reply.metadata.authoritative && reply.metadata.recursion_desired);
        assert_eq!(reply.queries[0].name().to_ascii(), "example.com.");
        assert!(reply.edns.is_some());
        assert_eq!(servfail(&[1, 2, 3]), None);
        assert_eq!(header_of(Action::Reply(servfail(&[0x12, 0x34, 1, 0, 0, 9, 0, 0, 0, 0, 0, 0]).unwrap())), (ID, ResponseCode::ServFail, 0));
    }

    #[test]
    fn subnets() {
        assert!(in_subnet(v4("10.1.2.3"), v4("10.1.0.0"), 16));
        assert!(!in_subnet(v4("10.2.2.3"), v4("10.1.0.0"), 16));
        assert!(in_subnet(v4("10.2.2.3"), v4("0.0.0.0"), 0));
        assert!(in_subnet(v4("10.2.2.3"), v4("10.2.2.3"), 32));
        assert!(!in_subnet(v4("10.2.2.3"), v4("10.2.2.3"), 33));
        assert!(in_subnet(v4("fd00::5"), v4("fd00::"), 64));
        assert!(!in_subnet(v4("fd01::5"), v4("fd00::"), 64));
        assert!(!in_subnet(v4("10.1.2.3"), v4("fd00::"), 0));
    }

    #[test]
    fn framing() {
        let mut pending = vec![0, 3, b'a', b'b', b'c', 0, 2, b'x'];
        assert_eq!(take_framed(&mut pending), Some(b"abc".to_vec()));
        assert_eq!(take_framed(&mut pending), None);
        pending.push(b'y');
        assert_eq!(take_framed(&mut pending), Some(b"xy".to_vec()));
        assert!(pending.is_empty());
        assert_eq!(take_framed(&mut vec![0]), None);
        assert_eq!(take_framed(&mut vec![0, 0]), Some(Vec::new()));
    }

    /// xorshift64*: reproducible noise for the fuzz test.
    struct Noise(u64);

    impl Noise {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    #[test]
    fn never_panics() {
        let view = view();
        let seeds = [
            query("web", RecordType::A),
            query("2.0.20.172.in-addr.arpa.", RecordType::PTR),
            with_edns("many", RecordType::A, 1232, 0),
            with_edns("example.com", RecordType::AAAA, 4096, 1),
        ];
        let mut noise = Noise(0x9E37_79B9_7F4A_7C15);
        for round in 0..30_000 {
            let bytes: Vec<u8> = if round % 3 == 0 {
                (0..noise.below(80)).map(|_| noise.next() as u8).collect()
            } else {
                let mut bytes = seeds[noise.below(seeds.len())].clone();
                for _ in 0..=noise.below(4) {
                    let at = noise.below(bytes.len());
                    bytes[at] = noise.next() as u8;
                }
                if round % 3 == 1 {
                    bytes.truncate(noise.below(bytes.len() + 1));
                }
                bytes
            };
            for transport in [Transport::Udp, Transport::Tcp] {
                if let Action::Reply(reply) = answer(&bytes, &view, transport) {
                    assert!(reply.len() >= 12);
                    assert_eq!(reply[..2], bytes[..2]);
                }
            }
            let _ = servfail(&bytes);
            let _ = udp_limit_of(&bytes);
            let _ = take_framed(&mut bytes.clone());
        }
    }

    // ---- serve, end to end, on 127.0.0.1 only ----

    const LOOPBACK: Ipv4Addr = Ipv4Addr::LOCALHOST;

    /// A fake upstream on one 127.0.0.1 port, UDP and TCP: `big.example` is truncated over UDP;
    /// other names get an A record saying which transport carried them (192.0.2.1 UDP, .2 TCP);
    /// `refused.example` is refused.
    fn fake_upstream() -> SocketAddr {
        let (udp, tcp) = loop {
            let udp = UdpSocket::bind((LOOPBACK, 0)).unwrap();
            if let Ok(tcp) = TcpListener::bind(udp.local_addr().unwrap()) {
                break (udp, tcp);
            }
        };
        let addr = udp.local_addr().unwrap();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok((len, from)) = udp.recv_from(&mut buffer) {
                if let Some(reply) = upstream_reply(&buffer[..len], false) {
                    let _ = udp.send_to(&reply, from);
                }
            }
        });
        std::thread::spawn(move || {
            for mut stream in tcp.incoming().flatten() {
                while let Ok(query) = read_framed(&mut stream) {
                    if let Some(reply) = upstream_reply(&query, true) {
                        let _ = write_framed(&mut stream, &reply);
                    }
                }
            }
        });
        addr
    }

    fn upstream_reply(query: &[u8], tcp: bool) -> Option<Vec<u8>> {
        let query = Message::from_vec(query).ok()?;
        let question = query.queries.first()?.clone();
        let mut reply = Message::response(query.metadata.id, OpCode::Query);
        reply.metadata.recursion_desired = query.metadata.recursion_desired;
        reply.metadata.recursion_available = true;
        reply.add_query(question.clone());
        match question.name().to_ascii().as_str() {
            "big.example." if !tcp => reply.metadata.truncation = true,
            "refused.example." => reply.metadata.response_code = ResponseCode::Refused,
            _ => {
                let last = if tcp { 2 } else { 1 };
                reply.add_answer(Record::from_rdata(question.name().clone(), 60, RData::A(A(Ipv4Addr::new(192, 0, 2, last)))));
            }
        }
        reply.to_vec().ok()
    }

    struct Server {
        udp: SocketAddr,
        tcp: SocketAddr,
        seen: Arc<Mutex<Vec<IpAddr>>>,
        stop: Arc<AtomicBool>,
        handles: Vec<JoinHandle<()>>,
    }

    impl Server {
        fn start(upstreams: Vec<SocketAddr>, limits: Limits) -> Server {
            let udp = UdpSocket::bind((LOOPBACK, 0)).unwrap();
            let tcp = TcpListener::bind((LOOPBACK, 0)).unwrap();
            let (udp_addr, tcp_addr) = (udp.local_addr().unwrap(), tcp.local_addr().unwrap());
            let seen = Arc::new(Mutex::new(Vec::new()));
            let stop = Arc::new(AtomicBool::new(false));
            let seen_by_view = seen.clone();
            let view_for: ViewFor = Arc::new(move |client| {
                seen_by_view.lock().unwrap().push(client);
                Some(view())
            });
            let handles = serve_with(vec![udp], vec![tcp], view_for, upstreams, stop.clone(), limits).unwrap();
            Server { udp: udp_addr, tcp: tcp_addr, seen, stop, handles }
        }

        fn ask_udp(&self, query: &[u8]) -> Message {
            let client = UdpSocket::bind((LOOPBACK, 0)).unwrap();
            client.set_read_timeout(Some(Duration::from_secs(4))).unwrap();
            client.send_to(query, self.udp).unwrap();
            let mut buffer = [0u8; 4096];
            let (len, from) = client.recv_from(&mut buffer).expect("a reply");
            assert_eq!(from, self.udp);
            Message::from_vec(&buffer[..len]).unwrap()
        }

        fn shut_down(self) {
            self.stop.store(true, Ordering::Relaxed);
            let started = Instant::now();
            for handle in self.handles {
                handle.join().unwrap();
            }
            assert!(started.elapsed() < Duration::from_secs(1));
        }
    }

    fn fast() -> Limits {
        Limits { upstream_timeout: Duration::from_millis(300), tcp_idle: Duration::from_secs(1), poll: Duration::from_millis(20), ..Limits::DEFAULT }
    }

    fn with_id(mut query: Vec<u8>, id: u16) -> Vec<u8> {
        query[..2].copy_from_slice(&id.to_be_bytes());
        query
    }

    #[test]
    fn serve_udp_local_and_forwarded() {
        let upstream = fake_upstream();
        let server = Server::start(vec![upstream], Limits::DEFAULT);
        let reply = server.ask_udp(&query("web", RecordType::A));
        assert_local(&reply, ResponseCode::NoError);
        assert_eq!(addresses(&reply), vec![v4("172.20.0.2")]);

        let reply = server.ask_udp(&with_id(query("outside.example", RecordType::A), 0xBEEF));
        assert_eq!(reply.metadata.id, 0xBEEF);
        assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
        assert!(!reply.metadata.authoritative);
        assert_eq!(addresses(&reply), vec![v4("192.0.2.1")]);
        assert_eq!(reply.answers[0].ttl, 60);

        // Truncated over UDP upstream: asked again over TCP, and the full reply fits.
        let reply = server.ask_udp(&with_id(query("big.example", RecordType::A), 7));
        assert_eq!(reply.metadata.id, 7);
        assert!(!reply.metadata.truncation);
        assert_eq!(addresses(&reply), vec![v4("192.0.2.2")]);

        // Refused by the only upstream: relayed as is.
        assert_eq!(server.ask_udp(&query("refused.example", RecordType::A)).metadata.response_code, ResponseCode::Refused);

        assert!(server.seen.lock().unwrap().iter().all(|ip| *ip == IpAddr::V4(LOOPBACK)));
        assert_eq!(server.seen.lock().unwrap().len(), 4);
        server.shut_down();
    }

    #[test]
    fn serve_tcp_several_queries_per_connection() {
        let upstream = fake_upstream();
        let server = Server::start(vec![upstream], fast());
        let mut stream = TcpStream::connect(server.tcp).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(4))).unwrap();
        // Two messages in one write, then one split in two writes.
        let mut both = Vec::new();
        for message in [query("many", RecordType::A), with_id(query("outside.example", RecordType::A), 0xCAFE)] {
            both.extend_from_slice(&(message.len() as u16).to_be_bytes());
            both.extend_from_slice(&message);
        }
        stream.write_all(&both).unwrap();
        let local = Message::from_vec(&read_framed(&mut stream).unwrap()).unwrap();
        assert_local(&local, ResponseCode::NoError);
        assert_eq!(local.answers.len(), 40);
        let forwarded = Message::from_vec(&read_framed(&mut stream).unwrap()).unwrap();
        assert_eq!(forwarded.metadata.id, 0xCAFE);
        assert_eq!(addresses(&forwarded), vec![v4("192.0.2.2")]);

        let third = query("db", RecordType::A);
        let mut framed = (third.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&third);
        stream.write_all(&framed[..5]).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        stream.write_all(&framed[5..]).unwrap();
        assert_eq!(addresses(&Message::from_vec(&read_framed(&mut stream).unwrap()).unwrap()), vec![v4("172.20.0.3")]);
        assert_eq!(server.seen.lock().unwrap().as_slice(), [IpAddr::V4(LOOPBACK); 3]);

        // Idle connections are closed (after 1 s here).
        let mut rest = Vec::new();
        let started = Instant::now();
        assert_eq!(stream.read_to_end(&mut rest).unwrap(), 0);
        assert!(started.elapsed() < Duration::from_secs(3));
        server.shut_down();
    }

    #[test]
    fn upstream_down_is_servfail() {
        // A port nobody listens on: refused at once.
        let closed = UdpSocket::bind((LOOPBACK, 0)).unwrap().local_addr().unwrap();
        // A socket that never answers: the timeout.
        let silent = UdpSocket::bind((LOOPBACK, 0)).unwrap();
        let server = Server::start(vec![closed, silent.local_addr().unwrap()], fast());
        let started = Instant::now();
        let reply = server.ask_udp(&with_id(query("outside.example", RecordType::A), 0xD00D));
        assert_eq!(reply.metadata.id, 0xD00D);
        assert_eq!(reply.metadata.response_code, ResponseCode::ServFail);
        assert_eq!(reply.queries.len(), 1);
        assert!(started.elapsed() < Duration::from_secs(2));
        // TCP too.
        let mut stream = TcpStream::connect(server.tcp).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(4))).unwrap();
        write_framed(&mut stream, &query("outside.example", RecordType::A)).unwrap();
        assert_eq!(Message::from_vec(&read_framed(&mut stream).unwrap()).unwrap().metadata.response_code, ResponseCode::ServFail);
        server.shut_down();
    }

    #[test]
    fn next_upstream_after_a_silent_one() {
        let silent = UdpSocket::bind((LOOPBACK, 0)).unwrap();
        let server = Server::start(vec![silent.local_addr().unwrap(), fake_upstream()], fast());
        let reply = server.ask_udp(&query("outside.example", RecordType::A));
        assert_eq!(addresses(&reply), vec![v4("192.0.2.1")]);
        server.shut_down();
    }

    #[test]
    fn bounded_forwards_and_connections() {
        let server = Server::start(vec![fake_upstream()], Limits { max_forwards: 0, max_tcp: 1, ..fast() });
        assert_eq!(server.ask_udp(&query("outside.example", RecordType::A)).metadata.response_code, ResponseCode::ServFail);
        assert_eq!(addresses(&server.ask_udp(&query("web", RecordType::A))), vec![v4("172.20.0.2")]);
        let mut first = TcpStream::connect(server.tcp).unwrap();
        first.set_read_timeout(Some(Duration::from_secs(4))).unwrap();
        write_framed(&mut first, &query("web", RecordType::A)).unwrap();
        assert!(read_framed(&mut first).is_ok());
        let mut second = TcpStream::connect(server.tcp).unwrap();
        second.set_read_timeout(Some(Duration::from_secs(4))).unwrap();
        let _ = write_framed(&mut second, &query("web", RecordType::A));
        assert!(read_framed(&mut second).is_err());
        server.shut_down();
    }
}
