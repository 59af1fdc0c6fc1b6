#!/bin/sh
# run-fuzz.sh TARGET SECONDS: build a libFuzzer target with clang (-fsanitize=fuzzer,address,
# undefined, outside meson) and run it for SECONDS on one core.
# TARGET: options | pipeline_json | multipart | engine | query | all (each target in turn, SECONDS each).
#   options, pipeline_json: the option grammar and /pipeline's JSON (pipelines/pl_options.c …)
#   query: common/qs_query.c, the query parsed once, and the URL signature over it (svc_auth.c)
#   multipart: service/svc_multipart.c, the request-body parser
#   engine: pl_probe + pl_run over arbitrary bytes with small limits and a 2 s deadline
# Seeds: tests/fuzz/corpus_TARGET (read-only) and, when present, the dictionary
# tests/fuzz/TARGET.dict; new inputs go to a scratch corpus under build-fuzz/; crashes to
# build-fuzz/TARGET-crash-*: copy each into tests/fuzz/corpus_TARGET/crash-NAME so the unit
# suite replays it (tests/fuzz/meson.build).
# Bounded: -max_total_time=SECONDS, -timeout=10 per input, -rss_limit_mb=2048.
set -eu
target=${1:?usage: run-fuzz.sh options|pipeline_json|multipart|engine|query|all SECONDS}
seconds=${2:-60}
root=$(cd "$(dirname "$0")/../.." && pwd)
out="$root/build-fuzz"
mkdir -p "$out"

if [ "$target" = all ]; then
    status=0
    for t in options pipeline_json multipart engine query; do
        "$0" "$t" "$seconds" || status=1
    done
    exit $status
fi

CC="clang -std=gnu11 -g -O1 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"
max_len=4096
case "$target" in
options | pipeline_json)
    $CC -I"$root/pipelines" -I"$root/common" "$root/tests/fuzz/fuzz_$target.c" \
        "$root/pipelines/pl_options.c" "$root/pipelines/pl_pipeline_json.c" "$root/pipelines/pl_error.c" \
        "$root/common/qs_query.c" $(pkg-config --cflags --libs vips jansson) -lm -o "$out/fuzz_$target"
    ;;
multipart)
    $CC -I"$root/service" "$root/tests/fuzz/fuzz_multipart.c" "$root/service/svc_multipart.c" -o "$out/fuzz_$target"
    ;;
engine)
    # the whole engine; -DH2O_USE_LIBUV=0 as meson.build (pipelines never include h2o, harmless)
    # (libdeflate: the PNG fast path, pl_png.c; libturbojpeg: JPEG at m/8, pl_jpeg_scaled.c)
    $CC -DIMGPIPE_VERSION='"fuzz"' -I"$root/pipelines" -I"$root/common" "$root/tests/fuzz/fuzz_engine.c" \
        "$root"/pipelines/pl_*.c "$root/common/qs_query.c" \
        $(pkg-config --cflags --libs vips jansson libdeflate libturbojpeg) -lm -o "$out/fuzz_$target"
    max_len=262144
    ;;
query)
    $CC -I"$root/common" -I"$root/service" "$root/tests/fuzz/fuzz_query.c" "$root/common/qs_query.c" \
        "$root/service/svc_auth.c" $(pkg-config --cflags --libs libcrypto) -o "$out/fuzz_$target"
    ;;
*)
    echo "unknown target: $target (options, pipeline_json, multipart, engine, query, all)" >&2
    exit 2
    ;;
esac

dict=""
[ -f "$root/tests/fuzz/$target.dict" ] && dict="-dict=$root/tests/fuzz/$target.dict"
mkdir -p "$out/corpus_$target"
cd "$out"
echo "== fuzz_$target for ${seconds}s"
# LSan: one-time allocations inside third-party libraries libvips loads are not ours
ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
    LSAN_OPTIONS="suppressions=$root/tests/engine/lsan.supp:print_suppressions=0" \
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 VIPS_WARNING=0 \
    "./fuzz_$target" -max_total_time="$seconds" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 $dict -artifact_prefix="$out/$target-crash-" \
    "$out/corpus_$target" "$root/tests/fuzz/corpus_$target"
