#!/bin/sh
# run-fuzz.sh TARGET SECONDS: build libFuzzer target TARGET in the meson build directory build-fuzz
# (set up on first use with CC=clang and -Dfuzz=true, meson_options.txt: -fsanitize=fuzzer,
# address,undefined) and run it for SECONDS on one core.
# TARGET: options | pipeline_json | multipart | engine | query | all (each target in turn, SECONDS each).
#   options, pipeline_json: the option grammar and /pipeline's JSON (pipelines/pl_params*.c, pl_plan_parse.c …)
#   query: common/qs_query.c, the query parsed once, and the URL signature over it (svc_auth.c)
#   multipart: service/svc_multipart.c, the request-body parser
#   engine: pl_probe + pl_run over arbitrary bytes with small limits and a 2 s deadline
# Seeds: tests/fuzz/corpus_TARGET (read-only) and, when present, the dictionary
# tests/fuzz/TARGET.dict; new inputs go to a scratch corpus build-fuzz/corpus_TARGET; crashes to
# build-fuzz/TARGET-crash-*: copy each into tests/fuzz/corpus_TARGET/crash-NAME so the unit
# suite replays it (tests/fuzz/meson.build).
# Bounded: -max_total_time=SECONDS, -timeout=10 per input, -rss_limit_mb=2048.
# LSan suppressions and UBSan options come from `meson devenv` (tests/meson.build).
set -eu
target=${1:?usage: run-fuzz.sh options|pipeline_json|multipart|engine|query|all SECONDS}
seconds=${2:-60}
root=$(cd "$(dirname "$0")/../.." && pwd)
out="$root/build-fuzz"

case "$target" in
all)
    status=0
    for t in options pipeline_json multipart engine query; do
        "$0" "$t" "$seconds" || status=1
    done
    exit $status
    ;;
options | pipeline_json | multipart | query) max_len=4096 ;;
engine) max_len=262144 ;;
*)
    echo "unknown target: $target (options, pipeline_json, multipart, engine, query, all)" >&2
    exit 2
    ;;
esac

# quiet unless something fails: then the whole output of the failing step
mkdir -p "$out"
quiet() {
    if ! "$@" > "$out/run-fuzz-step.log" 2>&1; then
        cat "$out/run-fuzz-step.log" >&2
        echo "run-fuzz.sh: failed: $*" >&2
        exit 1
    fi
}
if [ ! -f "$out/build.ninja" ]; then
    quiet env CC="${FUZZ_CC:-clang}" meson setup "$out" "$root" -Dfuzz=true
fi
quiet ninja -C "$out" "tests/fuzz/fuzz_$target"

dict=""
[ -f "$root/tests/fuzz/$target.dict" ] && dict="-dict=$root/tests/fuzz/$target.dict"
mkdir -p "$out/corpus_$target"
echo "== fuzz_$target for ${seconds}s"
ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 VIPS_WARNING=0 \
    meson devenv -C "$out" "$out/tests/fuzz/fuzz_$target" -max_total_time="$seconds" -max_len="$max_len" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 $dict -artifact_prefix="$out/$target-crash-" \
    "$out/corpus_$target" "$root/tests/fuzz/corpus_$target"
