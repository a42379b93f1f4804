//! SDP (RFC 4566, offer/answer per RFC 3264) for the one audio stream a call leg has.
//!
//! [`LocalMedia`] is what we say: our address and port, PCMU/PCMA and RFC 4733
//! `telephone-event`, 20 ms packets, a direction. [`RemoteMedia`] is what we take from the far
//! end's offer or answer: where to send, which codec it chose, which payload type carries DTMF
//! (read from `a=rtpmap`, never assumed to be 101) and the direction (hold).
//!
//! Parsing is hand-written and small; errors name the line (1-based) and quote it.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

use super::g711::Codec;

/// The payload type we offer for `telephone-event`.
pub const DEFAULT_TELEPHONE_EVENT_PT: u8 = 101;

/// Media direction (`a=sendrecv` and friends); `sendonly` / `inactive` from the far end is hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    #[default]
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    /// The SDP attribute name.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    fn parse(s: &str) -> Option<Direction> {
        Some(match s {
            "sendrecv" => Direction::SendRecv,
            "sendonly" => Direction::SendOnly,
            "recvonly" => Direction::RecvOnly,
            "inactive" => Direction::Inactive,
            _ => return None,
        })
    }

    /// The direction an answer takes to an offer with this direction (RFC 3264 §6.1).
    pub fn answer(self) -> Direction {
        match self {
            Direction::SendRecv => Direction::SendRecv,
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            Direction::Inactive => Direction::Inactive,
        }
    }

    /// Whether the side that wrote this direction sends media.
    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    /// Whether the side that wrote this direction wants to receive media.
    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }
}

/// A problem in an SDP body: the line (1-based; 0 for the body as a whole) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("SDP line {line}{}: {what}", if quote.is_empty() { String::new() } else { format!(" `{quote}`") })]
pub struct SdpError {
    pub line: usize,
    pub quote: String,
    pub what: String,
}

fn err(line: usize, text: &str, what: impl Into<String>) -> SdpError {
    let mut quote: String = text.chars().take(60).collect();
    if text.chars().count() > 60 {
        quote.push('…');
    }
    SdpError {
        line,
        quote,
        what: what.into(),
    }
}

/// Our side of the session: rendered with [`LocalMedia::to_sdp`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalMedia {
    /// `o=` session id; keep it for the dialog.
    pub session_id: u64,
    /// `o=` version; bump with [`LocalMedia::next_version`] for each new offer in a dialog.
    pub version: u64,
    pub addr: IpAddr,
    pub port: u16,
    /// Audio codecs with their payload types, in preference order.
    pub codecs: Vec<(u8, Codec)>,
    /// `telephone-event` payload type, when DTMF events are offered/accepted.
    pub telephone_event: Option<u8>,
    pub direction: Direction,
    pub ptime_ms: u32,
}

impl LocalMedia {
    /// Our offer: PCMU 0, PCMA 8, telephone-event 101 (events 0–16), 20 ms, sendrecv.
    pub fn offer(addr: IpAddr, port: u16, session_id: u64) -> LocalMedia {
        LocalMedia {
            session_id,
            version: session_id,
            addr,
            port,
            codecs: vec![(0, Codec::Pcmu), (8, Codec::Pcma)],
            telephone_event: Some(DEFAULT_TELEPHONE_EVENT_PT),
            direction: Direction::SendRecv,
            ptime_ms: 20,
        }
    }

    /// Our answer to the far end's offer: its preferred G.711 codec (with its payload type), its
    /// `telephone-event` payload type if it offered one, and the answering direction.
    pub fn answer_to(offer: &RemoteMedia, addr: IpAddr, port: u16, session_id: u64) -> LocalMedia {
        LocalMedia {
            session_id,
            version: session_id,
            addr,
            port,
            codecs: vec![(offer.codec_pt, offer.codec)],
            telephone_event: offer.telephone_event,
            direction: offer.direction.answer(),
            ptime_ms: 20,
        }
    }

    /// Bump the `o=` version (for a re-offer, e.g. hold).
    pub fn next_version(&mut self) {
        self.version = self.version.wrapping_add(1);
    }

    /// The SDP body (CRLF line ends).
    pub fn to_sdp(&self) -> String {
        let ip = match self.addr {
            IpAddr::V4(_) => "IP4",
            IpAddr::V6(_) => "IP6",
        };
        let mut s = String::with_capacity(256);
        let mut line = |l: std::fmt::Arguments| {
            let _ = s.write_fmt(l);
            s.push_str("\r\n");
        };
        line(format_args!("v=0"));
        line(format_args!(
            "o=dialer {} {} IN {ip} {}",
            self.session_id, self.version, self.addr
        ));
        line(format_args!("s=dialer"));
        line(format_args!("c=IN {ip} {}", self.addr));
        line(format_args!("t=0 0"));
        let mut fmts = String::new();
        for (pt, _) in &self.codecs {
            let _ = write!(fmts, " {pt}");
        }
        if let Some(pt) = self.telephone_event {
            let _ = write!(fmts, " {pt}");
        }
        line(format_args!("m=audio {} RTP/AVP{fmts}", self.port));
        for (pt, c) in &self.codecs {
            line(format_args!("a=rtpmap:{pt} {}/8000", c.name()));
        }
        if let Some(pt) = self.telephone_event {
            line(format_args!("a=rtpmap:{pt} telephone-event/8000"));
            line(format_args!("a=fmtp:{pt} 0-16"));
        }
        line(format_args!("a=ptime:{}", self.ptime_ms));
        line(format_args!("a={}", self.direction.as_str()));
        s
    }
}

/// The far end's audio stream, from its offer or answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteMedia {
    /// Connection address (media-level `c=`, else session-level). `0.0.0.0` is old-style hold.
    pub addr: IpAddr,
    pub port: u16,
    /// The first G.711 codec in the `m=` line's order, and the payload type it has there.
    pub codec: Codec,
    pub codec_pt: u8,
    /// Every G.711 codec listed, in order.
    pub codecs: Vec<(u8, Codec)>,
    /// The payload type of `telephone-event/8000`, if listed.
    pub telephone_event: Option<u8>,
    pub direction: Direction,
    pub ptime_ms: Option<u32>,
}

impl RemoteMedia {
    /// Where to send RTP.
    pub fn rtp_addr(&self) -> SocketAddr {
        SocketAddr::new(self.addr, self.port)
    }

    /// Whether the far end put the stream on hold (sendonly/inactive, or `c=` 0.0.0.0).
    pub fn is_hold(&self) -> bool {
        !self.direction.receives() || self.addr.is_unspecified()
    }

    /// Parse an SDP body and pick its first usable audio stream.
    pub fn parse(body: &[u8]) -> Result<RemoteMedia, SdpError> {
        let text =
            std::str::from_utf8(body).map_err(|_| err(0, "", "the body is not UTF-8 text"))?;
        parse_text(text)
    }
}

#[derive(Default)]
struct MediaSection {
    line: usize,
    text: String,
    usable: bool,
    port: u16,
    fmts: Vec<u8>,
    addr: Option<IpAddr>,
    rtpmap: Vec<(u8, String, u32)>,
    direction: Option<Direction>,
    ptime: Option<u32>,
}

fn parse_addr(value: &str, n: usize, raw: &str) -> Result<IpAddr, SdpError> {
    let mut it = value.split_ascii_whitespace();
    let (Some(net), Some(kind), Some(addr)) = (it.next(), it.next(), it.next()) else {
        return Err(err(n, raw, "expected `c=IN IP4 <address>`"));
    };
    if net != "IN" {
        return Err(err(n, raw, format!("network type `{net}` is not IN")));
    }
    // Drop a multicast TTL/count suffix.
    let addr = addr.split('/').next().unwrap_or(addr);
    let ip: IpAddr = addr
        .parse()
        .map_err(|_| err(n, raw, format!("`{addr}` is not an IP address")))?;
    match (kind, ip) {
        ("IP4", IpAddr::V4(_)) | ("IP6", IpAddr::V6(_)) => Ok(ip),
        _ => Err(err(
            n,
            raw,
            format!("address type `{kind}` does not match `{addr}`"),
        )),
    }
}

fn parse_text(text: &str) -> Result<RemoteMedia, SdpError> {
    let mut session_addr: Option<IpAddr> = None;
    let mut session_dir: Option<Direction> = None;
    let mut sections: Vec<MediaSection> = Vec::new();
    let mut seen_version = false;

    for (i, raw) in text.split('\n').enumerate() {
        let n = i + 1;
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if raw.trim().is_empty() {
            continue;
        }
        let b = raw.as_bytes();
        if b.len() < 2 || b[1] != b'=' || !b[0].is_ascii_lowercase() {
            return Err(err(n, raw, "expected `<letter>=<value>`"));
        }
        let (kind, value) = (b[0], &raw[2..]);
        if !seen_version {
            if kind != b'v' || value.trim() != "0" {
                return Err(err(n, raw, "an SDP body starts with `v=0`"));
            }
            seen_version = true;
            continue;
        }
        match kind {
            b'c' => {
                let ip = parse_addr(value, n, raw)?;
                match sections.last_mut() {
                    Some(m) => m.addr = Some(ip),
                    None => session_addr = Some(ip),
                }
            }
            b'm' => {
                let mut it = value.split_ascii_whitespace();
                let (Some(media), Some(port), Some(proto)) = (it.next(), it.next(), it.next())
                else {
                    return Err(err(n, raw, "expected `m=<media> <port> <proto> <fmt>…`"));
                };
                let port = port.split('/').next().unwrap_or(port);
                let port: u16 = port
                    .parse()
                    .map_err(|_| err(n, raw, format!("`{port}` is not a port number")))?;
                let mut m = MediaSection {
                    line: n,
                    text: raw.to_owned(),
                    port,
                    ..Default::default()
                };
                if media == "audio" {
                    if proto.contains("SAVP") {
                        if port != 0 {
                            return Err(err(n, raw, format!("{proto} (SRTP) is not supported")));
                        }
                    } else if proto != "RTP/AVP" && proto != "RTP/AVPF" {
                        return Err(err(n, raw, format!("transport `{proto}` is not RTP/AVP")));
                    } else {
                        for f in it {
                            let pt: u8 = f.parse().ok().filter(|p| *p < 128).ok_or_else(|| {
                                err(n, raw, format!("`{f}` is not an RTP payload type"))
                            })?;
                            m.fmts.push(pt);
                        }
                        if m.fmts.is_empty() {
                            return Err(err(n, raw, "no payload types"));
                        }
                        m.usable = port != 0;
                    }
                }
                sections.push(m);
            }
            b'a' => {
                let (name, arg) = match value.split_once(':') {
                    Some((a, b)) => (a, Some(b)),
                    None => (value, None),
                };
                if let Some(d) = Direction::parse(name.trim()) {
                    match sections.last_mut() {
                        Some(m) => m.direction = Some(d),
                        None => session_dir = Some(d),
                    }
                    continue;
                }
                let Some(m) = sections.last_mut() else {
                    continue;
                };
                match (name, arg) {
                    ("rtpmap", Some(arg)) if m.usable => {
                        let bad = || err(n, raw, "expected `a=rtpmap:<pt> <name>/<rate>`");
                        let (pt, enc) = arg.trim().split_once(' ').ok_or_else(bad)?;
                        let pt: u8 = pt.parse().map_err(|_| bad())?;
                        let mut parts = enc.trim().split('/');
                        let name = parts.next().unwrap_or("").to_owned();
                        let rate: u32 =
                            parts.next().and_then(|r| r.parse().ok()).ok_or_else(bad)?;
                        m.rtpmap.push((pt, name, rate));
                    }
                    ("ptime", Some(arg)) if m.usable => {
                        let v: u32 = arg
                            .trim()
                            .parse()
                            .map_err(|_| err(n, raw, "expected `a=ptime:<milliseconds>`"))?;
                        m.ptime = Some(v);
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    if !seen_version {
        return Err(err(0, "", "empty SDP body"));
    }
    let Some(m) = sections.iter().find(|m| m.usable) else {
        return Err(
            match sections.iter().find(|m| m.text.starts_with("m=audio")) {
                Some(m) => err(m.line, &m.text, "the audio stream is rejected (port 0)"),
                None => err(0, "", "no `m=audio` line"),
            },
        );
    };
    let mut codecs = Vec::new();
    let mut telephone_event = None;
    for &pt in &m.fmts {
        match m.rtpmap.iter().find(|(p, _, _)| *p == pt) {
            Some((_, name, rate)) => {
                if *rate != 8000 {
                    continue;
                }
                if name.eq_ignore_ascii_case("telephone-event") {
                    telephone_event.get_or_insert(pt);
                } else if let Some(c) = Codec::from_name(name) {
                    codecs.push((pt, c));
                }
            }
            None => {
                if let Some(c) = Codec::from_payload_type(pt) {
                    codecs.push((pt, c));
                }
            }
        }
    }
    let Some(&(codec_pt, codec)) = codecs.first() else {
        return Err(err(
            m.line,
            &m.text,
            "no PCMU or PCMA among the payload types",
        ));
    };
    let addr = m.addr.or(session_addr).ok_or_else(|| {
        err(
            m.line,
            &m.text,
            "no connection address (`c=`) for this stream",
        )
    })?;
    Ok(RemoteMedia {
        addr,
        port: m.port,
        codec,
        codec_pt,
        codecs,
        telephone_event,
        direction: m.direction.or(session_dir).unwrap_or_default(),
        ptime_ms: m.ptime,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const LO: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    #[test]
    fn offer_renders_every_required_line() {
        let o = LocalMedia::offer(LO, 40000, 42).to_sdp();
        let want = "v=0\r\no=dialer 42 42 IN IP4 127.0.0.1\r\ns=dialer\r\nc=IN IP4 127.0.0.1\r\n\
                    t=0 0\r\nm=audio 40000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\n\
                    a=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n\
                    a=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n";
        assert_eq!(o, want);
    }

    #[test]
    fn our_offer_parses_back() {
        let local = LocalMedia::offer("::1".parse().unwrap(), 5004, 7);
        let r = RemoteMedia::parse(local.to_sdp().as_bytes()).unwrap();
        assert_eq!(r.rtp_addr(), "[::1]:5004".parse().unwrap());
        assert_eq!((r.codec, r.codec_pt), (Codec::Pcmu, 0));
        assert_eq!(r.codecs, vec![(0, Codec::Pcmu), (8, Codec::Pcma)]);
        assert_eq!(r.telephone_event, Some(101));
        assert_eq!(r.direction, Direction::SendRecv);
        assert_eq!(r.ptime_ms, Some(20));
        assert!(!r.is_hold());
    }

    #[test]
    fn parses_a_typical_carrier_answer() {
        // Media-level c= overrides session c=; PCMA chosen; DTMF on PT 96, not 101.
        let a = "v=0\r\no=- 1 2 IN IP4 203.0.113.1\r\ns=-\r\nc=IN IP4 203.0.113.1\r\nt=0 0\r\n\
                 m=audio 31000 RTP/AVP 8 96\r\nc=IN IP4 198.51.100.7\r\n\
                 a=rtpmap:8 PCMA/8000\r\na=rtpmap:96 telephone-event/8000\r\na=fmtp:96 0-15\r\n\
                 a=ptime:20\r\n";
        let r = RemoteMedia::parse(a.as_bytes()).unwrap();
        assert_eq!(r.rtp_addr(), "198.51.100.7:31000".parse().unwrap());
        assert_eq!(r.codec, Codec::Pcma);
        assert_eq!(r.telephone_event, Some(96));
        assert_eq!(r.direction, Direction::SendRecv);
    }

    #[test]
    fn static_types_without_rtpmap_and_lf_only() {
        let a = "v=0\no=- 1 1 IN IP4 10.0.0.1\ns=-\nc=IN IP4 10.0.0.1\nt=0 0\n\
                 m=audio 4000 RTP/AVP 18 0\n";
        let r = RemoteMedia::parse(a.as_bytes()).unwrap();
        assert_eq!((r.codec, r.codec_pt), (Codec::Pcmu, 0));
        assert_eq!(r.telephone_event, None);
    }

    #[test]
    fn directions_and_hold() {
        for (attr, dir, hold) in [
            ("sendonly", Direction::SendOnly, true),
            ("recvonly", Direction::RecvOnly, false),
            ("inactive", Direction::Inactive, true),
            ("sendrecv", Direction::SendRecv, false),
        ] {
            let a = format!(
                "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
                 m=audio 4000 RTP/AVP 0\r\na={attr}\r\n"
            );
            let r = RemoteMedia::parse(a.as_bytes()).unwrap();
            assert_eq!(r.direction, dir);
            assert_eq!(r.is_hold(), hold, "{attr}");
        }
        // Session-level direction applies when the stream has none; old-style hold with 0.0.0.0.
        let a = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n\
                 a=sendonly\r\nm=audio 4000 RTP/AVP 0\r\n";
        let r = RemoteMedia::parse(a.as_bytes()).unwrap();
        assert_eq!(r.direction, Direction::SendOnly);
        assert!(r.is_hold());
        assert_eq!(Direction::SendOnly.answer(), Direction::RecvOnly);
    }

    #[test]
    fn skips_video_and_rejected_audio() {
        let a = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
                 m=video 5000 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n\
                 m=audio 0 RTP/AVP 0\r\n\
                 m=audio 6000 RTP/AVP 9 8 100\r\na=rtpmap:100 telephone-event/8000\r\n";
        let r = RemoteMedia::parse(a.as_bytes()).unwrap();
        assert_eq!(r.port, 6000);
        assert_eq!(r.codec, Codec::Pcma);
        assert_eq!(r.telephone_event, Some(100));
    }

    #[test]
    fn answer_follows_the_offer() {
        let offer = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
                     m=audio 4000 RTP/AVP 8 0 97\r\na=rtpmap:97 telephone-event/8000\r\n\
                     a=sendonly\r\n";
        let r = RemoteMedia::parse(offer.as_bytes()).unwrap();
        let ans = LocalMedia::answer_to(&r, LO, 7000, 9);
        let back = RemoteMedia::parse(ans.to_sdp().as_bytes()).unwrap();
        assert_eq!(back.codecs, vec![(8, Codec::Pcma)]);
        assert_eq!(back.telephone_event, Some(97));
        assert_eq!(back.direction, Direction::RecvOnly);
        assert_eq!(back.port, 7000);
    }

    fn error_of(body: &str) -> SdpError {
        RemoteMedia::parse(body.as_bytes()).unwrap_err()
    }

    #[test]
    fn errors_name_the_line() {
        let head = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\n";
        let e = error_of(&format!(
            "{head}c=IN IP4 10.0.0.999\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"
        ));
        assert_eq!(e.line, 4);
        assert!(e.to_string().contains("10.0.0.999"), "{e}");

        let e = error_of(&format!(
            "{head}c=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 70000 RTP/AVP 0\r\n"
        ));
        assert_eq!(e.line, 6);
        assert!(e.what.contains("port"), "{e}");

        let e = error_of(&format!(
            "{head}c=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 18 9\r\n"
        ));
        assert_eq!(e.line, 6);
        assert!(e.what.contains("PCMU"), "{e}");

        let e = error_of(&format!("{head}t=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"));
        assert_eq!(e.line, 5);
        assert!(e.what.contains("c="), "{e}");

        let e = error_of(&format!(
            "{head}c=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 0 RTP/AVP 0\r\n"
        ));
        assert!(e.what.contains("rejected"), "{e}");

        let e = error_of(&format!(
            "{head}c=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/SAVP 0\r\n"
        ));
        assert!(e.what.contains("SRTP"), "{e}");

        let e = error_of(&format!("{head}garbage\r\n"));
        assert_eq!(e.line, 4);

        let e = error_of(&format!(
            "{head}c=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=rtpmap:x PCMU\r\n"
        ));
        assert_eq!(e.line, 7);

        assert_eq!(error_of("o=- 1 1 IN IP4 1.2.3.4\r\n").line, 1);
        assert_eq!(error_of("").line, 0);
        assert!(RemoteMedia::parse(&[0xff, 0xfe]).is_err());
        assert!(
            error_of(&format!("{head}c=IN IP4 10.0.0.1\r\nt=0 0\r\n"))
                .what
                .contains("m=audio")
        );
    }
}
