#!/bin/sh
# Build the engine's libFuzzer target (clang, ASan + UBSan) and run it for a bounded time, seeded
# with the small fixtures. Usage: tests/engine/run-fuzz-engine.sh [SECONDS] (default 60).
# Crashers land in $OUT/crashes; keep each as a regression fixture.
set -eu
cd "$(dirname "$0")/../.."
SECS=${1:-60}
OUT=${OUT:-/tmp/imgpipe-fuzz-engine}
mkdir -p "$OUT/corpus" "$OUT/crashes"
clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Ipipelines -Icommon \
    $(pkg-config --cflags vips jansson libdeflate libturbojpeg) tests/engine/fuzz_engine.c pipelines/pl_*.c common/qs_query.c \
    $(pkg-config --libs vips jansson libdeflate libturbojpeg) -lm -o "$OUT/fuzz_engine"
for f in tests/fixtures/edge/pngsuite-* tests/fixtures/edge/tiny-* tests/fixtures/edge/*.gif \
    tests/fixtures/edge/looks-like-svg.webp tests/fixtures/edge/tall-* tests/fixtures/bad/*; do
    [ "$(wc -c < "$f")" -le 65536 ] && cp "$f" "$OUT/corpus/"
done
# third-party one-time allocations (fontconfig, x265) are not ours
export LSAN_OPTIONS="suppressions=$PWD/tests/engine/lsan.supp"
"$OUT/fuzz_engine" -max_len=65536 -max_total_time="$SECS" -rss_limit_mb=1536 -timeout=10 \
    -artifact_prefix="$OUT/crashes/" "$OUT/corpus"
