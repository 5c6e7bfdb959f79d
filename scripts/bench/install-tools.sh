#!/usr/bin/env bash
# Installs the benchmark's load tools and contenders at pinned versions into a cache folder outside
# the work tree (a second run is a fast no-op), then prints `name=/absolute/path` lines.
#
# Usage: scripts/bench/install-tools.sh [--ci | --all]
#   --ci   vegeta and the Portkey gateway only: what the smoke bench (`deno task bench --smoke`)
#          uses; the other tools have fallbacks there. The default.
#   --all  also oha (cargo, a few minutes to compile) and wrk (apt-get, when run as root).
# Cache: $ICT_TOOLS_DIR, else ${XDG_CACHE_HOME:-$HOME/.cache}/inference-cost-tracker/tools.
# Trap: Portkey runs under Node from its own folder there, never from a node_modules/ in the project
# (that would switch Deno to manual npm resolution).
set -euo pipefail

VEGETA_VERSION=v12.13.0
OHA_VERSION=1.16.0
PORTKEY_VERSION=1.15.2

mode=ci
case "${1:-}" in
  "" | --ci) ;;
  --all) mode=all ;;
  *)
    echo "usage: $0 [--ci | --all]" >&2
    exit 2
    ;;
esac

tools="${ICT_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/inference-cost-tracker/tools}"
say() { echo "install-tools: $*" >&2; }
die() {
  say "ERROR: $*"
  exit 1
}

vegeta="$tools/vegeta-$VEGETA_VERSION/bin/vegeta"
if [[ ! -x $vegeta ]]; then
  command -v go >/dev/null || die "vegeta: go is needed (the native stack needs it too)"
  say "building vegeta $VEGETA_VERSION from the Go module proxy"
  GOBIN="$(dirname "$vegeta")" go install "github.com/tsenart/vegeta/v12@$VEGETA_VERSION" >&2 ||
    die "vegeta $VEGETA_VERSION did not build"
fi
echo "vegeta=$vegeta"

portkey_dir="$tools/portkey-gateway-$PORTKEY_VERSION"
portkey="$portkey_dir/node_modules/@portkey-ai/gateway/build/start-server.js"
if [[ ! -f $portkey ]]; then
  command -v npm >/dev/null || die "portkey: npm is needed"
  say "installing @portkey-ai/gateway@$PORTKEY_VERSION into $portkey_dir"
  mkdir -p "$portkey_dir"
  [[ -f $portkey_dir/package.json ]] || echo '{"private":true}' >"$portkey_dir/package.json"
  npm install --prefix "$portkey_dir" --no-audit --no-fund --loglevel=error --omit=dev \
    --ignore-scripts --save-exact "@portkey-ai/gateway@$PORTKEY_VERSION" >&2 ||
    die "@portkey-ai/gateway@$PORTKEY_VERSION did not install"
fi
echo "portkey=$portkey"

if [[ $mode == all ]]; then
  oha="$tools/oha-$OHA_VERSION/bin/oha"
  if [[ ! -x $oha ]]; then
    command -v cargo >/dev/null || die "oha: cargo is needed"
    say "building oha $OHA_VERSION from crates.io (a few minutes)"
    cargo install oha --version "$OHA_VERSION" --locked --root "$tools/oha-$OHA_VERSION" >&2 ||
      die "oha $OHA_VERSION did not build"
  fi
  echo "oha=$oha"
  if ! command -v wrk >/dev/null; then
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
      say "installing wrk with apt-get"
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >&2 || die "wrk did not install"
    else
      say "wrk is not installed (apt-get install wrk); max throughput falls back to vegeta"
    fi
  fi
fi
if command -v wrk >/dev/null; then echo "wrk=$(command -v wrk)"; fi
oha="$tools/oha-$OHA_VERSION/bin/oha"
if [[ $mode == ci && -x $oha ]]; then echo "oha=$oha"; fi
