#!/bin/bash
# isolation.sh: what worker processes cost, measured in paired rounds. Two servers run side by
# side, one with --isolation process (the default) and one with --isolation thread; each round
# loads one then the other (the order alternates) with the same workload and closed-loop
# concurrency, and prints process ÷ thread for images/s, CPU-ms per image and peak RSS (server
# plus its worker processes). The summary is the median over the rounds.
#
# usage: bench/isolation.sh --corpus DIR [--workload NAME|FILE] [--rounds 5] [--duration 8]
#                           [--concurrency C] [--build DIR]
# --corpus: the inputs, e.g. the folder run.sh picked (bench/results/<run>/corpus). Loopback only.
set -euo pipefail

# shellcheck disable=SC2034
name=isolation.sh help_lines=2,10 # read by paired_opts.sh
# shellcheck source-path=SCRIPTDIR source=paired_opts.sh
source "$(dirname "$0")/paired_opts.sh" "$@"

tmp=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$tmp"' EXIT
declare -A port pid
for mode in process thread; do
    port[$mode]=$("$bench" --free-port)
    "$imgpipe" serve --listen "127.0.0.1:${port[$mode]}" --isolation "$mode" --access-log off >"$tmp/$mode.log" 2>&1 &
    pid[$mode]=$!
    pids+=("$!")
    for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:${port[$mode]}/health" && break; sleep 0.1; done
done

field() { python3 -c "import json,sys; j=json.load(open(sys.argv[1])); s=j['server']; print(j['images_per_s'], s['cpu_ms_per_image'], s['rss_peak_kb'], j['latency_ms']['p99'])" "$1"; }
run() { # $1 = mode
    "$bench" --url "http://127.0.0.1:${port[$1]}" --corpus "$corpus" --do "$wfile" --concurrency "$conc" --duration "$duration" \
        --warmup 2 --server-pid "${pid[$1]}" --json "$tmp/$1.json" --quiet >/dev/null
}
printf '%-6s %10s %8s %8s %10s %8s %8s %9s %9s %9s\n' round proc/s cpu-ms rss-MB thread/s cpu-ms rss-MB 'img/s p÷t' 'cpu p÷t' 'rss p÷t'
speed=() cpu=() rss=()
for r in $(seq "$rounds"); do
    if [ $((r % 2)) = 1 ]; then run process; run thread; else run thread; run process; fi
    read -r ps pc pr pp < <(field "$tmp/process.json")
    read -r ts tc tr tp < <(field "$tmp/thread.json")
    s=$(awk -v a="$ps" -v b="$ts" 'BEGIN { printf "%.3f", a / b }')
    c=$(awk -v a="$pc" -v b="$tc" 'BEGIN { printf "%.3f", a / b }')
    m=$(awk -v a="$pr" -v b="$tr" 'BEGIN { printf "%.3f", a / b }')
    speed+=("$s") cpu+=("$c") rss+=("$m")
    printf '%-6s %10.2f %8.1f %8.0f %10.2f %8.1f %8.0f %9s %9s %9s\n' "$r" "$ps" "$pc" "$((pr / 1024))" "$ts" "$tc" "$((tr / 1024))" \
        "$s" "$c" "$m"
done
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo "median over $rounds rounds at concurrency $conc ($(basename "$wfile" .txt)): images/s process÷thread $(median "${speed[@]}")," \
    "CPU-ms $(median "${cpu[@]}"), peak RSS $(median "${rss[@]}")"
