//! The integration suite: every test that can share one process with the others, in one test
//! binary, so that sea-orm, axum, tokio and the `dialer` library are linked once for all of them
//! (as ripgrep's `tests/tests.rs`), not once per file. A module per former test file; the shared
//! helpers are the folders beside the binaries (`tests/rig`, `tests/storedb`, `tests/e2e`,
//! `tests/world`).
//!
//! Tests here run on parallel threads of one process, so none may change process-wide state (a
//! resource limit, the environment, the current directory, signal dispositions, a global metrics
//! recorder other than the daemon's own `telemetry::install`) or need the machine to itself.
//! `api` is the only module that runs the daemon inside this process: it checks exact counts in
//! the process-wide metrics recorder (`trunk="main"`, agents by state), which another daemon in
//! the process would add to.
//!
//! The other test binaries, and why each is apart:
//! - `tests/daemon`: the daemon inside the test process against sipp (the 2-second rule, the
//!   drain's timings): those daemons count into the metrics recorder that `api` reads exactly,
//!   and their timing claims run beside each other only, as before the fold.
//! - `tests/faults`: fault injection through `dialer run` (a full tmpfs, a PostgreSQL of its own
//!   stopped, connection floods, descriptor limits): it takes machine-wide resources on purpose.
//! - `tests/media_fds.rs`: lowers its own process's descriptor limit.
//! - `tests/sip_flood.rs`: installs its own global metrics recorder and counts every SIP request
//!   the process rejects.

#[path = "../e2e/mod.rs"]
mod e2e;
#[path = "../rig/mod.rs"]
mod rig;
#[path = "../storedb/mod.rs"]
mod storedb;
#[path = "../world/mod.rs"]
mod world;

mod amd_cli;
mod amd_corpus;
mod api;
mod check;
mod compliance_check;
mod daemon_writer;
mod demo;
mod erase;
mod evidence;
mod import;
mod media_sipp;
mod media_udp;

mod pacing_cap;
mod pacing_history;
mod pacing_props;
mod report;
mod retention;
mod scheduler;
mod shift;
mod simnet;
mod simulate;
mod sip_sipp;
mod sip_torture;
mod store;
mod systemd_unit;
mod zones_month;
