#!/usr/bin/env bash
# The whole test suite: README's second command, and what .ci/run runs.
#
# Installs sipp (Debian package sip-tester), baresip (baresip-core: a registering agent phone),
# systemd-analyze (package systemd), chromium and chromedriver (packages chromium,
# chromium-driver) when they are missing and it can, then checks formatting and lints and runs
# every test. PostgreSQL tests run
# when DIALER_TEST_DATABASE_URL is set (.ci/run sets it and requires the server).
#
# A test that skips something prints one line `SKIPPED: <test>: <reason>` on stdout; the count
# of such lines is printed at the end, and with DIALER_FAIL_ON_SKIP=1 (.ci/run) any makes the
# run fail.
set -euo pipefail
cd "$(dirname "$0")/.."

# Install Debian package $2 when command $1 is missing and we are root with apt-get.
install_missing() {
    local cmd=$1 package=$2
    command -v "$cmd" >/dev/null 2>&1 && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "tests/run.sh: installing $cmd ($package)" >&2
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" >/dev/null
    else
        echo "tests/run.sh: $cmd is missing and cannot be installed here; the tests that need it will say so" >&2
    fi
}
install_missing sipp sip-tester
install_missing baresip baresip-core
install_missing systemd-analyze systemd
# The browser tests (tests/daemon/browser.rs): headless Chromium driven through chromedriver.
install_missing chromium chromium
install_missing chromedriver chromium-driver

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

log=$(mktemp -t dialer-tests.XXXXXX)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace --lib --bins --tests --locked 2>&1 | tee "$log" || status=$?
# A SKIPPED line may follow the harness's "test name ... " on the same line.
# (grep finds nothing in a clean run: its exit 1 must not end the script under pipefail.)
skipped=$({ grep -o 'SKIPPED: ' "$log" || true; } | wc -l)
echo "tests/run.sh: $skipped skipped (SKIPPED lines above)"
if [ "$skipped" -gt 0 ]; then
    grep -o 'SKIPPED: .*' "$log" | sed 's/^/  /'
    if [ "${DIALER_FAIL_ON_SKIP:-0}" = 1 ]; then
        echo "tests/run.sh: DIALER_FAIL_ON_SKIP=1: a test skipped; failing" >&2
        [ "$status" -ne 0 ] || status=1
    fi
fi
exit "$status"
