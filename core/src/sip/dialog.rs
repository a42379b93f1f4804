//! A UAC dialog (RFC 3261 §12): identifiers, CSeq, remote target and route set, and the
//! in-dialog requests built from them.

use std::net::SocketAddr;

use super::message::{HasHeaders, Method, ParseError, Request, Response, Uri};

/// The state of one confirmed dialog we created with an INVITE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialog {
    pub call_id: String,
    pub local_tag: String,
    pub remote_tag: String,
    /// Our `From` header value (with our tag), as sent in the INVITE.
    local_from: String,
    /// Their `To` header value (with their tag), as in the 2xx.
    remote_to: String,
    pub local_seq: u32,
    pub remote_seq: Option<u32>,
    pub remote_target: Uri,
    /// Route set: the 2xx's Record-Route entries, reversed (RFC 3261 §12.1.2).
    pub route_set: Vec<String>,
    local_contact: String,
}

impl Dialog {
    /// The dialog a 2xx to our INVITE establishes.
    pub fn from_2xx(invite: &Request, ok: &Response) -> Result<Dialog, ParseError> {
        let from = invite.hdr_from()?;
        let to = ok.hdr_to()?;
        let local_tag = from
            .tag
            .ok_or(ParseError::Header("From", "no tag".into()))?;
        let remote_tag = to
            .tag
            .ok_or(ParseError::Header("To", "no tag in 2xx".into()))?;
        let remote_target = match ok.contact()? {
            Some(c) => c.uri,
            None => invite.uri.clone(),
        };
        let mut route_set = ok.record_route()?;
        route_set.reverse();
        Ok(Dialog {
            call_id: invite.call_id()?.to_owned(),
            local_tag,
            remote_tag,
            local_from: invite.headers.get("From").unwrap_or_default().to_owned(),
            remote_to: ok.headers.get("To").unwrap_or_default().to_owned(),
            local_seq: invite.cseq()?.seq,
            remote_seq: None,
            remote_target,
            route_set,
            local_contact: invite.headers.get("Contact").unwrap_or_default().to_owned(),
        })
    }

    /// The dialog our 2xx to `invite` establishes (UAS side, RFC 3261 §12.1.1): the INVITE's
    /// Contact is the remote target, its Record-Route entries (in order) the route set, and our
    /// CSeq space starts at 1.
    pub fn uas(
        invite: &Request,
        local_tag: &str,
        local_contact: &str,
    ) -> Result<Dialog, ParseError> {
        let from = invite.hdr_from()?;
        let remote_tag = from
            .tag
            .clone()
            .ok_or(ParseError::Header("From", "no tag".into()))?;
        let to = invite.headers.get("To").ok_or(ParseError::Missing("To"))?;
        let remote_target = match invite.contact()? {
            Some(c) => c.uri,
            None => from.uri,
        };
        Ok(Dialog {
            call_id: invite.call_id()?.to_owned(),
            local_tag: local_tag.to_owned(),
            remote_tag,
            local_from: format!("{to};tag={local_tag}"),
            remote_to: invite.headers.get("From").unwrap_or_default().to_owned(),
            local_seq: 0,
            remote_seq: Some(invite.cseq()?.seq),
            remote_target,
            route_set: invite.record_route()?,
            local_contact: local_contact.to_owned(),
        })
    }

    /// Does this request from the far end belong to this dialog?
    pub fn matches(&self, r: &Request) -> bool {
        let (Ok(cid), Ok(from), Ok(to)) = (r.call_id(), r.hdr_from(), r.hdr_to()) else {
            return false;
        };
        cid == self.call_id
            && from.tag.as_deref() == Some(&self.remote_tag)
            && to.tag.as_deref() == Some(&self.local_tag)
    }

    /// Where in-dialog requests go: the first route, else the remote target, when either is an
    /// IP literal; else `default` (the trunk's resolved address).
    pub fn next_hop(&self, default: SocketAddr) -> SocketAddr {
        if let Some(first) = self.route_set.first() {
            let inner = first.trim().trim_start_matches('<');
            let inner = inner.split('>').next().unwrap_or(inner);
            return Uri::parse(inner)
                .ok()
                .and_then(|u| u.socket_addr())
                .unwrap_or(default);
        }
        self.remote_target.socket_addr().unwrap_or(default)
    }

    fn base(&self, method: Method, via: &str, seq: u32) -> Request {
        let mut r = Request::new(method.clone(), self.remote_target.clone());
        r.headers.push("Via", via);
        for route in &self.route_set {
            r.headers.push("Route", route.as_str());
        }
        r.headers.push("Max-Forwards", "70");
        r.headers.push("From", self.local_from.as_str());
        r.headers.push("To", self.remote_to.as_str());
        r.headers.push("Call-ID", self.call_id.as_str());
        r.headers.push("CSeq", format!("{seq} {method}"));
        r
    }

    /// A new in-dialog request (BYE, re-INVITE …) with the next CSeq.
    pub fn request(&mut self, method: Method, via: &str) -> Request {
        self.local_seq += 1;
        let mut r = self.base(method, via, self.local_seq);
        if !self.local_contact.is_empty() {
            r.headers.push("Contact", self.local_contact.as_str());
        }
        r
    }

    /// The ACK for the 2xx to the INVITE with CSeq `seq` (RFC 3261 §13.2.2.4).
    pub fn ack(&self, seq: u32, via: &str) -> Request {
        self.base(Method::Ack, via, seq)
    }

    /// Check and record the far end's CSeq; false for an out-of-order request (answer 500).
    pub fn accept_remote_seq(&mut self, seq: u32) -> bool {
        if self.remote_seq.is_some_and(|s| seq <= s) {
            return false;
        }
        self.remote_seq = Some(seq);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::message::Message;

    fn parse_req(s: &str) -> Request {
        match Message::parse(s.as_bytes()).unwrap() {
            Message::Request(r) => r,
            _ => panic!(),
        }
    }

    #[test]
    fn dialog_from_2xx_uses_contact_and_reversed_record_route() {
        let inv = parse_req(
            "INVITE sip:100@10.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.9;branch=z9hG4bKa\r\n\
             From: <sip:d@10.0.0.9>;tag=L\r\nTo: <sip:100@10.0.0.1>\r\nCall-ID: c\r\nCSeq: 7 INVITE\r\n\
             Contact: <sip:d@10.0.0.9:5070>\r\n\r\n",
        );
        let mut ok = inv.response(200, Some("R"));
        ok.headers
            .push("Record-Route", "<sip:10.0.0.2;lr>, <sip:10.0.0.3:5062;lr>");
        ok.headers.push("Contact", "<sip:100@10.0.0.50:5099>");
        let mut d = Dialog::from_2xx(&inv, &ok).unwrap();
        assert_eq!(d.remote_tag, "R");
        assert_eq!(
            d.route_set,
            vec!["<sip:10.0.0.3:5062;lr>", "<sip:10.0.0.2;lr>"]
        );
        assert_eq!(
            d.next_hop("1.1.1.1:5060".parse().unwrap()),
            "10.0.0.3:5062".parse().unwrap()
        );
        let bye = d.request(Method::Bye, "SIP/2.0/UDP 10.0.0.9;branch=z9hG4bKb");
        assert_eq!(bye.uri.as_str(), "sip:100@10.0.0.50:5099");
        assert_eq!(bye.cseq().unwrap().seq, 8);
        assert_eq!(bye.hdr_to().unwrap().tag.as_deref(), Some("R"));
        assert_eq!(bye.hdr_from().unwrap().tag.as_deref(), Some("L"));
        let routes: Vec<_> = bye.headers.get_all("Route").collect();
        assert_eq!(routes, vec!["<sip:10.0.0.3:5062;lr>", "<sip:10.0.0.2;lr>"]);
        let ack = d.ack(7, "SIP/2.0/UDP 10.0.0.9;branch=z9hG4bKc");
        assert_eq!(ack.cseq().unwrap().seq, 7);
        assert!(d.accept_remote_seq(1));
        assert!(!d.accept_remote_seq(1));
    }
}
