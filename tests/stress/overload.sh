#!/bin/sh
# overload.sh [SECONDS] [FACTOR]: offered load at FACTOR x capacity (default 5) for SECONDS (default
# 60), open loop. Passes when the server does not crash and still answers /health, every answer is
# 200 or 503 (accepted requests succeed, the rest are refused), no request goes unanswered, the
# 503s come back quickly (p99 < 100 ms, measured by a side probe of one request every 50 ms), and
# the RSS peak stays under the memory budget + 256 MiB (binary, libraries, queued bodies).
# Env: CORPUS (default tests/fixtures/photos), WORKLOAD (default bench/workloads/mixed.txt),
#      WORKERS (2), QUEUE (8), BUDGET (memory budget, default 512MiB, when the server has the
#      setting), CAPACITY (images/s; default: measured, 10 s closed loop), OUT (build-stress/).
# Appends one line to $OUT/overload.tsv. Loopback only; stops by itself after SECONDS + ~40 s.
set -eu
. "$(dirname "$0")/lib.sh"
secs=${1:-60}
factor=${2:-5}
CORPUS=${CORPUS:-$root/tests/fixtures/photos}
WORKLOAD=${WORKLOAD:-$root/bench/workloads/mixed.txt}
WORKERS=${WORKERS:-2}
QUEUE=${QUEUE:-8}
BUDGET=${BUDGET:-512MiB}
OUT=${OUT:-$root/build-stress}
SERVER_ENV=${SERVER_ENV:-}
mkdir -p "$OUT"
[ -x "$BENCH" ] || { echo "overload.sh needs imgpipe-bench (meson compile builds it)" >&2; exit 2; }
budget_args=""
budget_mb=0
if "$IMGPIPE_BIN" serve --help 2>&1 | grep -q -- '--memory-budget'; then
    budget_args="--memory-budget $BUDGET"
    budget_mb=$(echo "$BUDGET" | awk '/GiB$/ {print $1 * 1024; next} /MiB$/ {print $1 + 0; next} {print int($1 / 1048576)}')
fi
# shellcheck disable=SC2086
start_server "$OUT/overload" --workers "$WORKERS" --queue "$QUEUE" --access-log off $budget_args
trap 'kill -KILL $SERVER_PID 2>/dev/null || true' EXIT
if [ -z "${CAPACITY:-}" ]; then
    CAPACITY=$(capacity "$WORKLOAD" "$CORPUS" 10)
fi
rate=$(python3 -c "print(round($factor * $CAPACITY, 1))")
echo "capacity $CAPACITY images/s -> offering $rate req/s for ${secs}s (workers $WORKERS, queue $QUEUE, budget ${budget_mb} MiB)"

# side probe: one request every 50 ms, status and time of each
probe_img=$(ls "$CORPUS" | head -1)
(
    end=$(($(date +%s) + secs))
    while [ "$(date +%s)" -lt "$end" ]; do
        curl -s -o /dev/null --max-time 30 -w '%{http_code} %{time_total}\n' --data-binary "@$CORPUS/$probe_img" \
            "$URL/resize?width=300" || true
        sleep 0.05
    done
) >"$OUT/overload-probe.txt" &
probe=$!
"$BENCH" --url "$URL" --corpus "$CORPUS" --do "$WORKLOAD" --rate "$rate" --duration "$secs" --server-pid "$SERVER_PID" \
    --max-inflight 1024 --timeout 30 --drain 30 --json "$OUT/overload.json" --quiet >/dev/null || true
wait $probe || true
alive_after=no
alive "$SERVER_PID" && alive_after=yes
health=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$URL/health" || true)
stop_server 30
trap - EXIT

python3 - "$OUT/overload.json" "$OUT/overload-probe.txt" "$alive_after" "$health" "$STOP_STATUS" "$budget_mb" "$rate" \
    "$CAPACITY" "$OUT/overload.tsv" <<'PY'
import json, sys, os
j = json.load(open(sys.argv[1]))
probe = [l.split() for l in open(sys.argv[2]) if l.strip()]
alive, health, status, budget_mb, rate, cap, tsv = sys.argv[3:10]
budget_mb = float(budget_mb)
st = j.get("status", {})
other = {k: v for k, v in st.items() if k not in ("200", "503")}
t503 = sorted(float(t) * 1000 for c, t in probe if c == "503")
t200 = sorted(float(t) * 1000 for c, t in probe if c == "200")
pct = lambda v, p: v[min(len(v) - 1, int(p * len(v)))] if v else 0
rss_peak = j.get("server", {}).get("rss_peak_kb", 0) / 1024
limit = (budget_mb + 256) if budget_mb else 0
checks = {
    "alive": alive == "yes" and health == "200",
    "only 200/503": not other and j.get("unfinished", 0) == 0,
    "503 fast (p99 < 100 ms)": pct(t503, 0.99) < 100,
    "rss under budget + 256 MiB": (rss_peak < limit) if limit else True,
    "exit 0": status == "0",
}
ok = all(checks.values())
print("overload at %s req/s (%s x capacity %s): %d requests, 200: %d, 503: %d, other: %s; server rss peak %.0f MB (limit %s); "
      "probe 503 latency p50 %.1f ms p99 %.1f ms max %.1f ms (%d), probe 200 p50 %.0f ms (%d); ok-latency p99 %.0f ms"
      % (rate, round(float(rate) / float(cap), 1), cap, j.get("requests", 0), st.get("200", 0), st.get("503", 0), other or "none",
         rss_peak, ("%.0f MB" % limit) if limit else "n/a", pct(t503, 0.5), pct(t503, 0.99), t503[-1] if t503 else 0, len(t503),
         pct(t200, 0.5), len(t200), j.get("latency_ms", {}).get("p99", 0)))
for k, v in checks.items():
    print("  %-28s %s" % (k, "ok" if v else "FAIL"))
new = not os.path.exists(tsv)
with open(tsv, "a") as f:
    if new:
        f.write("rate\tcapacity\trequests\tok200\tr503\tother\trss_peak_mb\tlimit_mb\tp50_503_ms\tp99_503_ms\tp99_ok_ms\texit\tresult\n")
    f.write("\t".join(map(str, [rate, cap, j.get("requests", 0), st.get("200", 0), st.get("503", 0), sum(other.values()),
        "%.0f" % rss_peak, limit, "%.1f" % pct(t503, 0.5), "%.1f" % pct(t503, 0.99),
        "%.0f" % j.get("latency_ms", {}).get("p99", 0), status, "PASS" if ok else "FAIL"])) + "\n")
sys.exit(0 if ok else 1)
PY
