//! HTTP digest authentication as a SIP server checks it (RFC 3261 §22.4, RFC 7616): the
//! `Authorization` header read into its fields, and the expected `response` computed over the
//! exact `uri` the client hashed (never a re-formatted one), with MD5 or SHA-256 and
//! `qop=auth`.
//!
//! The client side (answering a trunk's challenge) stays in `message` with rsip.

use md5::Md5;
use sha2::{Digest as _, Sha256};

/// A digest algorithm we offer and accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    Md5,
    Sha256,
}

impl Algorithm {
    /// The token as written in challenges (`MD5`, `SHA-256`).
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
        }
    }

    fn parse(s: &str) -> Option<Algorithm> {
        if s.eq_ignore_ascii_case("MD5") {
            Some(Algorithm::Md5)
        } else if s.eq_ignore_ascii_case("SHA-256") {
            Some(Algorithm::Sha256)
        } else {
            None
        }
    }

    /// Lowercase hex of the hash of `data`.
    pub fn hex(self, data: &str) -> String {
        match self {
            Algorithm::Md5 => hex(&Md5::digest(data.as_bytes())),
            Algorithm::Sha256 => hex(&Sha256::digest(data.as_bytes())),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Why an `Authorization` header cannot be checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    #[error("not a Digest authorization")]
    NotDigest,
    #[error("missing `{0}`")]
    Missing(&'static str),
    #[error("unsupported algorithm `{0}`")]
    Algorithm(String),
    #[error("unsupported qop `{0}` (only auth)")]
    Qop(String),
    #[error("bad nonce count `{0}`")]
    NonceCount(String),
    #[error("malformed parameter list")]
    Malformed,
}

/// The fields of a `Authorization: Digest …` header (qop=auth, or none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    pub username: String,
    pub realm: String,
    pub nonce: String,
    pub uri: String,
    pub response: String,
    pub algorithm: Algorithm,
    /// `(cnonce, nc)` when `qop=auth`.
    pub qop: Option<(String, u32)>,
    pub opaque: Option<String>,
}

impl Authorization {
    /// Parse the header's value (`Digest username="…", …`).
    pub fn parse(value: &str) -> Result<Authorization, DigestError> {
        let v = value.trim();
        let (scheme, rest) = v.split_once([' ', '\t']).ok_or(DigestError::NotDigest)?;
        if !scheme.eq_ignore_ascii_case("Digest") {
            return Err(DigestError::NotDigest);
        }
        let params = params(rest).ok_or(DigestError::Malformed)?;
        let get = |k: &str| {
            params
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.clone())
        };
        let need = |k: &'static str| get(k).ok_or(DigestError::Missing(k));
        let algorithm = match get("algorithm") {
            None => Algorithm::Md5,
            Some(a) => Algorithm::parse(&a).ok_or(DigestError::Algorithm(a))?,
        };
        let qop = match get("qop") {
            None => None,
            Some(q) if q.eq_ignore_ascii_case("auth") => {
                let nc = need("nc")?;
                let n = (nc.len() == 8)
                    .then(|| u32::from_str_radix(&nc, 16).ok())
                    .flatten()
                    .ok_or(DigestError::NonceCount(nc))?;
                Some((need("cnonce")?, n))
            }
            Some(q) => return Err(DigestError::Qop(q)),
        };
        Ok(Authorization {
            username: need("username")?,
            realm: need("realm")?,
            nonce: need("nonce")?,
            uri: need("uri")?,
            response: need("response")?,
            algorithm,
            qop,
            opaque: get("opaque"),
        })
    }

    /// The `response` a client knowing `password` sends for `method` (RFC 7616 §3.4.1).
    pub fn expected(&self, password: &str, method: &str) -> String {
        let a = self.algorithm;
        let ha1 = a.hex(&format!("{}:{}:{}", self.username, self.realm, password));
        let ha2 = a.hex(&format!("{method}:{}", self.uri));
        match &self.qop {
            Some((cnonce, nc)) => a.hex(&format!(
                "{ha1}:{}:{nc:08x}:{cnonce}:auth:{ha2}",
                self.nonce
            )),
            None => a.hex(&format!("{ha1}:{}:{ha2}", self.nonce)),
        }
    }

    /// Does the response prove `password`? (Compared in time independent of where it differs.)
    pub fn verify(&self, password: &str, method: &str) -> bool {
        let want = self.expected(password, method);
        let got = self.response.to_ascii_lowercase();
        want.len() == got.len()
            && want
                .bytes()
                .zip(got.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }
}

/// A `WWW-Authenticate` value offering `algorithm` with `qop="auth"`.
pub fn challenge(realm: &str, nonce: &str, algorithm: Algorithm, stale: bool) -> String {
    format!(
        "Digest realm=\"{realm}\", nonce=\"{nonce}\", algorithm={}, qop=\"auth\"{}",
        algorithm.as_str(),
        if stale { ", stale=true" } else { "" }
    )
}

/// `k=v` or `k="quoted"` pairs separated by commas; `None` when malformed.
fn params(s: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let eq = rest.find('=')?;
        let key = rest[..eq].trim();
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return None;
        }
        rest = rest[eq + 1..].trim_start();
        let value;
        if let Some(q) = rest.strip_prefix('"') {
            let mut v = String::new();
            let mut end = None;
            let mut escaped = false;
            for (i, c) in q.char_indices() {
                if escaped {
                    v.push(c);
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == '"' {
                    end = Some(i);
                    break;
                } else {
                    v.push(c);
                }
            }
            value = v;
            rest = q[end? + 1..].trim_start();
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            value = rest[..end].trim().to_owned();
            rest = &rest[end..];
        }
        out.push((key.to_owned(), value));
        match rest.strip_prefix(',') {
            Some(r) => rest = r.trim_start(),
            None if rest.is_empty() => {}
            None => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7616 §3.9.1 (HTTP, but the arithmetic is the same): MD5 and SHA-256 with qop=auth.
    #[test]
    fn rfc7616_examples() {
        let base = |alg: &str, response: &str| {
            format!(
                "Digest username=\"Mufasa\", realm=\"http-auth@example.org\", uri=\"/dir/index.html\", \
                 algorithm={alg}, nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", nc=00000001, \
                 cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\", qop=auth, \
                 response=\"{response}\", opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\""
            )
        };
        let md5 = Authorization::parse(&base("MD5", "8ca523f5e9506fed4657c9700eebdbec")).unwrap();
        assert!(md5.verify("Circle of Life", "GET"));
        assert!(!md5.verify("Circle of life", "GET"));
        let sha = Authorization::parse(&base(
            "SHA-256",
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
        ))
        .unwrap();
        assert_eq!(sha.algorithm, Algorithm::Sha256);
        assert!(sha.verify("Circle of Life", "GET"));
        assert!(!sha.verify("Circle of Life", "POST"));
    }

    /// RFC 2617 §3.5's example, the one without a realm-specific twist: MD5, qop=auth.
    #[test]
    fn rfc2617_example() {
        let a = Authorization::parse(
            "Digest username=\"Mufasa\", realm=\"testrealm@host.com\", \
             nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"/dir/index.html\", qop=auth, \
             nc=00000001, cnonce=\"0a4f113b\", response=\"6629fae49393a05397450978507c4ef1\", \
             opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"",
        )
        .unwrap();
        assert_eq!(a.qop, Some(("0a4f113b".into(), 1)));
        assert!(a.verify("Circle Of Life", "GET"));
    }

    #[test]
    fn refuses_what_it_cannot_check() {
        assert_eq!(
            Authorization::parse("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="),
            Err(DigestError::NotDigest)
        );
        let e = Authorization::parse(
            "Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"sip:x\", response=\"0\", qop=auth-int, nc=00000001, cnonce=\"c\"",
        );
        assert_eq!(e, Err(DigestError::Qop("auth-int".into())));
        let e = Authorization::parse(
            "Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"sip:x\", response=\"0\", algorithm=SHA-512",
        );
        assert_eq!(e, Err(DigestError::Algorithm("SHA-512".into())));
        let e = Authorization::parse("Digest username=\"a\", realm=\"r\", uri=\"sip:x\"");
        assert_eq!(e, Err(DigestError::Missing("nonce")));
        assert_eq!(
            Authorization::parse("Digest username=\"a"),
            Err(DigestError::Malformed)
        );
    }
}
