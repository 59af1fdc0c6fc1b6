#!/bin/sh
# soak.sh [MINUTES] [ALLOCATOR]: N minutes (default 10) at ~80 % of capacity over a photo folder,
# with one allocator: glibc | arena2 (MALLOC_ARENA_MAX=2) | jemalloc (libjemalloc2, LD_PRELOAD) |
# mimalloc (libmimalloc2.0, LD_PRELOAD). Passes when there are no errors and RSS grows < 10 %
# from the first minute after the warm-up (first 20 % of the run, at least 1 min) to the last
# minute (means over each minute: single samples swing by 100 MB with jemalloc/mimalloc).
# Env: CORPUS (default tests/fixtures/photos), WORKLOAD (default bench/workloads/mixed.txt),
#      RATE (req/s; default 0.8 x a 15 s capacity measurement), WORKERS (default 2),
#      OUT (results folder, default build-stress/), SERVER_ARGS (extra serve flags).
# Appends one line to $OUT/soak.tsv. Loopback only; stops by itself after MINUTES + ~40 s.
set -eu
. "$(dirname "$0")/lib.sh"
minutes=${1:-10}
alloc=${2:-glibc}
CORPUS=${CORPUS:-$root/tests/fixtures/photos}
WORKLOAD=${WORKLOAD:-$root/bench/workloads/mixed.txt}
WORKERS=${WORKERS:-2}
OUT=${OUT:-$root/build-stress}
mkdir -p "$OUT"
[ -x "$BENCH" ] || { echo "soak.sh needs imgpipe-bench (meson compile builds it)" >&2; exit 2; }
case "$alloc" in
glibc) SERVER_ENV="" ;;
arena2) SERVER_ENV="MALLOC_ARENA_MAX=2" ;;
jemalloc) SERVER_ENV="LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2" ;;
mimalloc) SERVER_ENV="LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libmimalloc.so.2" ;;
*) echo "allocator: glibc | arena2 | jemalloc | mimalloc" >&2; exit 2 ;;
esac
case "$SERVER_ENV" in LD_PRELOAD=*) [ -f "${SERVER_ENV#LD_PRELOAD=}" ] || { echo "missing ${SERVER_ENV#LD_PRELOAD=}: apt-get install libjemalloc2 libmimalloc2.0" >&2; exit 2; } ;; esac

# shellcheck disable=SC2086
start_server "$OUT/soak-$alloc" --workers "$WORKERS" --access-log off ${SERVER_ARGS:-}
trap 'kill -KILL $SERVER_PID 2>/dev/null || true' EXIT
if [ -z "${RATE:-}" ]; then
    cap=$(capacity "$WORKLOAD" "$CORPUS" 15)
    RATE=$(python3 -c "print(round(0.8 * $cap, 2))")
    echo "capacity $cap images/s -> soak at $RATE req/s"
fi
secs=${DURATION_S:-$((minutes * 60))}
"$BENCH" --url "$URL" --corpus "$CORPUS" --do "$WORKLOAD" --rate "$RATE" --duration "$secs" --server-pid "$SERVER_PID" \
    --sample-interval 1 --json "$OUT/soak-$alloc.json" --samples "$OUT/soak-$alloc.samples" --quiet --drain 20 >/dev/null
stop_server 30
status=$STOP_STATUS
trap - EXIT

python3 - "$OUT/soak-$alloc.json" "$OUT/soak-$alloc.samples" "$alloc" "$RATE" "$minutes" "$status" "$OUT/soak.tsv" <<'PY'
import json, sys, os
j = json.load(open(sys.argv[1]))
samples = [tuple(map(float, l.split())) for l in open(sys.argv[2]) if l.strip() and not l.startswith('#')]
alloc, rate, minutes, status, tsv = sys.argv[3], float(sys.argv[4]), sys.argv[5], sys.argv[6], sys.argv[7]
total = samples[-1][0] if samples else 0
warm = min(max(60.0, 0.2 * total), 0.5 * total)
mean = lambda v: sum(v) / len(v) if v else 0
rss_warm = mean([s[1] for s in samples if warm <= s[0] < warm + 60])
rss_end = mean([s[1] for s in samples if s[0] >= total - 60])
rss_max = max(s[1] for s in samples) if samples else 0
growth = 100.0 * (rss_end - rss_warm) / rss_warm if rss_warm else 0
errors = j.get("errors", 0) + j.get("unfinished", 0)
lat = j.get("latency_ms", {})
ok = errors == 0 and growth < 10.0 and status == "0"
line = [alloc, minutes, rate, j.get("requests", 0), errors, "%.1f" % j.get("images_per_s", 0), "%.0f" % lat.get("p50", 0),
        "%.0f" % lat.get("p99", 0), "%.1f" % (rss_warm / 1024), "%.1f" % (rss_end / 1024), "%.1f" % (rss_max / 1024),
        "%+.1f" % growth, "%.1f" % j.get("server", {}).get("cpu_ms_per_image", 0), status, "PASS" if ok else "FAIL"]
new = not os.path.exists(tsv)
with open(tsv, "a") as f:
    if new:
        f.write("allocator\tminutes\trate\trequests\terrors\timages_s\tp50_ms\tp99_ms\trss_warm_mb\trss_end_mb\trss_max_mb\tgrowth_pct\tcpu_ms_img\texit\tresult\n")
    f.write("\t".join(map(str, line)) + "\n")
print("soak %s: %s requests, %d errors, %.1f images/s, p50 %.0f ms p99 %.0f ms, RSS after warm-up %.1f MB -> end %.1f MB (max %.1f MB, %+.1f %%), exit %s: %s"
      % (alloc, j.get("requests", 0), errors, j.get("images_per_s", 0), lat.get("p50", 0), lat.get("p99", 0), rss_warm / 1024,
         rss_end / 1024, rss_max / 1024, growth, status, "PASS" if ok else "FAIL"))
sys.exit(0 if ok else 1)
PY
