#!/bin/sh
# run-fuzz.sh TARGET SECONDS: build a libFuzzer target of the option grammar with clang
# (-fsanitize=fuzzer,address,undefined, outside meson) and run it for SECONDS on one core.
# TARGET: options | pipeline_json | all. Seeds: tests/fuzz/corpus_TARGET (read-only) and the
# dictionary tests/fuzz/TARGET.dict (parameter and operation names); new inputs
# go to a scratch corpus under build-fuzz/; crashes to build-fuzz/TARGET-crash-* (keep each as a
# regression case in tests/options/test_options.c).
set -eu
target=${1:?usage: run-fuzz.sh options|pipeline_json|all SECONDS}
seconds=${2:-60}
root=$(cd "$(dirname "$0")/../.." && pwd)
out="$root/build-fuzz"
mkdir -p "$out"

if [ "$target" = all ]; then
    "$0" options "$seconds"
    exec "$0" pipeline_json "$seconds"
fi
case "$target" in options|pipeline_json) ;; *) echo "unknown target: $target" >&2; exit 2 ;; esac

clang -std=gnu11 -g -O1 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I"$root/pipelines" "$root/tests/fuzz/fuzz_$target.c" \
    "$root/pipelines/pl_options.c" "$root/pipelines/pl_pipeline_json.c" "$root/pipelines/pl_error.c" \
    $(pkg-config --cflags --libs vips jansson) -lm -o "$out/fuzz_$target"

mkdir -p "$out/corpus_$target"
cd "$out"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    "./fuzz_$target" -max_total_time="$seconds" -max_len=4096 -timeout=5 -rss_limit_mb=1024 -print_final_stats=1 \
    -dict="$root/tests/fuzz/$target.dict" \
    -artifact_prefix="$out/$target-crash-" "$out/corpus_$target" "$root/tests/fuzz/corpus_$target"
