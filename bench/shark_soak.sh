#!/bin/sh
# caproto-shark's decoder around the clock: the generator of tests/shark_soak.rs streams
# N short circuits (default 1 000 000: 24 million CA messages, 1000 s of capture time) through
# one decoder in a release build and checks that resident memory at the end is within 10% of
# what it was after the first fifth (the warm-up). The CI run of the same test uses 100 000.
#
# Usage: bench/shark_soak.sh [CIRCUITS]
set -eu
cd "$(dirname "$0")/.."
SHARK_SOAK_CIRCUITS="${1:-1000000}" \
    cargo test --release --test shark_soak -- --nocapture 2>&1 | grep -E 'RSS|test result|panicked'
