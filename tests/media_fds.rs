//! The media driver out of file descriptors (issue 13 item 3): opening a leg fails with the real
//! cause ("Too many open files", reason `descriptors`), not "no free RTP port", and works again
//! once descriptors are free. A binary of its own: it lowers its own process's descriptor limit.

use std::fs::File;
use std::net::{IpAddr, Ipv4Addr};

use dialer::media::driver::{Driver, DriverConfig, MediaError};

#[test]
fn out_of_descriptors_is_named_as_such() {
    let driver = Driver::start(DriverConfig {
        bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
        port_min: 41_000 + (std::process::id() % 500) as u16 * 8,
        port_max: 41_000 + (std::process::id() % 500) as u16 * 8 + 8,
        workers: 1,
        ..DriverConfig::default()
    });
    // A leg opens while descriptors are free.
    let leg = driver.open_leg().expect("a leg with descriptors free");
    driver.close_leg(leg.id);

    // Lower this process's limit a little above what it uses, then take the rest.
    let mut old = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit on this process with valid pointers.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut old) }, 0);
    let in_use = std::fs::read_dir("/proc/self/fd").unwrap().count() as u64;
    let low = libc::rlimit {
        rlim_cur: in_use + 16,
        rlim_max: old.rlim_max,
    };
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &low) }, 0);
    let mut hog = Vec::new();
    while let Ok(f) = File::open("/dev/null") {
        hog.push(f);
    }
    let err = driver.open_leg().err().expect("no leg without descriptors");
    let text = err.to_string();
    let reason = err.local_reason();
    // Give the descriptors back before asserting, so a failure still reports cleanly.
    hog.truncate(hog.len().saturating_sub(8));
    assert!(
        matches!(err, MediaError::Bind { .. }) && reason == "descriptors",
        "out of descriptors reported as {text:?} ({reason})"
    );
    assert!(text.contains("Too many open files"), "{text}");
    // With descriptors free again, a leg opens on the same ports.
    let leg = driver.open_leg().expect("a leg once descriptors are free");
    driver.close_leg(leg.id);
    drop(hog);
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &old) }, 0);
}
