//! A Server-Sent Events reader for `GET /v1/events` over a plain TCP connection: the HTTP/1.1
//! head, the chunked body decoded as it comes, and the events parsed out of it (comment lines
//! such as `: ping` skipped). Also compiled into the `live_events` benchmark.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One open event stream.
pub struct EventStream {
    pub status: u16,
    pub head: String,
    socket: TcpStream,
    /// Undecoded bytes of the chunked body.
    raw: Vec<u8>,
    /// Decoded body text not parsed into events yet.
    text: String,
    /// The body's last chunk came (the server closed the stream).
    pub ended: bool,
}

/// One event.
#[derive(Debug, Clone)]
pub struct Sse {
    pub name: String,
    pub data: Value,
}

impl EventStream {
    /// Open a stream with `token`; `recv_buffer` sets a small receive buffer on the socket (a
    /// reader that falls behind).
    pub async fn open(addr: SocketAddr, token: &str, recv_buffer: Option<u32>) -> EventStream {
        Self::open_with(addr, &format!("Authorization: Bearer {token}"), recv_buffer).await
    }

    /// Open a stream with the header line `auth` (a bearer token, or a session's `Cookie: …`).
    pub async fn open_with(addr: SocketAddr, auth: &str, recv_buffer: Option<u32>) -> EventStream {
        let socket = match recv_buffer {
            Some(size) => {
                let s = tokio::net::TcpSocket::new_v4().unwrap();
                s.set_recv_buffer_size(size).unwrap();
                s.connect(addr).await.unwrap()
            }
            None => TcpStream::connect(addr).await.unwrap(),
        };
        let mut s = EventStream {
            status: 0,
            head: String::new(),
            socket,
            raw: Vec::new(),
            text: String::new(),
            ended: false,
        };
        let req = format!(
            "GET /v1/events HTTP/1.1\r\nHost: dialer\r\nAccept: text/event-stream\r\n\
             {auth}\r\n\r\n"
        );
        s.socket.write_all(req.as_bytes()).await.unwrap();
        loop {
            if let Some(end) = find(&s.raw, b"\r\n\r\n") {
                s.head = String::from_utf8_lossy(&s.raw[..end]).into_owned();
                s.raw.drain(..end + 4);
                s.status = s.head.split(' ').nth(1).unwrap().parse().unwrap();
                break;
            }
            if !s.fill().await {
                panic!("the event stream closed before its head: {:?}", s.raw);
            }
        }
        if !s
            .head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            // An error answer with a length: keep its body as text.
            s.text = String::from_utf8_lossy(&s.raw).into_owned();
            s.ended = true;
        }
        s
    }

    /// Read more bytes; false at the end of the connection.
    async fn fill(&mut self) -> bool {
        let mut buf = [0u8; 16 * 1024];
        match self.socket.read(&mut buf).await {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.raw.extend_from_slice(&buf[..n]);
                true
            }
        }
    }

    /// Decode the whole chunks in `raw` into `text`.
    fn dechunk(&mut self) {
        while !self.ended {
            let Some(line) = find(&self.raw, b"\r\n") else {
                return;
            };
            let size = std::str::from_utf8(&self.raw[..line]).unwrap().trim();
            let n = usize::from_str_radix(size, 16).unwrap();
            if n == 0 {
                self.ended = true;
                return;
            }
            if self.raw.len() < line + 2 + n + 2 {
                return;
            }
            let chunk = self.raw[line + 2..line + 2 + n].to_vec();
            self.raw.drain(..line + 2 + n + 2);
            self.text.push_str(&String::from_utf8(chunk).unwrap());
        }
    }

    /// The next event within `within`; `None` when the stream ended or nothing came.
    pub async fn next(&mut self, within: Duration) -> Option<Sse> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            self.dechunk();
            if let Some(end) = self.text.find("\n\n") {
                let block: String = self.text.drain(..end + 2).collect();
                let mut name = String::from("message");
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event: ") {
                        name = v.to_string();
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        data.push_str(v);
                    }
                }
                if data.is_empty() {
                    // A comment (`: ping`).
                    continue;
                }
                let data = serde_json::from_str(&data)
                    .unwrap_or_else(|e| panic!("event {name}: bad JSON {data:?}: {e}"));
                return Some(Sse { name, data });
            }
            if self.ended {
                return None;
            }
            match tokio::time::timeout_at(deadline, self.fill()).await {
                Ok(true) => {}
                Ok(false) => {
                    self.ended = true;
                    return None;
                }
                Err(_) => return None,
            }
        }
    }

    /// Events until one satisfies `want` (returned with those before it), within `within`.
    pub async fn until(
        &mut self,
        within: Duration,
        want: impl Fn(&Sse) -> bool,
    ) -> (Vec<Sse>, Option<Sse>) {
        let deadline = tokio::time::Instant::now() + within;
        let mut before = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                Some(e) if want(&e) => return (before, Some(e)),
                Some(e) => before.push(e),
                None => return (before, None),
            }
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
