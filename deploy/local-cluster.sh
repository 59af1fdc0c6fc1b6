#!/bin/bash
# local-cluster.sh: scale-out rehearsal on one machine. Starts 3 `imgpipe serve` instances on free
# 127.0.0.1 ports behind HAProxy (deploy/haproxy/haproxy.cfg, Debian's haproxy package), sends a
# bounded load of image requests through it from a few parallel curl clients, kills one
# instance mid-run (SIGKILL: a crash; or SIGTERM: a rolling restart, which must drain and exit 0),
# and checks that
#   - every request got a 200 (in-flight failures on the stopped instance were retried elsewhere),
#   - the stopped instance had been serving before, and served nothing after it stopped,
#   - the other instances took the rest of the load, and HAProxy marked the victim DOWN;
#   - with HAProxy's cache on (IMGPIPE_LB_CACHE), a second identical GET (file= from the
#     instances' mount, http-cache-ttl 60) is answered by HAProxy without reaching an instance.
# Prints one "PASS: …" / "FAIL: …" line per check and a per-instance table; exit 0 when all pass,
# 1 when one fails, 77 when haproxy or curl is missing (meson's skip code).
#
# Usage: deploy/local-cluster.sh [-n REQUESTS] [-c CLIENTS] [-s KILL|TERM] [-b IMGPIPE_BIN] [-i IMAGE] [-k]
#   -n requests in all (default 150)   -c parallel clients (default 4)
#   -s the signal sent to the victim (default KILL)
#   -b the imgpipe binary (default $IMGPIPE_BIN, else build/service/imgpipe)
#   -i the image to POST (default tests/fixtures/photos/FreshFlower-1600x1203.jpg; keep it under
#      HAProxy's tune.bufsize, 256 KiB, or in-flight retries cannot happen)
#   -k keep the temporary directory (logs) for a look afterwards
# Everything is bounded: each request 10 s, the whole load 60 s, each wait 10 s. Loopback only.
# shellcheck disable=SC2317 # functions called through trap and wait_for
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
requests=150
clients=4
bin=${IMGPIPE_BIN:-$root/build/service/imgpipe}
image=$root/tests/fixtures/photos/FreshFlower-1600x1203.jpg
keep=0
op='resize?width=200&type=jpeg'
load_budget=60

signal=KILL
while getopts "n:c:s:b:i:kh" o; do
    case $o in
    n) requests=$OPTARG ;;
    c) clients=$OPTARG ;;
    s) signal=$OPTARG ;;
    b) bin=$OPTARG ;;
    i) image=$OPTARG ;;
    k) keep=1 ;;
    *) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
    esac
done
case $signal in
KILL | TERM) ;;
*) echo "-s $signal: use KILL (a crash) or TERM (a graceful stop)"; exit 2 ;;
esac

for tool in haproxy curl python3; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "SKIP: $tool is not installed (apt-get install $tool)"
        exit 77
    fi
done
if [ ! -x "$bin" ]; then
    echo "FAIL: imgpipe binary '$bin' not found: build it (meson compile -C build) or pass -b PATH"
    exit 1
fi
if [ ! -r "$image" ]; then
    echo "FAIL: image '$image' not readable: pass -i FILE"
    exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/imgpipe-cluster.XXXXXX")
pids=()
haproxy_pid=""
cleanup() {
    local p
    for p in "${pids[@]}" $haproxy_pid; do
        [ -n "$p" ] && kill "$p" 2>/dev/null
    done
    for p in "${pids[@]}" $haproxy_pid; do
        [ -n "$p" ] && wait "$p" 2>/dev/null
    done
    if [ "$keep" = 1 ]; then
        echo "logs kept in $tmp"
    else
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

failures=0
pass() { echo "PASS: $*"; }
fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

# Five free loopback ports, held together while chosen so they differ.
read -r p1 p2 p3 plb pstats < <(python3 -c '
import socket
ss = [socket.socket() for _ in range(5)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])
for s in ss: s.close()')
ports=("$p1" "$p2" "$p3")

# wait_for CMD...: retry a check every 0.1 s for at most 10 s.
wait_for() {
    local i
    for ((i = 0; i < 100; i++)); do
        "$@" && return 0
        sleep 0.1
    done
    return 1
}
http_code() { curl -s -o /dev/null -m 2 -w '%{http_code}' "$1"; }
ready() { [ "$(http_code "http://127.0.0.1:$1/ready")" = 200 ]; }

mkdir -p "$tmp/mount"
cp "$image" "$tmp/mount/image.jpg"
for i in 0 1 2; do
    "$bin" serve --listen "127.0.0.1:${ports[$i]}" --workers 1 --queue 16 --access-log off \
        --mount "$tmp/mount" --http-cache-ttl 60 \
        >"$tmp/imgpipe$((i + 1)).log" 2>&1 &
    pids+=($!)
done
for i in 0 1 2; do
    if ! wait_for ready "${ports[$i]}"; then
        fail "imgpipe$((i + 1)) on 127.0.0.1:${ports[$i]} did not become ready in 10 s; its log:"
        sed 's/^/    /' "$tmp/imgpipe$((i + 1)).log" | head -20
        exit 1
    fi
done

export IMGPIPE_LB_BIND=127.0.0.1:$plb IMGPIPE_LB_STATS=127.0.0.1:$pstats
export IMGPIPE_S1=127.0.0.1:$p1 IMGPIPE_S2=127.0.0.1:$p2 IMGPIPE_S3=127.0.0.1:$p3
export IMGPIPE_LB_CACHE=1
haproxy -db -f "$here/haproxy/haproxy.cfg" >"$tmp/haproxy.log" 2>&1 &
haproxy_pid=$!

# stats FIELD SERVER: one column of HAProxy's CSV stats for a server of backend imgpipe.
stats() {
    curl -s -m 2 "http://127.0.0.1:$pstats/stats;csv" | awk -F, -v field="$1" -v sv="$2" '
        NR == 1 { sub(/^# /, ""); for (i = 1; i <= NF; i++) col[$i] = i; next }
        $1 == "imgpipe" && $2 == sv { print $col[field] }'
}
all_up() { [ "$(stats status imgpipe1)$(stats status imgpipe2)$(stats status imgpipe3)" = UPUPUP ]; }
if ! wait_for all_up; then
    fail "HAProxy did not report the 3 instances UP in 10 s; its log:"
    sed 's/^/    /' "$tmp/haproxy.log" | head -20
    exit 1
fi

# The load: clients × (requests/clients) sequential POSTs, each line of codes.N one response.
per_client=$(((requests + clients - 1) / clients))
total=$((per_client * clients))
start=$(date +%s)
client() {
    local n=$1 k
    for ((k = 0; k < per_client; k++)); do
        if (($(date +%s) - start >= load_budget)); then
            echo "budget" >>"$tmp/codes.$n"
            continue
        fi
        curl -s -o /dev/null -m 10 -w '%{http_code}\n' -H 'Content-Type: image/jpeg' --data-binary "@$image" \
            "http://127.0.0.1:$plb/$op" >>"$tmp/codes.$n" || true
    done
}
client_pids=()
for ((c = 0; c < clients; c++)); do
    : >"$tmp/codes.$c"
    client "$c" &
    client_pids+=($!)
done
done_count() { cat "$tmp"/codes.* 2>/dev/null | wc -l; }

# Kill imgpipe2 once a third of the load is done.
victim=imgpipe2
for ((i = 0; i < 600; i++)); do
    (($(done_count) >= total / 3)) && break
    sleep 0.1
done
kill "-$signal" "${pids[1]}" 2>/dev/null
# SIGTERM: in-flight requests finish, then exit 0, within the drain timeout (15 s); wait 20 s.
for ((i = 0; i < 200; i++)); do
    kill -0 "${pids[1]}" 2>/dev/null || break
    sleep 0.1
done
if kill -0 "${pids[1]}" 2>/dev/null; then
    fail "$victim still running 20 s after SIG$signal"
    kill -KILL "${pids[1]}" 2>/dev/null
fi
wait "${pids[1]}" 2>/dev/null
victim_exit=$?
pids[1]=""
# Counted once the victim is dead, so its figure is final and nothing it sent lands "after".
declare -A before after
for s in imgpipe1 imgpipe2 imgpipe3; do before[$s]=$(stats hrsp_2xx $s); done
killed_at=$(done_count)
echo "stopped $victim (SIG$signal, exit status $victim_exit) after $killed_at of $total responses"

for p in "${client_pids[@]}"; do wait "$p"; done
elapsed=$(($(date +%s) - start))
sleep 2.5 # let the health checks (inter 1s, fall 2) mark the victim down
for s in imgpipe1 imgpipe2 imgpipe3; do after[$s]=$(stats hrsp_2xx $s); done
victim_status=$(stats status $victim)
retries=$(curl -s -m 2 "http://127.0.0.1:$pstats/stats;csv" | awk -F, '
    NR == 1 { sub(/^# /, ""); for (i = 1; i <= NF; i++) col[$i] = i; next }
    $1 == "imgpipe" && $2 == "BACKEND" { print $col["wretr"] " retries, " $col["wredis"] " redispatches" }')

echo "instance  2xx before stop  2xx after stop"
for s in imgpipe1 imgpipe2 imgpipe3; do
    printf '%-9s %15s %15s\n' "$s" "${before[$s]:-?}" "$(((${after[$s]:-0}) - (${before[$s]:-0})))"
done
echo "haproxy backend: $retries; load took ${elapsed}s"

answered=$(done_count)
ok200=$(cat "$tmp"/codes.* | grep -c '^200$')
if [ "$answered" -eq "$total" ] && [ "$ok200" -eq "$total" ]; then
    pass "all $total requests through HAProxy answered 200 although $victim was stopped (SIG$signal) mid-run"
else
    fail "$ok200 of $total requests answered 200 (responses: $(cat "$tmp"/codes.* | sort | uniq -c | tr -s ' \n' ' '))"
fi
if [ "${before[$victim]:-0}" -gt 0 ]; then
    pass "$victim served ${before[$victim]} requests before it was stopped"
else
    fail "$victim served nothing before it was stopped: the load was not balanced"
fi
if [ "$((${after[$victim]:-0} - ${before[$victim]:-0}))" -eq 0 ]; then
    pass "$victim served nothing after it stopped"
else
    fail "$victim answered after it stopped?"
fi
# Responses in flight around the kill may be counted on either side: allow one per client.
moved=$(((${after[imgpipe1]:-0} - ${before[imgpipe1]:-0}) + (${after[imgpipe3]:-0} - ${before[imgpipe3]:-0})))
want=$((total - killed_at - clients))
if [ "$moved" -ge "$want" ] && [ "$((${after[imgpipe1]:-0} - ${before[imgpipe1]:-0}))" -gt 0 ] &&
    [ "$((${after[imgpipe3]:-0} - ${before[imgpipe3]:-0}))" -gt 0 ]; then
    pass "the load moved to imgpipe1 and imgpipe3 ($moved requests after the stop)"
else
    fail "imgpipe1 and imgpipe3 served $moved requests after the stop, expected at least $want, both > 0"
fi
if [ "$signal" = TERM ]; then
    if [ "$victim_exit" -eq 0 ]; then
        pass "$victim drained and exited 0 after SIGTERM"
    else
        fail "$victim exited $victim_exit after SIGTERM, expected 0"
    fi
fi
if [ "$victim_status" = DOWN ]; then
    pass "HAProxy marked $victim DOWN"
else
    fail "HAProxy reports $victim as '$victim_status', expected DOWN"
fi

# The cache tier: the same GET twice; the second must not reach an instance.
served() { echo $(($(stats hrsp_2xx imgpipe1) + $(stats hrsp_2xx imgpipe3))); }
cache_get() { curl -s -o /dev/null -m 10 -D - "http://127.0.0.1:$plb/resize?width=120&file=image.jpg" | tr -d '\r'; }
first=$(cache_get)
served1=$(served)
second=$(cache_get)
served2=$(served)
if echo "$first" | grep -q '^HTTP/1.1 200' && echo "$first" | grep -qi '^x-cache-status: MISS' &&
    echo "$first" | grep -qi '^cache-control: public, s-maxage=60'; then
    pass "first GET ?file= through HAProxy: 200 from an instance (MISS) with Cache-Control max-age 60"
else
    fail "first GET ?file= through HAProxy: expected 200, X-Cache-Status: MISS and Cache-Control; got: $(echo "$first" | head -12 | tr '\n' ' ')"
fi
if echo "$second" | grep -q '^HTTP/1.1 200' && echo "$second" | grep -qi '^x-cache-status: HIT' && [ "$served1" = "$served2" ]; then
    pass "second identical GET answered by HAProxy's cache (HIT), no instance reached (2xx count stays $served2)"
else
    fail "second GET: expected 200 X-Cache-Status: HIT with the instances' 2xx count unchanged ($served1 -> $served2); got: $(echo "$second" | head -12 | tr '\n' ' ')"
fi

if [ "$failures" -gt 0 ]; then
    echo "imgpipe and haproxy logs: rerun with -k to keep them"
    exit 1
fi
exit 0
