#!/usr/bin/env bash
# Builds the native stack from the Go module proxy at the versions pinned in stack/versions.env:
# Prometheus + promtool, Alertmanager + amtool, an OpenTelemetry Collector made by the Collector
# Builder from stack/otel-collector/builder.yaml, Jaeger v2, and the Docker Compose CLI (to run
# `docker compose config` on the compose files without an engine). Each lands in a cache folder
# outside the work tree keyed by version, so a second run is a fast no-op; a failed build exits 1.
#
# Usage: scripts/install-stack.sh [--print-paths] [prometheus|alertmanager|otelcol|jaeger|compose]
#   (no flag)      build what is missing (all components, or the ones named), then print the paths
#   --print-paths  build nothing; print the paths, exit 1 naming any component not built yet
# Stdout is `name=/absolute/path` lines (prometheus, promtool, alertmanager, amtool, otelcol, jaeger,
# docker-compose);
# progress and build times go to stderr. Cache: $ICT_STACK_CACHE, else
# ${XDG_CACHE_HOME:-$HOME/.cache}/inference-cost-tracker/stack.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${ICT_STACK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/inference-cost-tracker/stack}"

# The pins: a variable already in the environment wins over the file.
while IFS='=' read -r key value; do
  [[ $key =~ ^[A-Z][A-Z0-9_]*$ ]] || continue
  [[ -n ${!key:-} ]] || printf -v "$key" '%s' "$value"
done <"$root/stack/versions.env"

say() { echo "install-stack: $*" >&2; }
die() {
  say "ERROR: $*"
  exit 1
}

# Image version → Go module version (the mapping documented in stack/versions.env).
prometheus_module() {
  local major minor patch
  IFS=. read -r major minor patch <<<"$PROMETHEUS_VERSION"
  printf 'v0.%d%02d.%d' "$major" "$minor" "$patch"
}
jaeger_module() {
  local major minor patch
  IFS=. read -r major minor patch <<<"$JAEGER_VERSION"
  [[ $major == 2 ]] || die "JAEGER_VERSION must be a 2.x release, got $JAEGER_VERSION"
  printf 'v1.%d.%d' "$((63 + minor))" "$patch"
}

# The collector's folder is keyed by its release and by the manifest, so adding a component to
# builder.yaml builds a new collector instead of reusing one that lacks it.
render_manifest() {
  sed "s/\${OTELCOL_VERSION}/$OTELCOL_VERSION/g" "$root/stack/otel-collector/builder.yaml"
}
manifest_hash() { render_manifest | sha256sum | cut -c1-12; }
# Alertmanager's folder is keyed by the page built into it too, so editing the page rebuilds it.
module_ui="$root/scripts/stack/module-ui"
module_ui_hash() { cat "$module_ui"/alertmanager* | sha256sum | cut -c1-12; }

# Keyed by the discoveries built in, so adding one builds a new Prometheus.
dir_prometheus() { echo "$cache/prometheus-$PROMETHEUS_VERSION-sd-dns"; }
dir_alertmanager() { echo "$cache/alertmanager-$ALERTMANAGER_VERSION-$(module_ui_hash)"; }
dir_otelcol() { echo "$cache/otelcol-$OTELCOL_VERSION-$(manifest_hash)"; }
dir_jaeger() { echo "$cache/jaeger-$JAEGER_VERSION"; }
dir_compose() { echo "$cache/compose-$DOCKER_COMPOSE_VERSION"; }
bins_prometheus() { echo prometheus promtool; }
bins_alertmanager() { echo alertmanager amtool; }
bins_otelcol() { echo otelcol; }
bins_jaeger() { echo jaeger; }
bins_compose() { echo docker-compose; }

components=(prometheus alertmanager otelcol jaeger compose)

installed() {
  local component=$1 dir bin
  dir="$("dir_$component")"
  for bin in $("bins_$component"); do
    [[ -x "$dir/bin/$bin" ]] || return 1
  done
}

print_paths() {
  local component dir bin missing=()
  for component in "${components[@]}"; do
    if ! installed "$component"; then
      missing+=("$component")
      continue
    fi
    dir="$("dir_$component")"
    for bin in $("bins_$component"); do echo "$bin=$dir/bin/$bin"; done
  done
  if ((${#missing[@]})); then
    die "not built yet: ${missing[*]} (run scripts/install-stack.sh to build them into $cache)"
  fi
}

# `go mod download` puts a module's source in the read-only module cache and prints JSON; builds
# that must change or cannot `go install` a module work in a writable copy of that source.
copy_module() {
  local json dir
  json="$(cd "$cache" && go mod download -json "$1")" || die "go mod download $1 failed: $json"
  dir="$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' <<<"$json")"
  [[ -d $dir ]] || die "go mod download $1 gave no source folder: $json"
  cp -R "$dir/." "$2"
  chmod -R u+w "$2"
}

# Each build writes into $stage and prints nothing on stdout; install_component moves $stage into
# place only when the build succeeded, so a half-built folder never looks installed.
build_prometheus() {
  local stage=$1 version="github.com/prometheus/common/version"
  # remove_all_sd leaves static and file discovery; enable_dns_sd adds DNS, which finds the
  # replicas profile's app-1…3 (stack/prometheus). The cloud service discoveries would triple the
  # cold build on two cores.
  GOBIN="$stage/bin" go install -tags "remove_all_sd enable_dns_sd" -trimpath \
    -ldflags "-X $version.Version=$PROMETHEUS_VERSION -X $version.Branch=module" \
    "github.com/prometheus/prometheus/cmd/prometheus@$(prometheus_module)" \
    "github.com/prometheus/prometheus/cmd/promtool@$(prometheus_module)"
}

build_alertmanager() {
  # The module lacks the web UI's built assets that ui/web.go embeds (`//go:embed app/dist`), so
  # `go install` cannot compile it: build inside a writable copy whose ui/web.go is replaced by one
  # serving a page that says so and lists the API (scripts/stack/module-ui/).
  local stage=$1 version="github.com/prometheus/common/version"
  copy_module "github.com/prometheus/alertmanager@v$ALERTMANAGER_VERSION" "$stage/src"
  rm -f "$stage/src/ui/web_test.go"
  cp "$module_ui/alertmanager_web.go" "$stage/src/ui/web.go"
  cp "$module_ui/alertmanager.html" "$stage/src/ui/alertmanager.html"
  (cd "$stage/src" && go build -trimpath -o "$stage/bin/" \
    -ldflags "-X $version.Version=$ALERTMANAGER_VERSION -X $version.Branch=module" \
    ./cmd/alertmanager ./cmd/amtool)
}

build_otelcol() {
  local stage=$1 builder_dir="$cache/ocb-$OTELCOL_VERSION"
  if [[ ! -x "$builder_dir/builder" ]]; then
    GOBIN="$stage/ocb" go install -trimpath "go.opentelemetry.io/collector/cmd/builder@v$OTELCOL_VERSION"
    mkdir -p "$builder_dir"
    mv "$stage/ocb/builder" "$builder_dir/builder"
  fi
  render_manifest >"$stage/builder.yaml"
  # The builder writes generated sources and the binary to output_path.
  sed -i "s|^dist:$|dist:\n  output_path: $stage/src|" "$stage/builder.yaml"
  "$builder_dir/builder" --config "$stage/builder.yaml"
  mkdir -p "$stage/bin"
  mv "$stage/src/otelcol" "$stage/bin/otelcol"
  rm -rf "$stage/src" "$stage/ocb"
}

build_jaeger() {
  # The Jaeger module has replace directives, so `go install jaeger@v` refuses it: build inside a
  # writable copy of the module's source instead.
  local stage=$1
  copy_module "github.com/jaegertracing/jaeger@$(jaeger_module)" "$stage/src"
  (cd "$stage/src" && go build -trimpath -o "$stage/bin/jaeger" \
    -ldflags "-X github.com/jaegertracing/jaeger/internal/version.latestVersion=v$JAEGER_VERSION" \
    ./cmd/jaeger)
}

build_compose() {
  # Its go.mod has exclude directives, which `go install mod@v` refuses: build in a copy.
  local stage=$1 module="github.com/docker/compose/v5"
  copy_module "$module@v$DOCKER_COMPOSE_VERSION" "$stage/src"
  (cd "$stage/src" && go build -trimpath -o "$stage/bin/docker-compose" \
    -ldflags "-X $module/internal.Version=v$DOCKER_COMPOSE_VERSION" ./cmd)
}

install_component() {
  local component=$1 dir stage log started elapsed
  dir="$("dir_$component")"
  if installed "$component"; then
    say "$component: cached in $dir"
    return
  fi
  mkdir -p "$cache/logs"
  stage="$(mktemp -d "$cache/.building-$component.XXXXXX")"
  mkdir -p "$stage/bin" "$stage/src"
  log="$cache/logs/$(basename "$dir").log"
  say "$component: building into $dir (log: $log)"
  started=$(date +%s)
  if ! ("build_$component" "$stage") >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    rm -rf "$stage"
    die "$component: build failed after $(($(date +%s) - started)) s (full log: $log)"
  fi
  elapsed=$(($(date +%s) - started))
  rm -rf "$stage/src"
  rm -rf "$dir"
  mv "$stage" "$dir"
  installed "$component" || die "$component: build finished but binaries are missing in $dir"
  say "$component: built in $elapsed s"
  echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) $(basename "$dir") cold build ${elapsed}s" >>"$cache/build-times.log"
}

main() {
  local print_only=false selected=() component
  for arg in "$@"; do
    case "$arg" in
      --print-paths) print_only=true ;;
      prometheus | alertmanager | otelcol | jaeger | compose) selected+=("$arg") ;;
      -h | --help)
        sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
        return
        ;;
      *) die "unknown argument: $arg (try --help)" ;;
    esac
  done
  ((${#selected[@]})) || selected=("${components[@]}")

  if $print_only; then
    print_paths
    return
  fi

  command -v go >/dev/null || die "Go is needed to build the native stack (go 1.26 or later)"
  mkdir -p "$cache"
  # Two cores: keep the compiler to two jobs even when other work runs beside it.
  export GOMAXPROCS="${GOMAXPROCS:-2}"
  export GOFLAGS="-p=2 -buildvcs=false${GOFLAGS:+ $GOFLAGS}"

  # One installer at a time: parallel test files may all ask for the binaries.
  exec 9>"$cache/.lock"
  flock 9
  local started=$(date +%s)
  for component in "${selected[@]}"; do install_component "$component"; done
  say "done in $(($(date +%s) - started)) s"
  flock -u 9
  if ((${#selected[@]} == ${#components[@]})); then print_paths; fi
}

main "$@"
