#!/usr/bin/env bash
# The whole test suite: README's second command, and what .ci/run runs.
#
# Installs sipp (Debian package sip-tester) when it is missing and it can, then checks
# formatting and lints and runs every test. PostgreSQL tests run when
# DIALER_TEST_DATABASE_URL is set (.ci/run sets it when a server answers on 127.0.0.1:5432).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v sipp >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "tests/run.sh: installing sipp (sip-tester)" >&2
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq sip-tester >/dev/null
    else
        echo "tests/run.sh: sipp is missing and cannot be installed here; SIP interop tests will say so" >&2
    fi
fi

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --lib --bins --tests --locked
