#!/bin/sh
# disconnect-storm.sh [N] [ASAN_BIN]: N requests (default 1000) whose clients vanish at random
# points — mid-headers, mid-body, right after the body (queued or processing), while the answer
# is on its way; half close politely (FIN), half with a reset (SO_LINGER 0) — against an ASan +
# UBSan build (default build-asan/service/imgpipe: `make test-asan` builds it). 16 at a time.
# Passes when the server answers /health during and after, exits 0 on SIGTERM, and its stderr
# holds no AddressSanitizer/LeakSanitizer/UBSan report (LSan: tests/lsan.supp, as tests/meson.build sets it).
# Env: CORPUS (default tests/fixtures/photos), OUT (build-stress/). Bounded: every socket has a
# 5 s timeout; the storm stops after N requests or 300 s.
set -eu
n=${1:-1000}
IMGPIPE_BIN=${2:-${IMGPIPE_BIN:-$(cd "$(dirname "$0")/../.." && pwd)/build-asan/service/imgpipe}}
export IMGPIPE_BIN
. "$(dirname "$0")/lib.sh"
CORPUS=${CORPUS:-$root/tests/fixtures/photos}
OUT=${OUT:-$root/build-stress}
mkdir -p "$OUT"
SERVER_ENV="ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=86 LSAN_OPTIONS=suppressions=$root/tests/lsan.supp:print_suppressions=0 UBSAN_OPTIONS=print_stacktrace=1"
start_server "$OUT/storm" --workers 2 --queue 32 --access-log off
trap 'kill -KILL $SERVER_PID 2>/dev/null || true' EXIT
python3 - "$PORT" "$n" "$CORPUS" <<'PY'
import os, random, socket, struct, sys, threading, time, urllib.request
port, n, corpus = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
imgs = [open(os.path.join(corpus, f), "rb").read() for f in sorted(os.listdir(corpus))]
ops = ["resize?width=600", "transform?w=500&h=500&fit=cover&type=webp", "blur?sigma=3", "rotate?rotate=90", "info"]
random.seed(6)
counts = {}
lock = threading.Lock()
deadline = time.time() + 300

def one(i):
    body = imgs[i % len(imgs)]
    op = ops[i % len(ops)]
    head = ("POST /%s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n"
            % (op, len(body))).encode()
    point = random.choice(["mid-headers", "mid-body", "after-body", "queued", "processing", "mid-answer"])
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        if point == "mid-headers":
            s.sendall(head[: random.randint(1, len(head) - 1)])
        elif point == "mid-body":
            s.sendall(head + body[: random.randint(0, len(body) - 1)])
        else:
            s.sendall(head + body)
            if point == "queued":
                time.sleep(random.uniform(0, 0.02))
            elif point == "processing":
                time.sleep(random.uniform(0.02, 0.3))
            elif point == "mid-answer":
                s.recv(random.randint(1, 200))
        if random.random() < 0.5:  # reset instead of FIN
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        point += "(error)"
    finally:
        s.close()
    with lock:
        counts[point] = counts.get(point, 0) + 1

def worker(k):
    for i in range(k, n, 16):
        if time.time() > deadline:
            return
        one(i)
        if i % 100 == 0:
            urllib.request.urlopen("http://127.0.0.1:%d/health" % port, timeout=5).read()

ts = [threading.Thread(target=worker, args=(k,)) for k in range(16)]
[t.start() for t in ts]
[t.join() for t in ts]
print("storm: %d requests abandoned: %s" % (sum(counts.values()), dict(sorted(counts.items()))))
PY
sleep 2
health=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$URL/health" || true)
stop_server 60
trap - EXIT
reports=$(grep -c -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$OUT/storm.err" || true)
echo "storm: /health after: $health; exit $STOP_STATUS after ${STOP_SECONDS}s; sanitizer reports: $reports (stderr: $OUT/storm.err)"
if [ "$health" = 200 ] && [ "$STOP_STATUS" = 0 ] && [ "$reports" = 0 ]; then echo "storm: PASS"; else echo "storm: FAIL"; exit 1; fi
