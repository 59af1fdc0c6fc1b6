#!/bin/bash
# overhead.sh: what the HTTP layer costs, measured in paired rounds. Each round measures the
# in-process ceiling (imgpipe-bench --inprocess, threads = cores) and then the service at one
# closed-loop concurrency, back to back, and prints service ÷ ceiling for that round; the summary
# is the median over the rounds. On a VM whose speed drifts by ±5 % from minute to minute, one
# ceiling before and one after a sweep (run.sh) cannot resolve a 5 % overhead; pairs can.
#
# usage: bench/overhead.sh --corpus DIR [--workload NAME|FILE] [--rounds 5] [--duration 8]
#                          [--concurrency C] [--build DIR]
# --corpus: the inputs, e.g. the folder run.sh picked (bench/results/<run>/corpus). Loopback only.
set -euo pipefail

# shellcheck disable=SC2034
name=overhead.sh help_lines=2,11 # read by paired_opts.sh
# shellcheck source-path=SCRIPTDIR source=paired_opts.sh
source "$(dirname "$0")/paired_opts.sh" "$@"

tmp=$(mktemp -d)
port=$("$bench" --free-port)
"$imgpipe" serve --listen "127.0.0.1:$port" >"$tmp/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:$port/health" && break; sleep 0.1; done

field() { python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print(j['images_per_s'], j[sys.argv[2]]['cpu_ms_per_image'])" "$1" "$2"; }
printf '%-6s %12s %10s %12s %10s %9s %9s\n' round ceiling/s cpu-ms svc/s cpu-ms svc/ceil cpu-eff
ratios=()
for r in $(seq "$rounds"); do
    "$bench" --inprocess --threads "$cores" --corpus "$corpus" --do "$wfile" --duration "$duration" --warmup 2 \
        --json "$tmp/c.json" --quiet >/dev/null
    "$bench" --url "http://127.0.0.1:$port" --corpus "$corpus" --do "$wfile" --concurrency "$conc" --duration "$duration" \
        --warmup 2 --server-pid "$pid" --json "$tmp/s.json" --quiet >/dev/null
    read -r cr cc < <(field "$tmp/c.json" process)
    read -r sr sc < <(field "$tmp/s.json" server)
    ratio=$(awk -v a="$sr" -v b="$cr" 'BEGIN { printf "%.3f", a / b }')
    eff=$(awk -v a="$cc" -v b="$sc" 'BEGIN { printf "%.3f", a / b }')
    ratios+=("$ratio")
    printf '%-6s %12.2f %10.1f %12.2f %10.1f %9s %9s\n' "$r" "$cr" "$cc" "$sr" "$sc" "$ratio" "$eff"
done
median=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
echo "median service/ceiling over $rounds rounds at concurrency $conc: $median"
