//! How many concurrent bridged calls one process relays before more than 1 % of packets leave
//! more than 20 ms late, and the CPU that costs per call.
//!
//! `cargo bench --bench media_bridge [-- STEP,STEP,… [SECONDS]]` (default steps
//! 250,500,750,1000,1250,1500,2000; 10 s measured after 2 s of warm-up per step). Each step
//! prints one JSON line; the last line names the largest step within 1 % late.
//!
//! This process runs the media [`Driver`] (its worker threads; `MEDIA_BENCH_WORKERS=N` sets how
//! many, default one per core): per call a customer leg and an agent leg, bridged. A child
//! process (this binary again, `MEDIA_BENCH_ROLE=phones`) is the traffic generator: it plays both
//! phones of every call over loopback UDP, each phone sending a 20 ms G.711 packet stream to its
//! leg and receiving what the bridge relays from the other phone, so a call carries 4 streams
//! (2 into the bridge, 2 out of it), 200 packets/s. The generator is made cheap so that the
//! machine's two cores go to the bridge: one thread waking once a millisecond, 4 sockets shared by all phones (each
//! leg latches to its phone's socket as to any far end), `sendmmsg`/`recvmmsg` in batches,
//! kernel receive stamps. Its CPU is reported apart (`phones_*`); `bridge_*` is the dialer's media path.
//!
//! **Late**: every packet carries the instant the phone sent it; it is late when the kernel
//! queues it at the other phone's socket more than 20 ms after that. Loopback delivery is
//! immediate, so that is a packet that left the bridge more than 20 ms after it reached the
//! bridge, which is when a relayed packet should leave. Lost packets count as late. Packets the
//! phones themselves sent late (the generator starved of CPU) are counted apart
//! (`phones_sent_late`) and are not blamed on the bridge: the stamp is taken when the packet
//! really leaves. The bridge's own count (`bridge_late`: relayed more than 20 ms after the kernel
//! stamped the source packet's arrival) is printed beside it.
//!
//! Also printed: the machine's load average and how long the bridge's threads waited on a run
//! queue for a CPU (the other load on the machine). `MEDIA_BENCH_DIRECT=1` connects the phones
//! to each other (no bridge: the loopback and scheduling baseline).

use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddrV4, UdpSocket};
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use dialer::media::sdp::{LocalMedia, RemoteMedia};
use dialer::media::{Driver, DriverConfig};

#[path = "common/proc_stats.rs"]
mod proc_stats;
use proc_stats::{cpu_seconds, loadavg};

const WARMUP: Duration = Duration::from_secs(2);
const LATE_US: u64 = 20_000;
/// The generator's sockets: phone k uses socket k % PHONE_SOCKETS.
const PHONE_SOCKETS: usize = 4;
const PACKET: usize = 12 + 160;

/// Nanoseconds this process's threads spent running and waiting on a run queue (schedstat):
/// the wait says how much the machine's other load kept the bridge from running.
fn sched_ns() -> (u64, u64) {
    let mut run_wait = (0, 0);
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for t in tasks.flatten() {
            let s = std::fs::read_to_string(t.path().join("schedstat")).unwrap_or_default();
            let f: Vec<u64> = s
                .split_whitespace()
                .filter_map(|v| v.parse().ok())
                .collect();
            if f.len() >= 2 {
                run_wait.0 += f[0];
                run_wait.1 += f[1];
            }
        }
    }
    run_wait
}

fn main() {
    if std::env::var("MEDIA_BENCH_ROLE").as_deref() == Ok("phones") {
        phones();
        return;
    }
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let steps: Vec<usize> = args
        .first()
        .map(|s| s.split(',').filter_map(|x| x.parse().ok()).collect())
        .unwrap_or_else(|| vec![250, 500, 750, 1000, 1250, 1500, 2000]);
    let secs: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10);
    let workers = std::env::var("MEDIA_BENCH_WORKERS")
        .ok()
        .and_then(|w| w.parse().ok())
        .unwrap_or(0);
    println!(
        "{{\"bench\":\"media_bridge\",\"late\":\"a packet reaching the far phone more than 20 ms \
         after its phone sent it (it left the bridge over 20 ms after reaching it); lost counts \
         as late\",\"cpus\":{},\"loadavg\":\"{}\"}}",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        loadavg()
    );
    let mut best: Option<String> = None;
    for n in steps {
        let r = step(n, Duration::from_secs(secs), workers);
        println!("{}", r.json);
        if r.late_fraction <= 0.01 {
            best = Some(format!(
                "\"max_calls_within_1pct_late\":{n},\"bridge_cpu_pct_of_core_per_call\":{:.4},\
                 \"phones_cpu_pct_of_core_per_call\":{:.4}",
                r.bridge_pct_per_call, r.phones_pct_per_call
            ));
        } else {
            break;
        }
    }
    println!(
        "{{{},\"loadavg\":\"{}\"}}",
        best.unwrap_or_else(|| "\"max_calls_within_1pct_late\":0".into()),
        loadavg()
    );
}

struct StepResult {
    json: String,
    late_fraction: f64,
    bridge_pct_per_call: f64,
    phones_pct_per_call: f64,
}

fn step(n: usize, measure: Duration, workers: usize) -> StepResult {
    let exe = std::env::current_exe().expect("current exe");
    let mut child = Command::new(exe)
        .env("MEDIA_BENCH_ROLE", "phones")
        .arg(n.to_string())
        .arg(measure.as_secs().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn the phones");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut stdin = child.stdin.take().expect("stdin");
    let mut line = String::new();
    out.read_line(&mut line).expect("phone ports");
    let phone_ports: Vec<u16> = line
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    let sockets = phone_ports.len();
    assert_eq!(sockets, PHONE_SOCKETS.min(2 * n));

    let media = Driver::start(DriverConfig {
        keepalive: false,
        inactivity: Duration::ZERO,
        workers,
        ..DriverConfig::default()
    });
    let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let mut legs = Vec::with_capacity(2 * n);
    for k in 0..2 * n {
        let leg = media.open_leg().expect("open leg");
        let sdp = LocalMedia::offer(lo, phone_ports[k % sockets], 1).to_sdp();
        let remote = RemoteMedia::parse(sdp.as_bytes()).expect("sdp");
        media.set_remote(leg.id, &remote).expect("set remote");
        legs.push(leg);
    }
    for pair in legs.chunks(2) {
        media.bridge(pair[0].id, pair[1].id, None).expect("bridge");
    }
    // MEDIA_BENCH_DIRECT=1: the phones talk to each other with no bridge between (the
    // machine's own loopback and scheduling baseline).
    let direct = std::env::var("MEDIA_BENCH_DIRECT").as_deref() == Ok("1");
    let ports: Vec<String> = if direct {
        (0..2 * n)
            .map(|k| phone_ports[(k ^ 1) % sockets].to_string())
            .collect()
    } else {
        legs.iter().map(|l| l.local.port().to_string()).collect()
    };
    writeln!(stdin, "{}", ports.join(" ")).expect("tell the phones");
    stdin.flush().expect("flush");

    std::thread::sleep(WARMUP);
    let (cpu0, s0, t0, q0) = (cpu_seconds(), media.stats(), Instant::now(), sched_ns());
    std::thread::sleep(measure);
    let (cpu1, s1, wall, q1) = (cpu_seconds(), media.stats(), t0.elapsed(), sched_ns());
    let load = loadavg();
    let runqueue_wait_s = (q1.1 - q0.1) as f64 / 1e9;

    line.clear();
    out.read_line(&mut line).expect("phone results");
    let _ = child.wait();
    let f: Vec<f64> = line
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    assert_eq!(f.len(), 10, "phone results: {line}");
    let (sent, received, late, p50, p99, max) = (f[0], f[1], f[2], f[3], f[4], f[5]);
    let (phone_cpu, phone_wall, phone_send_late, phone_send_failed) = (f[6], f[7], f[8], f[9]);
    let lost = (sent - received).max(0.0);
    let late_fraction = if sent > 0.0 {
        (late + lost) / sent
    } else {
        1.0
    };
    for l in &legs {
        media.close_leg(l.id);
    }
    drop(media);
    let bridge_cpu = cpu1 - cpu0;
    let bridge_pct_per_call = 100.0 * bridge_cpu / wall.as_secs_f64() / n as f64;
    let phones_pct_per_call = 100.0 * phone_cpu / phone_wall.max(1e-9) / n as f64;
    let json = format!(
        "{{\"calls\":{n},\"streams\":{},\"seconds\":{:.1},\"phone_packets_sent\":{sent},\
         \"relayed_received\":{received},\"lost\":{lost},\"late_over_20ms\":{late},\
         \"late_fraction\":{late_fraction:.5},\"e2e_p50_ms\":{:.2},\"e2e_p99_ms\":{:.2},\
         \"e2e_max_ms\":{:.1},\"bridge_workers\":{},\"bridge_received\":{},\"bridge_relayed\":{},\
         \"bridge_late\":{},\"bridge_send_errors\":{},\"bridge_cpu_s\":{bridge_cpu:.2},\
         \"bridge_cpu_pct_of_core_per_call\":{bridge_pct_per_call:.4},\
         \"bridge_threads_runqueue_wait_s\":{runqueue_wait_s:.2},\"phones_cpu_s\":{phone_cpu:.2},\
         \"phones_cpu_pct_of_core_per_call\":{phones_pct_per_call:.4},\
         \"phones_sent_late\":{phone_send_late},\"phones_send_failed\":{phone_send_failed},\
         \"loadavg\":\"{load}\"}}",
        4 * n,
        wall.as_secs_f64(),
        p50 / 1000.0,
        p99 / 1000.0,
        max / 1000.0,
        if direct { 0 } else { workers_of(workers) },
        s1.received - s0.received,
        s1.sent - s0.sent,
        s1.late - s0.late,
        s1.send_errors - s0.send_errors,
    );
    StepResult {
        json,
        late_fraction,
        bridge_pct_per_call,
        phones_pct_per_call,
    }
}

fn workers_of(configured: usize) -> usize {
    match configured {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
}

/// A generator socket: non-blocking, large buffers (forced past the sysctl cap when we may),
/// kernel receive stamps.
fn phone_socket() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
    s.set_nonblocking(true).expect("nonblocking");
    let fd = s.as_raw_fd();
    let set = |opt: libc::c_int, v: libc::c_int| {
        // SAFETY: passes a valid c_int and its size.
        unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                opt,
                (&v as *const libc::c_int).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        }
    };
    for (force, plain) in [
        (libc::SO_RCVBUFFORCE, libc::SO_RCVBUF),
        (libc::SO_SNDBUFFORCE, libc::SO_SNDBUF),
    ] {
        if set(force, 16 << 20) != 0 {
            set(plain, 16 << 20);
        }
    }
    assert_eq!(set(libc::SO_TIMESTAMPNS, 1), 0, "SO_TIMESTAMPNS");
    s
}

fn sockaddr_in(a: SocketAddrV4) -> libc::sockaddr_in {
    // SAFETY: all-zero is a valid sockaddr_in.
    let mut s: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    s.sin_family = libc::AF_INET as libc::sa_family_t;
    s.sin_port = a.port().to_be();
    s.sin_addr.s_addr = u32::from(*a.ip()).to_be();
    s
}

/// Receive state of the generator: `RECV_BATCH` buffers with control space for the stamp.
const RECV_BATCH: usize = 64;

struct Receiver {
    bufs: Vec<[u8; 512]>,
    control: Vec<[u64; 8]>,
    iovs: Vec<libc::iovec>,
    msgs: Vec<libc::mmsghdr>,
}

impl Receiver {
    fn new() -> Box<Receiver> {
        let mut r = Box::new(Receiver {
            bufs: vec![[0u8; 512]; RECV_BATCH],
            control: vec![[0u64; 8]; RECV_BATCH],
            iovs: Vec::with_capacity(RECV_BATCH),
            // SAFETY: all-zero is a valid mmsghdr.
            msgs: (0..RECV_BATCH)
                .map(|_| unsafe { std::mem::zeroed() })
                .collect(),
        });
        for i in 0..RECV_BATCH {
            let iov = libc::iovec {
                iov_base: r.bufs[i].as_mut_ptr().cast(),
                iov_len: 512,
            };
            r.iovs.push(iov);
        }
        r
    }

    /// Read up to RECV_BATCH datagrams; calls `f(payload, kernel_stamp_us)` for each.
    fn recv(&mut self, fd: libc::c_int, mut f: impl FnMut(&[u8], Option<u64>)) -> usize {
        for i in 0..RECV_BATCH {
            let m = &mut self.msgs[i].msg_hdr;
            m.msg_name = std::ptr::null_mut();
            m.msg_namelen = 0;
            m.msg_iov = &mut self.iovs[i];
            m.msg_iovlen = 1;
            m.msg_control = self.control[i].as_mut_ptr().cast();
            m.msg_controllen = 64;
            m.msg_flags = 0;
            self.msgs[i].msg_len = 0;
        }
        // SAFETY: every mmsghdr points at buffers owned by `self`, valid for the call.
        let n = unsafe {
            libc::recvmmsg(
                fd,
                self.msgs.as_mut_ptr(),
                RECV_BATCH as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if n <= 0 {
            return 0;
        }
        for i in 0..n as usize {
            let len = self.msgs[i].msg_len as usize;
            let mut stamp = None;
            let hdr = &self.msgs[i].msg_hdr;
            // SAFETY: walks the control buffer the kernel filled for this message.
            unsafe {
                let mut c = libc::CMSG_FIRSTHDR(hdr);
                while !c.is_null() {
                    if (*c).cmsg_level == libc::SOL_SOCKET
                        && (*c).cmsg_type == libc::SCM_TIMESTAMPNS
                    {
                        let ts: libc::timespec =
                            std::ptr::read_unaligned(libc::CMSG_DATA(c).cast());
                        stamp = Some(ts.tv_sec as u64 * 1_000_000 + ts.tv_nsec as u64 / 1000);
                    }
                    c = libc::CMSG_NXTHDR(hdr, c);
                }
            }
            f(&self.bufs[i][..len], stamp);
        }
        n as usize
    }
}

/// The child: 2·N phones on a single thread. Prints its sockets' ports, reads the legs' ports,
/// streams for the warm-up plus the measured time, then prints `sent received late p50_us
/// p99_us max_us cpu_s wall_s send_late send_failed` for packets due inside the measured window
/// (delays from the instant each packet was sent; CPU over the same window).
fn phones() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let secs: u64 = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let socks: Vec<UdpSocket> = (0..PHONE_SOCKETS.min(2 * n))
        .map(|_| phone_socket())
        .collect();
    let ports: Vec<String> = socks
        .iter()
        .map(|s| s.local_addr().expect("addr").port().to_string())
        .collect();
    println!("{}", ports.join(" "));
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).expect("leg ports");
    let legs: Vec<libc::sockaddr_in> = line
        .split_whitespace()
        .filter_map(|p| p.parse::<u16>().ok())
        .map(|p| sockaddr_in(SocketAddrV4::new(Ipv4Addr::LOCALHOST, p)))
        .collect();
    assert_eq!(legs.len(), 2 * n);
    let fds: Vec<libc::c_int> = socks.iter().map(|s| s.as_raw_fd()).collect();
    let epoch_us = realtime_us();
    let start = Instant::now();
    let from_us = WARMUP.as_micros() as u64;
    let to_us = from_us + secs * 1_000_000;
    let end = start + Duration::from_micros(to_us) + Duration::from_millis(500);
    let (mut received, mut late) = (0u64, 0u64);
    // Delay histogram in 100 µs buckets up to 2 s.
    let mut hist = vec![0u64; 20_001];
    let mut rx = Receiver::new();

    // Phone k sends in millisecond slot k % 20 of every 20 ms, from socket k % 4 (so one slot's
    // packets all leave from one socket: one sendmmsg).
    let per_slot = (2 * n).div_ceil(20);
    let mut pkts = vec![[0xFFu8; PACKET]; per_slot];
    let mut iovs: Vec<libc::iovec> = Vec::with_capacity(per_slot);
    // SAFETY: all-zero is a valid mmsghdr.
    let mut msgs: Vec<libc::mmsghdr> = (0..per_slot)
        .map(|_| unsafe { std::mem::zeroed() })
        .collect();
    let (mut sent_in_window, mut send_late, mut send_failed) = (0u64, 0u64, 0u64);
    let (mut cpu_from, mut cpu_to, mut wall_from, mut wall_to) = (0.0, 0.0, start, start);
    let mut slot: u64 = 0;
    let mut sending = true;
    loop {
        let now = Instant::now();
        if !sending && now >= end {
            break;
        }
        let next = if sending {
            start + Duration::from_millis(slot)
        } else {
            end
        };
        // Sleep to the next slot rather than wait for input: arrivals are stamped by the kernel,
        // so reading them late changes nothing, and nobody has to wake us per packet.
        if next > now {
            std::thread::sleep(next - now);
        }
        for &fd in &fds {
            loop {
                let got = rx.recv(fd, |b, stamp| {
                    if b.len() < 12 + 16 {
                        return;
                    }
                    let field = |at: usize| {
                        let mut x = [0u8; 8];
                        x.copy_from_slice(&b[at..at + 8]);
                        u64::from_le_bytes(x)
                    };
                    let (sent, due) = (field(12), field(20));
                    if due < from_us || due >= to_us {
                        return;
                    }
                    // When the kernel queued it, not when this process got round to reading it.
                    let at = stamp.unwrap_or_else(realtime_us).saturating_sub(epoch_us);
                    let d = at.saturating_sub(sent);
                    received += 1;
                    if d > LATE_US {
                        late += 1;
                    }
                    hist[((d / 100) as usize).min(20_000)] += 1;
                });
                if got < RECV_BATCH {
                    break;
                }
            }
        }
        if !sending || Instant::now() < start + Duration::from_millis(slot) {
            continue;
        }
        let due_us = slot * 1000;
        if due_us >= to_us {
            sending = false;
            cpu_to = cpu_seconds();
            wall_to = Instant::now();
            continue;
        }
        if due_us == from_us {
            cpu_from = cpu_seconds();
            wall_from = Instant::now();
        }
        let in_window = due_us >= from_us;
        // Stamp the instant the packets really leave: the generator's own lateness (this
        // process starved of CPU) is counted apart and is not blamed on the bridge.
        let sent_us = realtime_us().saturating_sub(epoch_us);
        let behind = start.elapsed().as_micros() as u64;
        let seq = (slot / 20) as u16;
        let ts = (slot / 20) as u32 * 160;
        iovs.clear();
        let mut count = 0;
        for k in ((slot % 20) as usize..2 * n).step_by(20) {
            let p = &mut pkts[count];
            p[0] = 0x80;
            p[1] = 0; // PCMU
            p[2..4].copy_from_slice(&seq.to_be_bytes());
            p[4..8].copy_from_slice(&ts.to_be_bytes());
            p[8..12].copy_from_slice(&(k as u32).to_be_bytes());
            p[12..20].copy_from_slice(&sent_us.to_le_bytes());
            p[20..28].copy_from_slice(&due_us.to_le_bytes());
            iovs.push(libc::iovec {
                iov_base: p.as_mut_ptr().cast(),
                iov_len: PACKET,
            });
            let m = &mut msgs[count].msg_hdr;
            m.msg_name = (&legs[k] as *const libc::sockaddr_in).cast_mut().cast();
            m.msg_namelen = size_of::<libc::sockaddr_in>() as libc::socklen_t;
            m.msg_iovlen = 1;
            count += 1;
        }
        for (m, iov) in msgs.iter_mut().zip(iovs.iter_mut()) {
            m.msg_hdr.msg_iov = iov;
        }
        let fd = fds[(slot as usize % 20) % fds.len()];
        let mut done = 0;
        while done < count {
            // SAFETY: messages `done..count` point at live packets, iovecs and addresses.
            let r = unsafe {
                libc::sendmmsg(
                    fd,
                    msgs[done..].as_mut_ptr(),
                    (count - done) as libc::c_uint,
                    0,
                )
            };
            if r <= 0 {
                break;
            }
            done += r as usize;
        }
        if in_window {
            sent_in_window += done as u64;
            send_failed += (count - done) as u64;
            if behind.saturating_sub(due_us) > LATE_US {
                send_late += count as u64;
            }
        }
        slot += 1;
    }
    let total: u64 = hist.iter().sum();
    let pct = |p: f64| -> u64 {
        let want = ((total as f64 * p).ceil() as u64).max(1);
        let mut acc = 0;
        for (i, h) in hist.iter().enumerate() {
            acc += h;
            if acc >= want {
                return i as u64 * 100 + 100;
            }
        }
        0
    };
    let max = hist
        .iter()
        .rposition(|&h| h > 0)
        .map_or(0, |i| i as u64 * 100 + 100);
    println!(
        "{} {} {} {} {} {} {:.2} {:.3} {} {}",
        sent_in_window,
        received,
        late,
        pct(0.5),
        pct(0.99),
        max,
        cpu_to - cpu_from,
        (wall_to - wall_from).as_secs_f64(),
        send_late,
        send_failed
    );
}

fn realtime_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}
