//! Fault injection through `dialer run` (the real binary, a child process): store faults
//! mid-shift (`faults`: a full tmpfs, a PostgreSQL of the test's own stopped for 60 s) and local
//! faults (`local_faults`: API connection floods of hundreds of idle connections, a daemon
//! limited to 256 descriptors, its whole RTP range held). One module per former test file; the
//! helpers are `tests/rig`, `tests/storedb` and `tests/world`.
//!
//! A binary apart from `tests/suite`: these tests take machine-wide resources on purpose
//! (mounts, a database server of their own, hundreds of sockets and the API's listen backlog)
//! and judge the daemon by how it recovers within timeouts, so they run in a process of their
//! own, beside each other only (two at a time), as they did before the fold.

#[path = "../rig/mod.rs"]
mod rig;
#[path = "../storedb/mod.rs"]
mod storedb;
#[path = "../world/mod.rs"]
mod world;

mod faults;
mod local_faults;
