//! SIP messages: the small types the rest of the dialer uses, parsed from and written to bytes.
//!
//! This is the only module that touches `rsip` (0.4) types: rsip parses URIs and the typed
//! headers we read (Via, From/To/Contact, Record-Route, the digest challenge) and computes digest
//! responses. Framing is ours (RFC 3261 §7.3 and §18.3): header folding, compact header names,
//! whitespace around the colon, and the body cut to `Content-Length`, none of which rsip 0.4's own
//! message tokenizer handles; the start line and CSeq are ours too so extension methods parse.
//! Parsing never panics; every failure is a [`ParseError`] naming the part that is wrong.

// Long on purpose (about 1,100 lines of code, then tests): it is the one wall around rsip, and
// parsing, framing and writing share its header helpers; split up, rsip types would spread.

use std::fmt::{self, Write as _};
use std::net::{IpAddr, SocketAddr};

use bytes::Bytes;
use rsip::headers::UntypedHeader as _;
use rsip::headers::untyped::ToTypedHeader as _;

/// Largest message we accept or build (UDP datagram limit; RFC 3261 §18.1.1 path MTU aside).
pub const MAX_MESSAGE: usize = 65_535;
/// At most this many header lines per message (bounded work on hostile input).
pub const MAX_HEADERS: usize = 256;

/// Why bytes are not a SIP message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("keep-alive (only CRLF)")]
    KeepAlive,
    #[error("message too large ({0} bytes)")]
    TooLarge(usize),
    #[error("headers are not UTF-8")]
    NotUtf8,
    #[error("no blank line after the headers")]
    Unterminated,
    #[error("bad start line: {0}")]
    StartLine(String),
    #[error("bad header line: {0}")]
    HeaderLine(String),
    #[error("too many headers")]
    TooManyHeaders,
    #[error("missing {0} header")]
    Missing(&'static str),
    #[error("bad {0} header: {1}")]
    Header(&'static str, String),
    #[error("bad URI `{0}`")]
    Uri(String),
    #[error("body shorter than Content-Length ({have} < {want})")]
    ShortBody { have: usize, want: usize },
}

/// A request method; extension methods are kept by name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    Invite,
    Ack,
    Bye,
    Cancel,
    Options,
    Register,
    Info,
    Update,
    Prack,
    Refer,
    Notify,
    Subscribe,
    Message,
    Other(String),
}

impl Method {
    pub fn as_str(&self) -> &str {
        match self {
            Method::Other(s) => s,
            known => known.rfc_name().unwrap_or_default(),
        }
    }

    /// The name of an RFC method; `None` for an extension method.
    pub fn rfc_name(&self) -> Option<&'static str> {
        Some(match self {
            Method::Invite => "INVITE",
            Method::Ack => "ACK",
            Method::Bye => "BYE",
            Method::Cancel => "CANCEL",
            Method::Options => "OPTIONS",
            Method::Register => "REGISTER",
            Method::Info => "INFO",
            Method::Update => "UPDATE",
            Method::Prack => "PRACK",
            Method::Refer => "REFER",
            Method::Notify => "NOTIFY",
            Method::Subscribe => "SUBSCRIBE",
            Method::Message => "MESSAGE",
            Method::Other(_) => return None,
        })
    }

    /// Methods are case-sensitive (RFC 3261 §7.1); anything that is a token is accepted.
    fn parse(s: &str) -> Option<Method> {
        if s.is_empty() || !s.bytes().all(is_token) {
            return None;
        }
        Some(match s {
            "INVITE" => Method::Invite,
            "ACK" => Method::Ack,
            "BYE" => Method::Bye,
            "CANCEL" => Method::Cancel,
            "OPTIONS" => Method::Options,
            "REGISTER" => Method::Register,
            "INFO" => Method::Info,
            "UPDATE" => Method::Update,
            "PRACK" => Method::Prack,
            "REFER" => Method::Refer,
            "NOTIFY" => Method::Notify,
            "SUBSCRIBE" => Method::Subscribe,
            "MESSAGE" => Method::Message,
            other => Method::Other(other.to_owned()),
        })
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Transport of a hop.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    #[default]
    Udp,
    Tcp,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
        }
    }
    pub fn is_reliable(self) -> bool {
        matches!(self, Transport::Tcp)
    }
}

impl std::str::FromStr for Transport {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.eq_ignore_ascii_case("udp") {
            Ok(Transport::Udp)
        } else if s.eq_ignore_ascii_case("tcp") {
            Ok(Transport::Tcp)
        } else {
            Err(format!("unsupported transport `{s}` (udp or tcp)"))
        }
    }
}

/// A SIP URI, validated by rsip; written back exactly as it was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uri {
    raw: String,
    pub sips: bool,
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
    /// `transport=` parameter, when it names one we speak.
    pub transport: Option<Transport>,
    /// `lr` parameter (loose routing).
    pub lr: bool,
}

impl Uri {
    pub fn parse(s: &str) -> Result<Uri, ParseError> {
        let s = s.trim();
        let bad = || ParseError::Uri(s.chars().take(200).collect());
        let lower = s
            .get(..5)
            .map(|p| p.to_ascii_lowercase())
            .unwrap_or_default();
        if !(lower.starts_with("sip:") || lower.starts_with("sips:")) {
            return Err(bad());
        }
        let u = rsip::Uri::try_from(s).map_err(|_| bad())?;
        let sips = matches!(u.scheme, Some(rsip::Scheme::Sips));
        let host = match &u.host_with_port.host {
            rsip::Host::Domain(d) => d.to_string(),
            rsip::Host::IpAddr(ip) => ip.to_string(),
        };
        let mut user = u.auth.map(|a| a.user);
        let mut host = host;
        // rsip 0.4 leaves some user parts (with dots) in the host: split them off ourselves.
        if user.is_none()
            && let Some((us, h)) = host.rsplit_once('@')
        {
            user = Some(us.to_owned());
            host = h.to_owned();
        }
        if host.is_empty() || user.as_deref().is_some_and(str::is_empty) {
            return Err(bad());
        }
        let port = u.host_with_port.port.map(|p| *p.value());
        let mut transport = None;
        let mut lr = false;
        for p in &u.params {
            match p {
                rsip::Param::Transport(rsip::Transport::Udp) => transport = Some(Transport::Udp),
                rsip::Param::Transport(rsip::Transport::Tcp) => transport = Some(Transport::Tcp),
                rsip::Param::Lr => lr = true,
                _ => {}
            }
        }
        Ok(Uri {
            raw: s.to_owned(),
            sips,
            user,
            host,
            port,
            transport,
            lr,
        })
    }

    /// `sip:user@host:port` built from parts (user and host are trusted, e.g. from config).
    pub fn sip(user: Option<&str>, host: &str, port: Option<u16>) -> Result<Uri, ParseError> {
        let mut s = String::from("sip:");
        if let Some(u) = user {
            s.push_str(u);
            s.push('@');
        }
        if host.contains(':') && !host.starts_with('[') {
            let _ = write!(s, "[{host}]");
        } else {
            s.push_str(host);
        }
        if let Some(p) = port {
            let _ = write!(s, ":{p}");
        }
        Uri::parse(&s)
    }

    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The socket address when the host is an IP literal (no DNS in the core).
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        let ip: IpAddr = self
            .host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .ok()?;
        Some(SocketAddr::new(ip, self.port.unwrap_or(5060)))
    }
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

/// `From`, `To`, `Contact`, `Route` entries: optional display name, URI and tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr {
    pub uri: Uri,
    pub tag: Option<String>,
}

impl NameAddr {
    fn parse(name: &'static str, value: &str) -> Result<NameAddr, ParseError> {
        let bad = |why: &str| ParseError::Header(name, format!("{why}: {}", clip(value)));
        let v = value.trim();
        // rsip's tokenizer does not take a quoted display name with special characters; we
        // isolate the URI ourselves and let rsip validate it.
        let (uri_str, params) = if let Some(lt) = find_unquoted(v, b'<') {
            let display = v[..lt].trim();
            let quoted = display.len() >= 2 && display.starts_with('"') && display.ends_with('"');
            let tokens = display
                .bytes()
                .all(|b| is_token(b) || b == b' ' || b == b'\t');
            if !(display.is_empty() || quoted || tokens) {
                return Err(bad("display name is neither tokens nor a quoted string"));
            }
            let rest = &v[lt + 1..];
            let gt = rest.find('>').ok_or_else(|| bad("no closing `>`"))?;
            (&rest[..gt], &rest[gt + 1..])
        } else {
            // addr-spec without brackets: parameters after `;` belong to the header.
            match v.find(';') {
                Some(i) => (&v[..i], &v[i..]),
                None => (v, ""),
            }
        };
        let uri = Uri::parse(uri_str).map_err(|_| bad("bad URI"))?;
        let mut tag = None;
        for p in params.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, val) = p.split_once('=').unwrap_or((p, ""));
            if k.trim().eq_ignore_ascii_case("tag") {
                let t = val.trim();
                if t.is_empty() || !t.bytes().all(is_token) {
                    return Err(bad("bad tag"));
                }
                tag = Some(t.to_owned());
            }
        }
        Ok(NameAddr { uri, tag })
    }
}

/// One `Contact` entry of a REGISTER: its URI and its parameters (`expires` read out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactEntry {
    pub uri: Uri,
    /// The `expires` parameter, when there is one.
    pub expires: Option<u32>,
}

impl ContactEntry {
    fn parse(value: &str) -> Result<ContactEntry, ParseError> {
        let v = value.trim();
        let addr = NameAddr::parse("Contact", v)?;
        // The header's parameters: after `>` for a name-addr, after the first `;` otherwise.
        let params = match find_unquoted(v, b'<') {
            Some(_) => v.rfind('>').map_or("", |i| &v[i + 1..]),
            None => v.find(';').map_or("", |i| &v[i..]),
        };
        let mut expires = None;
        for p in params.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, val) = p.split_once('=').unwrap_or((p, ""));
            if k.trim().eq_ignore_ascii_case("expires") {
                let n = val.trim().trim_matches('"').parse::<u64>().map_err(|_| {
                    ParseError::Header("Contact", format!("bad expires: {}", clip(v)))
                })?;
                expires = Some(u32::try_from(n).unwrap_or(u32::MAX));
            }
        }
        Ok(ContactEntry {
            uri: addr.uri,
            expires,
        })
    }
}

/// The top `Via`: what matching and responses need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    pub transport: String,
    pub host: String,
    pub port: Option<u16>,
    pub branch: Option<String>,
    pub received: Option<String>,
    pub rport: bool,
}

impl Via {
    fn parse(value: &str) -> Result<Via, ParseError> {
        let bad = || ParseError::Header("Via", clip(value));
        // LWS is allowed around `/`, `;` and `=` (RFC 3261 §25.1); rsip wants none.
        let value = squeeze_lws(value);
        let (protocol, rest) = value.split_once(' ').ok_or_else(bad)?;
        let transport = protocol
            .strip_prefix("SIP/2.0/")
            .filter(|t| !t.is_empty() && t.bytes().all(is_token))
            .ok_or_else(bad)?;
        if rest
            .split(';')
            .skip(1)
            .any(|p| p.is_empty() || p.starts_with('='))
        {
            return Err(bad());
        }
        // rsip knows a fixed set of transports; the sent-by and parameters are what we ask of it.
        let typed = rsip::headers::Via::new(format!("SIP/2.0/UDP {rest}"))
            .typed()
            .map_err(|_| bad())?;
        let host = match &typed.uri.host_with_port.host {
            rsip::Host::Domain(d) => d.to_string(),
            rsip::Host::IpAddr(ip) => ip.to_string(),
        };
        let mut branch = None;
        let mut received = None;
        let mut rport = false;
        for p in &typed.params {
            match p {
                rsip::Param::Branch(b) => branch = Some(b.to_string()),
                rsip::Param::Received(r) => received = Some(r.to_string()),
                rsip::Param::Other(k, _) if k.to_string().eq_ignore_ascii_case("rport") => {
                    rport = true
                }
                _ => {}
            }
        }
        Ok(Via {
            transport: transport.to_ascii_uppercase(),
            host,
            port: typed.uri.host_with_port.port.map(|p| *p.value()),
            branch,
            received,
            rport,
        })
    }

    /// A branch from RFC 3261 (magic cookie): usable as a transaction key.
    pub fn rfc3261_branch(&self) -> Option<&str> {
        self.branch
            .as_deref()
            .filter(|b| b.starts_with("z9hG4bK") && b.len() > 7)
    }
}

/// `CSeq`: number and method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CSeq {
    pub seq: u32,
    pub method: Method,
}

impl CSeq {
    fn parse(value: &str) -> Result<CSeq, ParseError> {
        let bad = || ParseError::Header("CSeq", clip(value));
        let mut it = value.split_ascii_whitespace();
        let seq = it
            .next()
            .and_then(|n| n.parse::<u32>().ok())
            .ok_or_else(bad)?;
        let method = it.next().and_then(Method::parse).ok_or_else(bad)?;
        if it.next().is_some() {
            return Err(bad());
        }
        Ok(CSeq { seq, method })
    }
}

/// Header fields in order, with canonical names (compact forms expanded).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<(String, String)>);

impl Headers {
    pub fn push(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.push((name.into(), value.into()));
    }
    /// First value of a header (case-insensitive name).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// Every value of a header, comma-separated lists split into entries.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| split_list(v))
    }
    /// Replace the first field of this name, or add it.
    pub fn replace(&mut self, name: &str, value: impl Into<String>) {
        let value = value.into();
        match self
            .0
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            Some(field) => field.1 = value,
            None => self.0.push((name.to_owned(), value)),
        }
    }
    pub fn remove(&mut self, name: &str) {
        self.0.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }
}

/// What requests and responses share: headers and body, plus typed accessors.
pub trait HasHeaders {
    fn headers(&self) -> &Headers;

    fn call_id(&self) -> Result<&str, ParseError> {
        self.headers()
            .get("Call-ID")
            .filter(|v| !v.is_empty())
            .ok_or(ParseError::Missing("Call-ID"))
    }
    fn cseq(&self) -> Result<CSeq, ParseError> {
        CSeq::parse(
            self.headers()
                .get("CSeq")
                .ok_or(ParseError::Missing("CSeq"))?,
        )
    }
    fn top_via(&self) -> Result<Via, ParseError> {
        Via::parse(
            self.headers()
                .get_all("Via")
                .next()
                .ok_or(ParseError::Missing("Via"))?,
        )
    }
    fn hdr_from(&self) -> Result<NameAddr, ParseError> {
        NameAddr::parse(
            "From",
            self.headers()
                .get("From")
                .ok_or(ParseError::Missing("From"))?,
        )
    }
    fn hdr_to(&self) -> Result<NameAddr, ParseError> {
        NameAddr::parse(
            "To",
            self.headers().get("To").ok_or(ParseError::Missing("To"))?,
        )
    }
    fn contact(&self) -> Result<Option<NameAddr>, ParseError> {
        match self.headers().get_all("Contact").next() {
            None => Ok(None),
            Some(v) => NameAddr::parse("Contact", v).map(Some),
        }
    }
    /// Every `Contact` entry (each validated), with its parameters; `Ok(None)` for `Contact: *`
    /// alone (RFC 3261 §10.2.2: remove every binding).
    fn contacts(&self) -> Result<Option<Vec<ContactEntry>>, ParseError> {
        let values: Vec<&str> = self.headers().get_all("Contact").collect();
        if values.iter().any(|v| v.trim() == "*") {
            if values.len() != 1 {
                return Err(ParseError::Header(
                    "Contact",
                    "`*` must be the only contact".into(),
                ));
            }
            return Ok(None);
        }
        values
            .into_iter()
            .map(ContactEntry::parse)
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }
    /// `Record-Route` entries in order (each validated), as the raw `<uri;params>` text.
    fn record_route(&self) -> Result<Vec<String>, ParseError> {
        self.headers()
            .get_all("Record-Route")
            .map(|v| NameAddr::parse("Record-Route", v).map(|_| v.trim().to_owned()))
            .collect()
    }
    fn content_type(&self) -> Option<&str> {
        self.headers().get("Content-Type")
    }
}

/// A SIP request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    pub uri: Uri,
    pub headers: Headers,
    pub body: Bytes,
}

/// A SIP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub headers: Headers,
    pub body: Bytes,
}

impl HasHeaders for Request {
    fn headers(&self) -> &Headers {
        &self.headers
    }
}
impl HasHeaders for Response {
    fn headers(&self) -> &Headers {
        &self.headers
    }
}

/// A parsed SIP message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Request(Request),
    Response(Response),
}

impl Request {
    pub fn new(method: Method, uri: Uri) -> Request {
        Request {
            method,
            uri,
            headers: Headers::default(),
            body: Bytes::new(),
        }
    }
    pub fn with_body(mut self, content_type: &str, body: Bytes) -> Request {
        self.headers.remove("Content-Type");
        self.headers.push("Content-Type", content_type);
        self.body = body;
        self
    }
    /// Wire form; `Content-Length` is always written from the body.
    pub fn to_bytes(&self) -> Bytes {
        let mut s = format!("{} {} SIP/2.0\r\n", self.method, self.uri);
        write_tail(&mut s, &self.headers, &self.body)
    }

    /// A response to this request (RFC 3261 §8.2.6): Via, From, To, Call-ID, CSeq copied; a
    /// To tag added when given and none is there.
    pub fn response(&self, status: u16, to_tag: Option<&str>) -> Response {
        let mut h = Headers::default();
        for (n, v) in self.headers.iter() {
            if n.eq_ignore_ascii_case("Via") {
                h.push("Via", v);
            }
        }
        if let Some(v) = self.headers.get("From") {
            h.push("From", v);
        }
        if let Some(v) = self.headers.get("To") {
            let has_tag = self.hdr_to().map(|t| t.tag.is_some()).unwrap_or(true);
            match to_tag {
                Some(t) if !has_tag && status != 100 => h.push("To", format!("{v};tag={t}")),
                _ => h.push("To", v),
            }
        }
        if let Some(v) = self.headers.get("Call-ID") {
            h.push("Call-ID", v);
        }
        if let Some(v) = self.headers.get("CSeq") {
            h.push("CSeq", v);
        }
        Response {
            status,
            reason: reason_phrase(status).to_owned(),
            headers: h,
            body: Bytes::new(),
        }
    }
}

impl Response {
    pub fn with_body(mut self, content_type: &str, body: Bytes) -> Response {
        self.headers.remove("Content-Type");
        self.headers.push("Content-Type", content_type);
        self.body = body;
        self
    }
    pub fn to_bytes(&self) -> Bytes {
        let mut s = format!("SIP/2.0 {} {}\r\n", self.status, self.reason);
        write_tail(&mut s, &self.headers, &self.body)
    }
    pub fn is_provisional(&self) -> bool {
        self.status < 200
    }
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
    /// Stamp the top `Via` with where the request really came from (RFC 3261 §18.2.1
    /// `received`, RFC 3581 `rport=<port>` when the client asked with a bare `rport`); the
    /// response itself goes to that address.
    pub fn stamp_source(&mut self, from: SocketAddr) {
        let Some(field) = self
            .headers
            .0
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case("Via"))
        else {
            return;
        };
        let mut vias: Vec<String> = split_list(&field.1).map(str::to_owned).collect();
        let Some(top) = vias.first_mut() else {
            return;
        };
        let mut out = Vec::new();
        let mut parts = top.split(';');
        out.push(parts.next().unwrap_or_default().trim().to_owned());
        for p in parts.map(str::trim).filter(|p| !p.is_empty()) {
            let key = p.split('=').next().unwrap_or_default().trim();
            if key.eq_ignore_ascii_case("rport") {
                out.push(format!("rport={}", from.port()));
            } else if !key.eq_ignore_ascii_case("received") {
                out.push(p.to_owned());
            }
        }
        out.push(format!("received={}", from.ip()));
        *top = out.join(";");
        field.1 = vias.join(", ");
    }
    /// Digest challenges (`WWW-Authenticate` then `Proxy-Authenticate`).
    pub fn challenges(&self) -> Vec<Challenge> {
        let mut out = Vec::new();
        for (n, v) in self.headers.iter() {
            let proxy = n.eq_ignore_ascii_case("Proxy-Authenticate");
            if proxy || n.eq_ignore_ascii_case("WWW-Authenticate") {
                out.push(Challenge {
                    proxy,
                    value: v.to_owned(),
                });
            }
        }
        out
    }
}

impl Message {
    /// Parse one datagram (or one framed stream message): never panics.
    pub fn parse(bytes: &[u8]) -> Result<Message, ParseError> {
        if bytes.len() > MAX_MESSAGE {
            return Err(ParseError::TooLarge(bytes.len()));
        }
        let start = bytes.iter().position(|b| *b != b'\r' && *b != b'\n');
        let Some(start) = start else {
            return Err(ParseError::KeepAlive);
        };
        let bytes = &bytes[start..];
        let head_end = find(bytes, b"\r\n\r\n").ok_or(ParseError::Unterminated)?;
        let head = std::str::from_utf8(&bytes[..head_end]).map_err(|_| ParseError::NotUtf8)?;
        let rest = &bytes[head_end + 4..];

        let mut lines = head.split("\r\n");
        let start_line = lines.next().unwrap_or_default();
        let mut headers = unfold(lines)?;

        if headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("Content-Length"))
            .count()
            > 1
        {
            return Err(ParseError::Header("Content-Length", "appears twice".into()));
        }
        // Body cut to Content-Length (RFC 3261 §18.3); without it the rest of the datagram.
        let body = match headers.get("Content-Length") {
            Some(v) => {
                let want: usize = v
                    .trim()
                    .parse()
                    .map_err(|_| ParseError::Header("Content-Length", clip(v)))?;
                if rest.len() < want {
                    return Err(ParseError::ShortBody {
                        have: rest.len(),
                        want,
                    });
                }
                Bytes::copy_from_slice(&rest[..want])
            }
            None => Bytes::copy_from_slice(rest),
        };
        // The body's length is the truth from here on; `to_bytes` writes it.
        headers.remove("Content-Length");

        let msg = if let Some(status_part) = start_line.strip_prefix("SIP/2.0 ") {
            let (code, reason) = status_part.split_once(' ').unwrap_or((status_part, ""));
            let status: u16 = code
                .parse()
                .ok()
                .filter(|c| (100..700).contains(c) && code.len() == 3)
                .ok_or_else(|| ParseError::StartLine(clip(start_line)))?;
            Message::Response(Response {
                status,
                reason: reason.to_owned(),
                headers,
                body,
            })
        } else {
            let mut parts = start_line.split(' ');
            let (Some(m), Some(u), Some(v), None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                return Err(ParseError::StartLine(clip(start_line)));
            };
            if v != "SIP/2.0" {
                return Err(ParseError::StartLine(clip(start_line)));
            }
            let method = Method::parse(m).ok_or_else(|| ParseError::StartLine(clip(start_line)))?;
            let uri = Uri::parse(u)?;
            Message::Request(Request {
                method,
                uri,
                headers,
                body,
            })
        };
        msg.validate()?;
        Ok(msg)
    }

    /// The mandatory headers every message must carry, parsed once.
    fn validate(&self) -> Result<(), ParseError> {
        let h: &dyn HasHeaders = match self {
            Message::Request(r) => r,
            Message::Response(r) => r,
        };
        for name in [
            "Call-ID",
            "CSeq",
            "From",
            "To",
            "Max-Forwards",
            "Content-Type",
        ] {
            if h.headers()
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                .count()
                > 1
            {
                return Err(ParseError::Header(
                    "single-valued",
                    format!("{name} appears twice"),
                ));
            }
        }
        h.call_id()?;
        let cseq = h.cseq()?;
        for v in h.headers().get_all("Via") {
            Via::parse(v)?;
        }
        h.top_via()?;
        h.hdr_from()?;
        h.hdr_to()?;
        if let Message::Request(r) = self {
            if cseq.method != r.method {
                return Err(ParseError::Header(
                    "CSeq",
                    "method differs from the request's".into(),
                ));
            }
            if let Some(mf) = r.headers.get("Max-Forwards") {
                mf.trim()
                    .parse::<u8>()
                    .map_err(|_| ParseError::Header("Max-Forwards", clip(mf)))?;
            }
        }
        Ok(())
    }

    pub fn to_bytes(&self) -> Bytes {
        match self {
            Message::Request(r) => r.to_bytes(),
            Message::Response(r) => r.to_bytes(),
        }
    }
}

/// Length of the first complete message at the start of a stream buffer (TCP framing by
/// `Content-Length`, RFC 3261 §18.3): `Ok(None)` means "need more bytes".
pub fn stream_frame_len(buf: &[u8]) -> Result<Option<usize>, ParseError> {
    let lead = buf
        .iter()
        .take_while(|b| **b == b'\r' || **b == b'\n')
        .count();
    let Some(end) = find(&buf[lead..], b"\r\n\r\n") else {
        if buf.len() > MAX_MESSAGE {
            return Err(ParseError::TooLarge(buf.len()));
        }
        return Ok(None);
    };
    let head = std::str::from_utf8(&buf[lead..lead + end]).map_err(|_| ParseError::NotUtf8)?;
    let mut len = None;
    for line in head.split("\r\n").skip(1) {
        if let Some((n, v)) = line.split_once(':') {
            let n = n.trim();
            if n.eq_ignore_ascii_case("Content-Length") || n.eq_ignore_ascii_case("l") {
                len = Some(
                    v.trim()
                        .parse::<usize>()
                        .map_err(|_| ParseError::Header("Content-Length", clip(v)))?,
                );
            }
        }
    }
    let len = len.ok_or(ParseError::Missing("Content-Length"))?;
    let total = lead + end + 4 + len;
    if total > MAX_MESSAGE {
        return Err(ParseError::TooLarge(total));
    }
    Ok((buf.len() >= total).then_some(total))
}

/// A digest challenge from a 401/407.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// `Proxy-Authenticate` (answer with `Proxy-Authorization`) rather than `WWW-Authenticate`.
    pub proxy: bool,
    value: String,
}

/// Why we cannot answer a challenge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot answer digest challenge: {0}")]
pub struct AuthError(String);

impl Challenge {
    /// The header (name, value) answering this challenge for `method` on `uri` (RFC 3261 §22,
    /// rsip's `DigestGenerator`). `cnonce` is only used when the challenge asks for `qop=auth`.
    pub fn answer(
        &self,
        username: &str,
        password: &str,
        method: &Method,
        uri: &Uri,
        cnonce: &str,
    ) -> Result<(&'static str, String), AuthError> {
        use rsip::headers::auth::{Algorithm, AuthQop, Qop, Scheme};
        // rsip's tokenizer takes one qop value: keep `auth` when a list is offered.
        let value = normalise_qop(&self.value);
        let ch = rsip::headers::WwwAuthenticate::new(value)
            .typed()
            .map_err(|e| AuthError(e.to_string()))?;
        if ch.scheme != Scheme::Digest {
            return Err(AuthError("not a Digest challenge".into()));
        }
        let rmethod = match method {
            Method::Invite => rsip::Method::Invite,
            Method::Bye => rsip::Method::Bye,
            Method::Cancel => rsip::Method::Cancel,
            Method::Options => rsip::Method::Options,
            Method::Register => rsip::Method::Register,
            Method::Info => rsip::Method::Info,
            Method::Update => rsip::Method::Update,
            Method::Ack => rsip::Method::Ack,
            other => return Err(AuthError(format!("method {other}"))),
        };
        let ruri = rsip::Uri::try_from(uri.as_str()).map_err(|e| AuthError(e.to_string()))?;
        let algorithm = ch.algorithm.unwrap_or(Algorithm::Md5);
        let qop = match ch.qop {
            Some(Qop::Auth) => Some(AuthQop::Auth {
                cnonce: cnonce.to_owned(),
                nc: 1,
            }),
            Some(Qop::AuthInt) => return Err(AuthError("qop=auth-int not supported".into())),
            None => None,
        };
        let response = rsip::services::DigestGenerator {
            username,
            password,
            nonce: &ch.nonce,
            uri: &ruri,
            realm: &ch.realm,
            method: &rmethod,
            qop: qop.as_ref(),
            algorithm,
        }
        .compute();
        let auth = rsip::headers::typed::Authorization {
            scheme: Scheme::Digest,
            username: username.to_owned(),
            realm: ch.realm.clone(),
            nonce: ch.nonce.clone(),
            uri: ruri,
            response,
            algorithm: Some(algorithm),
            opaque: ch.opaque.clone(),
            qop,
        };
        let name = if self.proxy {
            "Proxy-Authorization"
        } else {
            "Authorization"
        };
        Ok((name, auth.to_string()))
    }

    /// The nonce, to tell a fresh challenge from one we already answered.
    pub fn nonce(&self) -> Option<String> {
        rsip::headers::WwwAuthenticate::new(normalise_qop(&self.value))
            .typed()
            .ok()
            .map(|c| c.nonce)
    }
}

fn normalise_qop(v: &str) -> String {
    // ASCII lowercasing keeps byte offsets, so indices into `lower` are valid in `v`.
    let lower = v.to_ascii_lowercase();
    let Some(i) = lower.find("qop=\"") else {
        return v.to_owned();
    };
    let start = i + 5;
    let Some(len) = v[start..].find('"') else {
        return v.to_owned();
    };
    let list = &v[start..start + len];
    if !list.contains(',') {
        return v.to_owned();
    }
    let pick = if list
        .split(',')
        .any(|q| q.trim().eq_ignore_ascii_case("auth"))
    {
        "auth"
    } else {
        list.split(',').next().unwrap_or("").trim()
    };
    format!("{}{}{}", &v[..start], pick, &v[start + len..])
}

/// Standard reason phrases for the codes we send.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Trying",
        180 => "Ringing",
        183 => "Session Progress",
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        423 => "Interval Too Brief",
        408 => "Request Timeout",
        481 => "Call/Transaction Does Not Exist",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        491 => "Request Pending",
        500 => "Server Internal Error",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

fn write_tail(s: &mut String, headers: &Headers, body: &[u8]) -> Bytes {
    for (n, v) in headers.iter() {
        if !n.eq_ignore_ascii_case("Content-Length") {
            let _ = write!(s, "{n}: {v}\r\n");
        }
    }
    let _ = write!(s, "Content-Length: {}\r\n\r\n", body.len());
    let mut out = Vec::with_capacity(s.len() + body.len());
    out.extend_from_slice(s.as_bytes());
    out.extend_from_slice(body);
    Bytes::from(out)
}

/// Header lines → fields: folding undone, compact names expanded, names checked.
fn unfold<'a>(lines: impl Iterator<Item = &'a str>) -> Result<Headers, ParseError> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in lines {
        if line.starts_with(' ') || line.starts_with('\t') {
            let Some(last) = out.last_mut() else {
                return Err(ParseError::HeaderLine(clip(line)));
            };
            last.1.push(' ');
            last.1.push_str(line.trim());
            continue;
        }
        if out.len() >= MAX_HEADERS {
            return Err(ParseError::TooManyHeaders);
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| ParseError::HeaderLine(clip(line)))?;
        let name = name.trim_end_matches([' ', '\t']);
        if name.is_empty() || !name.bytes().all(is_token) {
            return Err(ParseError::HeaderLine(clip(line)));
        }
        out.push((canonical_name(name).to_owned(), value.trim().to_owned()));
    }
    for (_, v) in &mut out {
        let t = v.trim();
        if t.len() != v.len() {
            *v = t.to_owned();
        }
    }
    Ok(Headers(out))
}

fn canonical_name(name: &str) -> &str {
    const NAMES: &[(&str, &str)] = &[
        ("i", "Call-ID"),
        ("call-id", "Call-ID"),
        ("m", "Contact"),
        ("contact", "Contact"),
        ("e", "Content-Encoding"),
        ("l", "Content-Length"),
        ("content-length", "Content-Length"),
        ("c", "Content-Type"),
        ("content-type", "Content-Type"),
        ("f", "From"),
        ("from", "From"),
        ("s", "Subject"),
        ("k", "Supported"),
        ("t", "To"),
        ("to", "To"),
        ("v", "Via"),
        ("via", "Via"),
        ("cseq", "CSeq"),
        ("max-forwards", "Max-Forwards"),
        ("record-route", "Record-Route"),
        ("route", "Route"),
    ];
    NAMES
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| *v)
        .unwrap_or(name)
}

/// Split a header value at commas that are outside quotes and angle brackets.
fn split_list(v: &str) -> impl Iterator<Item = &str> {
    let mut parts = Vec::new();
    let (mut quoted, mut angle, mut escaped, mut start) = (false, false, false, 0);
    for (i, b) in v.bytes().enumerate() {
        if escaped {
            escaped = false;
            continue;
        }
        match b {
            b'\\' if quoted => escaped = true,
            b'"' => quoted = !quoted,
            b'<' if !quoted => angle = true,
            b'>' if !quoted => angle = false,
            b',' if !quoted && !angle => {
                parts.push(v[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(v[start..].trim());
    parts.into_iter().filter(|p| !p.is_empty())
}

/// Collapse runs of whitespace to one space and drop it around `/`, `;`, `=` (outside quotes).
fn squeeze_lws(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut pending_space = false;
    for c in v.trim().chars() {
        if c == ' ' || c == '\t' {
            pending_space = true;
            continue;
        }
        if matches!(c, '/' | ';' | '=') {
            while out.ends_with(' ') {
                out.pop();
            }
        } else if pending_space && !out.ends_with(['/', ';', '=']) && !out.is_empty() {
            out.push(' ');
        }
        pending_space = false;
        out.push(c);
    }
    out
}

fn find_unquoted(v: &str, needle: u8) -> Option<usize> {
    let mut quoted = false;
    let mut escaped = false;
    for (i, b) in v.bytes().enumerate() {
        if escaped {
            escaped = false;
            continue;
        }
        match b {
            b'\\' if quoted => escaped = true,
            b'"' => quoted = !quoted,
            x if x == needle && !quoted => return Some(i),
            _ => {}
        }
    }
    None
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b)
}

fn clip(s: &str) -> String {
    s.chars().take(120).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVITE: &str = "INVITE sip:+15551234567@10.0.0.1:5060 SIP/2.0\r\n\
        Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKabc;rport\r\n\
        Max-Forwards: 70\r\n\
        From: \"Dialer\" <sip:dialer@127.0.0.1:5070>;tag=ft1\r\n\
        To: <sip:+15551234567@10.0.0.1>\r\n\
        Call-ID: c1@127.0.0.1\r\n\
        CSeq: 1 INVITE\r\n\
        Contact: <sip:dialer@127.0.0.1:5070>\r\n\
        Content-Type: application/sdp\r\n\
        Content-Length: 4\r\n\r\nv=0\nEXTRA";

    #[test]
    fn parses_a_request_and_cuts_the_body_to_content_length() {
        let Message::Request(r) = Message::parse(INVITE.as_bytes()).unwrap() else {
            panic!()
        };
        assert_eq!(r.method, Method::Invite);
        assert_eq!(r.uri.user.as_deref(), Some("+15551234567"));
        assert_eq!(r.uri.socket_addr(), Some("10.0.0.1:5060".parse().unwrap()));
        assert_eq!(&r.body[..], b"v=0\n");
        let via = r.top_via().unwrap();
        assert_eq!(via.branch.as_deref(), Some("z9hG4bKabc"));
        assert!(via.rport);
        assert_eq!(via.port, Some(5070));
        assert_eq!(r.hdr_from().unwrap().tag.as_deref(), Some("ft1"));
        assert_eq!(r.hdr_to().unwrap().tag, None);
        assert_eq!(
            r.cseq().unwrap(),
            CSeq {
                seq: 1,
                method: Method::Invite
            }
        );
        assert_eq!(r.call_id().unwrap(), "c1@127.0.0.1");
    }

    #[test]
    fn round_trips_through_bytes() {
        let Message::Request(r) = Message::parse(INVITE.as_bytes()).unwrap() else {
            panic!()
        };
        let again = Message::parse(&r.to_bytes()).unwrap();
        assert_eq!(again, Message::Request(r));
    }

    #[test]
    fn folding_compact_names_and_spaces_before_colon() {
        let m = "SIP/2.0 180 Ringing\r\nv : SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
                 f: <sip:a@h>;tag=1\r\nt: <sip:b@h>\r\n ;tag=2\r\ni: x\r\nCSeq: 2\r\n\tINVITE\r\nl: 0\r\n\r\n";
        let Message::Response(r) = Message::parse(m.as_bytes()).unwrap() else {
            panic!()
        };
        assert_eq!(r.status, 180);
        assert_eq!(r.hdr_to().unwrap().tag.as_deref(), Some("2"));
        assert_eq!(r.cseq().unwrap().seq, 2);
    }

    #[test]
    fn rejects_what_is_wrong_and_says_what() {
        let no_callid = INVITE.replace("Call-ID: c1@127.0.0.1\r\n", "");
        assert_eq!(
            Message::parse(no_callid.as_bytes()),
            Err(ParseError::Missing("Call-ID"))
        );
        let short = INVITE.replace("Content-Length: 4", "Content-Length: 400");
        assert!(matches!(
            Message::parse(short.as_bytes()),
            Err(ParseError::ShortBody { .. })
        ));
        let mismatch = INVITE.replace("CSeq: 1 INVITE", "CSeq: 1 BYE");
        assert!(matches!(
            Message::parse(mismatch.as_bytes()),
            Err(ParseError::Header("CSeq", _))
        ));
        assert_eq!(Message::parse(b"\r\n\r\n"), Err(ParseError::KeepAlive));
        assert!(Message::parse(b"garbage").is_err());
        assert!(Message::parse(&[0xff; 64]).is_err());
    }

    #[test]
    fn stream_framing_waits_for_the_whole_body() {
        let b = INVITE.as_bytes();
        let full = INVITE.find("v=0").unwrap() + 4;
        assert_eq!(stream_frame_len(&b[..full - 1]).unwrap(), None);
        assert_eq!(stream_frame_len(b).unwrap(), Some(full));
    }

    #[test]
    fn response_copies_the_dialog_headers_and_adds_the_tag() {
        let Message::Request(r) = Message::parse(INVITE.as_bytes()).unwrap() else {
            panic!()
        };
        let resp = r.response(486, Some("tt"));
        assert_eq!(resp.hdr_to().unwrap().tag.as_deref(), Some("tt"));
        assert_eq!(
            resp.top_via().unwrap().branch.as_deref(),
            Some("z9hG4bKabc")
        );
        let parsed = Message::parse(&resp.to_bytes()).unwrap();
        assert_eq!(parsed, Message::Response(resp));
    }

    #[test]
    fn digest_answer_matches_rfc2617_md5() {
        // Worked by hand: HA1 = md5(user:realm:pw), HA2 = md5(INVITE:uri), resp = md5(HA1:nonce:HA2).
        let ch = Challenge {
            proxy: true,
            value: r#"Digest realm="sip.example", nonce="abc123", algorithm=MD5"#.into(),
        };
        let uri = Uri::parse("sip:100@127.0.0.1").unwrap();
        let (name, value) = ch
            .answer("alice", "secret", &Method::Invite, &uri, "cn")
            .unwrap();
        assert_eq!(name, "Proxy-Authorization");
        assert!(value.contains("username=\"alice\""), "{value}");
        assert!(
            value.contains("response=\"8d58e57c0ed97853e008db0cc955226a\""),
            "{value}"
        );
    }
}
