# lib.sh: helpers shared by the stress scripts (sourced, POSIX sh). Loopback only; every wait is
# bounded. Finds the server (IMGPIPE_BIN, else the newest build*/service/imgpipe) and the load
# generator (BENCH, else the newest build*/bench/imgpipe-bench), starts/stops the server, reads
# its RSS.
root=$(cd "$(dirname "$0")/../.." && pwd)

newest() { # newest existing file among the arguments
    best=""
    for f in "$@"; do
        [ -x "$f" ] || continue
        if [ -z "$best" ] || [ "$f" -nt "$best" ]; then best=$f; fi
    done
    echo "$best"
}

IMGPIPE_BIN=${IMGPIPE_BIN:-$(newest "$root"/build*/service/imgpipe)}
BENCH=${BENCH:-$(newest "$root"/build*/bench/imgpipe-bench)}
[ -x "$IMGPIPE_BIN" ] || { echo "no imgpipe binary: build first or set IMGPIPE_BIN" >&2; exit 2; }

free_port() {
    if [ -x "$BENCH" ]; then "$BENCH" --free-port; else python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; fi
}

# start_server LOGPREFIX ARGS...: sets PORT, URL, SERVER_PID; waits <= 15 s for /health.
# Extra environment for the server: SERVER_ENV (e.g. "LD_PRELOAD=... MALLOC_ARENA_MAX=2").
start_server() {
    log=$1
    shift
    PORT=$(free_port)
    URL="http://127.0.0.1:$PORT"
    # shellcheck disable=SC2086
    env $SERVER_ENV "$IMGPIPE_BIN" serve --listen "127.0.0.1:$PORT" "$@" >"$log.out" 2>"$log.err" &
    SERVER_PID=$!
    i=0
    while [ $i -lt 150 ]; do
        if curl -s -o /dev/null --max-time 1 "$URL/health"; then return 0; fi
        alive "$SERVER_PID" || { echo "server exited at startup, see $log.err" >&2; return 1; }
        sleep 0.1
        i=$((i + 1))
    done
    echo "server did not answer /health in 15 s" >&2
    return 1
}

# alive PID: running (a zombie, exited but not yet reaped, counts as gone)
alive() { [ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }

# stop_server [TIMEOUT_S]: SIGTERM, wait; sets STOP_STATUS to the exit status, or "killed" after
# the timeout. Call it in the shell that started the server (not in $(...)): it reaps the child.
stop_server() {
    t=${1:-20}
    STOP_STATUS=gone
    kill -TERM "$SERVER_PID" 2>/dev/null || return 0
    i=0
    while alive "$SERVER_PID" && [ $i -lt $((t * 10)) ]; do sleep 0.1; i=$((i + 1)); done
    if alive "$SERVER_PID"; then
        kill -KILL "$SERVER_PID"
        wait "$SERVER_PID" 2>/dev/null || true
        STOP_STATUS=killed
    else
        STOP_STATUS=0
        wait "$SERVER_PID" || STOP_STATUS=$?
    fi
    STOP_SECONDS=$(echo "$i" | awk '{print $1 / 10}')
}

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# json_get FILE KEY.PATH: a value from the bench's JSON
json_get() { python3 -c 'import json,sys
v=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."): v=v.get(k, 0) if isinstance(v, dict) else 0
print(v)' "$1" "$2"; }

# capacity WORKLOAD CORPUS SECONDS: images/s of a closed loop at 2 x workers in flight
capacity() {
    "$BENCH" --url "$URL" --corpus "$2" --do "$1" --concurrency "${CAP_CONCURRENCY:-4}" --duration "$3" --warmup 2 \
        --quiet --json "$OUT/capacity.json" >/dev/null
    json_get "$OUT/capacity.json" images_per_s
}
