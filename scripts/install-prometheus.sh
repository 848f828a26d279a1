#!/usr/bin/env bash
# Install Prometheus and promtool for the metrics tests (tests/server_metrics.rs,
# tests/shark_metrics.rs): the Debian package `prometheus`. Only when missing, only with
# apt-get and as root; the tests start prometheus themselves in the foreground on a loopback
# port with a configuration and data directory of their own, so the package's system service
# is never used (and not started in containers whose policy-rc.d forbids it).
set -euo pipefail

log() { printf 'install-prometheus: %s\n' "$*" >&2; }

if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then
    log "prometheus and promtool present"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    log "apt-get not found; install the prometheus package by hand (the metrics tests skip without it)"
    exit 0
fi
if [[ "$(id -u)" != 0 ]]; then
    log "not root; run: sudo apt-get install -y --no-install-recommends prometheus"
    exit 0
fi
log "installing prometheus"
export DEBIAN_FRONTEND=noninteractive
# The package's postinst would start a system Prometheus listening on every interface
# (:9090) where no policy forbids it. The tests never use that service: forbid starting
# services for the length of the install, unless the machine already has a policy.
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\n# Written by scripts/install-prometheus.sh for the length of an install.\nexit 101\n' \
        >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get install -y --no-install-recommends prometheus >/dev/null \
    || { apt-get update >/dev/null && apt-get install -y --no-install-recommends prometheus >/dev/null; }
log "installed prometheus"
