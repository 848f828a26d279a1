#!/usr/bin/env bash
# Install the log collector the shipping tests run against (tests/logging_ship.rs): syslog-ng
# from Debian, plus logrotate. Only when missing, only with apt-get and as root; the tests
# start syslog-ng themselves in the foreground with a configuration of their own on loopback
# ports, so the package's system service is never used (and not started in containers whose
# policy-rc.d forbids it).
set -euo pipefail

log() { printf 'install-collector: %s\n' "$*" >&2; }

need=()
command -v syslog-ng >/dev/null 2>&1 || [[ -x /usr/sbin/syslog-ng ]] || need+=(syslog-ng-core)
command -v logrotate >/dev/null 2>&1 || [[ -x /usr/sbin/logrotate ]] || need+=(logrotate)
if [[ ${#need[@]} -eq 0 ]]; then
    log "syslog-ng and logrotate present"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    log "apt-get not found; install ${need[*]} by hand (the shipping tests skip without them)"
    exit 0
fi
if [[ "$(id -u)" != 0 ]]; then
    log "not root; run: sudo apt-get install -y --no-install-recommends ${need[*]}"
    exit 0
fi
log "installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends "${need[@]}" >/dev/null \
    || { apt-get update >/dev/null && apt-get install -y --no-install-recommends "${need[@]}" >/dev/null; }
log "installed ${need[*]}"
