//! The few Linux calls the media driver needs beyond std: an epoll set, an eventfd to wake it,
//! and `recvmsg` with the kernel's receive timestamp (`SO_TIMESTAMPNS`).

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn cvt(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

/// A level-triggered epoll set whose entries carry a `u64` token.
pub struct Epoll {
    fd: OwnedFd,
}

/// One readiness report: the token given at [`Epoll::add`].
pub type EpollEvent = libc::epoll_event;

pub fn empty_events(n: usize) -> Vec<EpollEvent> {
    vec![libc::epoll_event { events: 0, u64: 0 }; n]
}

pub fn token(ev: &EpollEvent) -> u64 {
    ev.u64
}

impl Epoll {
    pub fn new() -> io::Result<Epoll> {
        // SAFETY: plain syscall; a non-negative result is a fresh descriptor we now own.
        let fd = cvt(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
        // SAFETY: `fd` is a valid descriptor owned by nobody else.
        Ok(Epoll {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// Watch `fd` for input (level-triggered: reported while data is queued).
    pub fn add(&self, fd: RawFd, token: u64) -> io::Result<()> {
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: token,
        };
        // SAFETY: `ev` is valid for the call; the kernel copies it.
        cvt(unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) })
            .map(drop)
    }

    pub fn delete(&self, fd: RawFd) -> io::Result<()> {
        let mut ev = libc::epoll_event { events: 0, u64: 0 };
        // SAFETY: as in `add` (the event is ignored for a delete).
        cvt(unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), libc::EPOLL_CTL_DEL, fd, &mut ev) })
            .map(drop)
    }

    /// Wait up to `timeout` (None: forever; rounded up to whole milliseconds) for ready
    /// entries; returns how many of `events` were filled (0 on timeout or a signal).
    pub fn wait(&self, events: &mut [EpollEvent], timeout: Option<Duration>) -> io::Result<usize> {
        let ms = match timeout {
            None => -1,
            Some(d) => d.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as libc::c_int,
        };
        let max = events.len().min(i32::MAX as usize) as libc::c_int;
        // SAFETY: `events` is valid for `max` entries.
        let rc = unsafe { libc::epoll_wait(self.fd.as_raw_fd(), events.as_mut_ptr(), max, ms) };
        if rc < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                return Ok(0);
            }
            return Err(e);
        }
        Ok(rc as usize)
    }
}

/// An eventfd: [`EventFd::wake`] makes it readable until [`EventFd::clear`].
pub struct EventFd {
    fd: OwnedFd,
}

impl EventFd {
    pub fn new() -> io::Result<EventFd> {
        // SAFETY: plain syscall; a non-negative result is a fresh descriptor we now own.
        let fd = cvt(unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) })?;
        // SAFETY: `fd` is a valid descriptor owned by nobody else.
        Ok(EventFd {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    pub fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    pub fn wake(&self) {
        let one = 1u64.to_ne_bytes();
        // SAFETY: writes 8 bytes from a valid buffer; a full counter (EAGAIN) is still awake.
        let _ = unsafe { libc::write(self.fd.as_raw_fd(), one.as_ptr().cast(), one.len()) };
    }

    pub fn clear(&self) {
        let mut b = [0u8; 8];
        // SAFETY: reads at most 8 bytes into a valid buffer.
        let _ = unsafe { libc::read(self.fd.as_raw_fd(), b.as_mut_ptr().cast(), b.len()) };
    }
}

/// Ask the kernel to stamp each datagram's arrival (`SO_TIMESTAMPNS`).
pub fn enable_rx_timestamps(fd: RawFd) -> io::Result<()> {
    let on: libc::c_int = 1;
    // SAFETY: passes a valid c_int and its size.
    cvt(unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_TIMESTAMPNS,
            (&on as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    })
    .map(drop)
}

/// One datagram read by [`recv_stamped`].
pub struct Received {
    pub len: usize,
    pub from: SocketAddr,
    /// When the kernel queued it (realtime clock), if stamped.
    pub stamp: Option<SystemTime>,
}

/// Read one datagram without blocking, with its source and kernel arrival stamp. A datagram
/// larger than `buf` is read and reported as `InvalidData`.
pub fn recv_stamped(fd: RawFd, buf: &mut [u8]) -> io::Result<Received> {
    // SAFETY: all-zero is a valid `sockaddr_storage` and `msghdr`.
    let mut addr: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // 64 bytes, aligned for `cmsghdr`: room for one timespec message.
    let mut control = [0u64; 8];
    // SAFETY: see above.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_name = (&mut addr as *mut libc::sockaddr_storage).cast();
    msg.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = size_of_val(&control) as _;
    // SAFETY: every pointer in `msg` is valid for the lengths given, for the call's duration.
    let n = unsafe { libc::recvmsg(fd, &mut msg, libc::MSG_DONTWAIT) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    if msg.msg_flags & libc::MSG_TRUNC != 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "datagram larger than the receive buffer",
        ));
    }
    let from = sockaddr(&addr)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "unknown address family"))?;
    let mut stamp = None;
    // SAFETY: the CMSG_* helpers walk the control buffer the kernel filled, within
    // `msg_controllen`; the timespec is read unaligned from inside it.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPNS {
                let ts: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast());
                stamp = Some(
                    UNIX_EPOCH + Duration::new(ts.tv_sec.max(0) as u64, ts.tv_nsec.max(0) as u32),
                );
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    Ok(Received {
        len: n as usize,
        from,
        stamp,
    })
}

fn sockaddr(a: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match libc::c_int::from(a.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a `sockaddr_in`.
            let v4 = unsafe { &*(a as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            Some(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr)),
                u16::from_be(v4.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says the storage holds a `sockaddr_in6`.
            let v6 = unsafe { &*(a as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(v6.sin6_addr.s6_addr),
                u16::from_be(v6.sin6_port),
                v6.sin6_flowinfo,
                v6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;
    use std::os::fd::AsRawFd;

    #[test]
    fn stamped_receive_gives_source_and_kernel_time() {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        enable_rx_timestamps(b.as_raw_fd()).unwrap();
        let mut buf = [0u8; 64];
        let e = recv_stamped(b.as_raw_fd(), &mut buf).err().unwrap();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);

        let ep = Epoll::new().unwrap();
        ep.add(b.as_raw_fd(), 7).unwrap();
        let before = SystemTime::now();
        a.send_to(b"hello", b.local_addr().unwrap()).unwrap();
        let mut evs = empty_events(4);
        let n = ep.wait(&mut evs, Some(Duration::from_secs(5))).unwrap();
        assert_eq!((n, token(&evs[0])), (1, 7));
        let r = recv_stamped(b.as_raw_fd(), &mut buf).unwrap();
        assert_eq!(&buf[..r.len], b"hello");
        assert_eq!(r.from, a.local_addr().unwrap());
        let stamp = r.stamp.unwrap();
        assert!(stamp >= before - Duration::from_millis(1) && stamp <= SystemTime::now());
        // Level-triggered: nothing queued, nothing reported.
        assert_eq!(ep.wait(&mut evs, Some(Duration::ZERO)).unwrap(), 0);

        // Too big for the buffer: read and refused.
        a.send_to(&[1u8; 100], b.local_addr().unwrap()).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        let e = recv_stamped(b.as_raw_fd(), &mut buf).err().unwrap();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);

        let w = EventFd::new().unwrap();
        ep.add(w.raw(), 9).unwrap();
        w.wake();
        assert_eq!(ep.wait(&mut evs, Some(Duration::ZERO)).unwrap(), 1);
        w.clear();
        assert_eq!(ep.wait(&mut evs, Some(Duration::ZERO)).unwrap(), 0);
        ep.delete(w.raw()).unwrap();
    }
}
