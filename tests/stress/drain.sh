#!/bin/sh
# drain.sh [LOAD_SECONDS] [DRAIN_TIMEOUT]: SIGTERM during load. A closed loop (2 x workers + 2 in
# flight) runs over the photos; after LOAD_SECONDS/2 the server gets SIGTERM. Passes when no
# request that reached the server fails (every answer is 200, or 503 for ones that arrived while
# draining; connections refused after the listeners closed are not accepted requests), and the
# process exits 0 within the drain deadline (default 15 s) + 2 s.
# Env: CORPUS, WORKLOAD (default resize?width=800&type=jpeg), WORKERS (2), OUT (build-stress/).
set -eu
. "$(dirname "$0")/lib.sh"
secs=${1:-20}
drain=${2:-15}
CORPUS=${CORPUS:-$root/tests/fixtures/photos}
WORKLOAD=${WORKLOAD:-resize?width=800&type=jpeg}
WORKERS=${WORKERS:-2}
OUT=${OUT:-$root/build-stress}
SERVER_ENV=${SERVER_ENV:-}
mkdir -p "$OUT"
start_server "$OUT/drain" --workers "$WORKERS" --drain-timeout "${drain}s" --access-log on
trap 'kill -KILL $SERVER_PID 2>/dev/null || true' EXIT
"$BENCH" --url "$URL" --corpus "$CORPUS" --do "$WORKLOAD" --concurrency $((WORKERS * 2 + 2)) --duration "$secs" --timeout 30 \
    --json "$OUT/drain.json" --quiet >/dev/null 2>&1 &
bench=$!
sleep $((secs / 2))
t0=$(date +%s.%N)
stop_server $((drain + 10))
t1=$(date +%s.%N)
trap - EXIT
wait $bench || true
inflight=$(sed -n 's/.*draining (\([0-9]*\) requests in flight.*/\1/p' "$OUT/drain.err" | head -1)
python3 - "$OUT/drain.json" "$OUT/drain.out" "$STOP_STATUS" "$t0" "$t1" "$drain" "$inflight" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
status, t0, t1, drain, inflight = sys.argv[3], float(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6]), sys.argv[7]
# the server's own access log: every request it accepted and its final status
acc = []
for l in open(sys.argv[2]):
    try:
        acc.append(json.loads(l))
    except Exception:
        pass
acc = [a for a in acc if "status" in a and a.get("route") not in ("health",)]
bad = [a for a in acc if a["status"] not in (200, 503)]
st = j.get("status", {})
took = t1 - t0
served200 = sum(1 for a in acc if a["status"] == 200)
# every 200 the server sent reached the client: no accepted request was cut off by the shutdown
delivered = st.get("200", 0) == served200
ok = status == "0" and took <= drain + 2 and not bad and delivered
print("drain: SIGTERM with %s in flight; exit %s after %.2f s (deadline %.0f s); server answered %d requests, %d not 200/503 %s; "
      "client saw %s (status 0 = connection refused after close); 200s sent %d, received %d" % (inflight, status, took, drain, len(acc),
      len(bad), [a["status"] for a in bad][:5], st, served200, st.get("200", 0)))
print("drain:", "PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
PY
