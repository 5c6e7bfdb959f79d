#!/usr/bin/env bash
# Installs everything the tests need that a fresh machine lacks, idempotently: the pinned Deno and
# the project's npm packages, the native stack built from the Go module proxy, the system packages
# the tests start (Redis, PostgreSQL, Chromium; Debian's apt, as root) and the benchmark's tools.
# A component that cannot be installed stops this script with a non-zero exit naming it and what to
# run instead. A second run installs nothing and takes a few seconds.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { echo "setup: $*" >&2; }

./scripts/deno --version >/dev/null
./scripts/deno install --frozen --quiet >/dev/null
bash scripts/install-stack.sh >/dev/null

# Debian packages, each "package:why"; only the missing ones are installed, with one apt-get update.
system_packages=(
  "redis-server:the Redis budget store's tests start their own redis-server"
  "postgresql:the PostgreSQL ledger's tests start their own server as its postgres user"
  "chromium:the page tests drive a headless Chromium"
  "nginx:the replicas' end-to-end test runs nginx as their load balancer, with its own config"
)
missing=()
for entry in "${system_packages[@]}"; do
  package=${entry%%:*}
  status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
  [[ $status == "install ok installed" ]] || missing+=("$package")
done
if ((${#missing[@]})); then
  for entry in "${system_packages[@]}"; do
    [[ " ${missing[*]} " == *" ${entry%%:*} "* ]] && say "missing ${entry%%:*}: ${entry#*:}"
  done
  if ! command -v apt-get >/dev/null; then
    say "ERROR: no apt-get here: install ${missing[*]} with this system's package manager"
    exit 1
  fi
  if [[ $(id -u) -ne 0 ]]; then
    say "ERROR: installing ${missing[*]} needs root: run"
    say "  sudo apt-get update && sudo apt-get install -y ${missing[*]}"
    say "then run this again"
    exit 1
  fi
  say "installing ${missing[*]} with apt-get"
  log=$(mktemp -t ict-setup-apt.XXXXXX)
  if ! (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    --no-install-recommends "${missing[@]}") >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    say "ERROR: apt-get could not install ${missing[*]} (full log: $log)"
    exit 1
  fi
  rm -f "$log"
fi

# The benchmark's load tool and Portkey for `deno task bench --smoke` (tests/bench).
bash scripts/bench/install-tools.sh --ci >/dev/null
