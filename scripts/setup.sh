#!/usr/bin/env bash
# Installs everything the tests need that a fresh machine lacks, idempotently: the pinned Deno and
# the project's npm packages, and the native stack built from the Go module proxy. A component
# that cannot be installed stops this script with a non-zero exit naming it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

./scripts/deno --version >/dev/null
./scripts/deno install --frozen --quiet >/dev/null
bash scripts/install-stack.sh >/dev/null
# redis-server for the Redis budget store's tests (each test starts its own on a free port).
command -v redis-server >/dev/null || (apt-get update -qq && apt-get install -y -qq redis-server) >/dev/null
# PostgreSQL for the PostgreSQL ledger's tests (each starts its own cluster on a free port).
ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq postgresql) >/dev/null
# The benchmark's load tool and Portkey for `deno task bench --smoke` (tests/bench).
bash scripts/bench/install-tools.sh --ci >/dev/null
