#!/usr/bin/env bash
# Runs the whole test suite: unit tests, CLI tests, conformance gate, zoo golden tests (fast subset in CI),
# and the same under AddressSanitizer + UndefinedBehaviorSanitizer.
# Usage: scripts/test.sh [--no-asan] [--full-zoo]
set -euo pipefail
cd "$(dirname "$0")/.."
ASAN=1
ZOO=--fast
for a in "$@"; do
  case "$a" in
    --no-asan) ASAN=0 ;;
    --full-zoo) ZOO="" ;;
  esac
done

scripts/setup.sh
if [ -x scripts/gen_zoo.py ] || [ -f scripts/gen_zoo.py ]; then
  /usr/bin/python3 scripts/gen_zoo.py --out models/zoo $ZOO
fi
# The trained digits CNN of the quantization accuracy test (tests/quant/digits_accuracy_test.py); a few seconds.
/usr/bin/python3 scripts/gen_digits.py --out models/digits
ctest --test-dir build --output-on-failure -j 2

if [ "$ASAN" = 1 ]; then
  scripts/setup.sh --sanitize
  # The sanitizer build runs unit, CLI and conformance tests (zoo models are too slow under ASan).
  ASAN_OPTIONS=detect_leaks=1 ctest --test-dir build-asan --output-on-failure -j 2 -LE zoo
fi
