#!/usr/bin/env bash
# What the caproto-shark tests and benchmark need besides the peers, installed when missing
# (called by scripts/install-peers.sh; safe to run on its own, idempotent):
#
#   tcpdump   Debian package: captures loopback traffic (apt-get, so needs root; without
#             root it only says what is missing)
#   strace    Debian package: tools_info checks that caproto-info makes no DNS query
#   tmux      Debian package: tests/shark_top.rs drives `caproto-shark --top` in a terminal
#   dpkt      into the caproto venv: caproto's own caproto-shark imports it
#
# Usage: scripts/install-capture-tools.sh [CAPROTO_BIN]   (default: $CAPROTO_PEER_BIN, or
#        target/peers/venv/bin)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CAPROTO_BIN="${1:-${CAPROTO_PEER_BIN:-${CAPROTO_PEERS_DIR:-$ROOT/target/peers}/venv/bin}}"
export PIP_ROOT_USER_ACTION=ignore

log() { printf 'install-capture-tools: %s\n' "$*" >&2; }

if ! command -v tcpdump >/dev/null 2>&1 && [[ ! -x /usr/sbin/tcpdump ]] && [[ ! -x /usr/bin/tcpdump ]]; then
    if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
        log "installing tcpdump (apt-get)"
        apt-get install -y tcpdump >/dev/null 2>&1 \
            || { apt-get update >/dev/null 2>&1 && apt-get install -y tcpdump >/dev/null; }
    else
        log "tcpdump is missing; install it (Debian: apt-get install -y tcpdump) for the capture tests"
    fi
fi

if ! command -v strace >/dev/null 2>&1; then
    if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
        log "installing strace (apt-get)"
        apt-get install -y strace >/dev/null 2>&1 \
            || { apt-get update >/dev/null 2>&1 && apt-get install -y strace >/dev/null; }
    else
        log "strace is missing; install it (Debian: apt-get install -y strace) for tools_info"
    fi
fi

if ! command -v tmux >/dev/null 2>&1; then
    if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
        log "installing tmux (apt-get)"
        apt-get install -y tmux >/dev/null 2>&1 \
            || { apt-get update >/dev/null 2>&1 && apt-get install -y tmux >/dev/null; }
    else
        log "tmux is missing; install it (Debian: apt-get install -y tmux) for shark_top"
    fi
fi

if [[ -x "$CAPROTO_BIN/python" ]]; then
    if ! "$CAPROTO_BIN/python" -c "import dpkt" >/dev/null 2>&1; then
        log "installing dpkt for caproto-shark into $CAPROTO_BIN"
        "$CAPROTO_BIN/python" -m pip install --quiet dpkt
    fi
else
    log "no caproto environment at $CAPROTO_BIN; skipped dpkt"
fi
