#!/bin/bash
# run.sh: the benchmark in one command. Builds imgpipe and imgpipe-bench (meson), picks the inputs
# of the workload from a corpus folder, measures the in-process ceiling, starts `imgpipe serve` on a
# free loopback port, loads it at a sweep of concurrencies (1, cores, 2 x cores, 4 x cores) and of
# open-loop rates (fractions of the ceiling), optionally does the same against the sharp server
# (--with-sharp) and a soak run (--soak S), then prints service/ceiling (and imgpipe/sharp) per point
# and draws the plots (gnuplot, SVG). Everything lands in bench/results/<time>-<workload>/ (gitignored).
#
# usage: bench/run.sh [--workload thumbnail|web|png|imgproxy|mixed|renditions|FILE] [--corpus DIR] [--duration S]
#                     [--warmup S] [--concurrency "1 2 4 8"] [--rates "0.5 0.8 1.0 1.2"] [--no-rates]
#                     [--http2] [--with-sharp] [--soak S] [--workers N] [--build DIR] [--no-select]
#        bench/run.sh --render bench/results/DIR   (the table and the plots again, from DIR/summary.tsv)
# Keep --duration short on a shared machine: every point runs --warmup + --duration seconds.
# Plots need gnuplot (Debian: apt-get install gnuplot-nox), which the build does not: without it the
# table is printed, the .dat files written, and a line says how to draw them later.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
cores=$(nproc)
workload=thumbnail
corpus=${IMGPIPE_CORPUS:-$root/../shared/corpus/photos}
duration=10
warmup=2
concurrencies="1 $cores $((2 * cores)) $((4 * cores))"
rates="0.5 0.8 1.0 1.2"
http2=""
with_sharp=0
soak=0
workers=0
build=${BUILD:-$root/build}
select=1
render_dir=""
gnuplot=${GNUPLOT:-gnuplot} # the plotter (the tests point it elsewhere to check the message without it)

die() { echo "run.sh: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
    case "$1" in
    --workload) workload=$2; shift 2 ;;
    --corpus) corpus=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --concurrency) concurrencies=$2; shift 2 ;;
    --rates) rates=$2; shift 2 ;;
    --no-rates) rates=""; shift ;;
    --http2) http2=--http2; shift ;;
    --with-sharp) with_sharp=1; shift ;;
    --soak) soak=$2; shift 2 ;;
    --workers) workers=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --no-select) select=0; shift ;;
    --render) render_dir=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set /p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
    esac
done

case "$workload" in
*/*|*.txt) wfile=$workload; wname=$(basename "$workload" .txt) ;;
*) wfile=$here/workloads/$workload.txt; wname=$workload ;;
esac

# ---- the table and the plots, from $summary (also alone: --render DIR)
render() {
# The table: service / ceiling per point, imgpipe / sharp when measured. images/s depends on how
# much CPU the other processes of the machine leave; cpu-ms per image (server CPU / images) much less.
local ceiling_cpu has_sharp unsat
ceiling_cpu=$(awk -F'\t' '$1 ~ /^ceiling/ { s += $16; n++ } END { if (n) printf "%.1f", s / n }' "$summary")
has_sharp=$(awk -F'\t' '$1 == "sharp" { n++ } END { print n ? 1 : 0 }' "$summary")
echo
echo "== $wname on $cores cores: ceiling $ceiling images/s (before $ceiling_first, after $ceiling_end), $ceiling_cpu cpu-ms/image (in-process, $cores threads) =="
# A ceiling that did not keep its threads busy (a loaded machine, too few inputs) is too low, and
# every service / ceiling ratio above it too high.
unsat=$(awk -F'\t' '$1 ~ /^ceiling/ && $15 < 0.8 * $4 { printf "%s used %.2f of %g cores; ", $1, $15, $4 }' "$summary")
if [ -n "$unsat" ]; then
    echo "WARNING: the ceiling did not saturate the cores (${unsat%; }): svc/ceil overstates the service; rerun on a quieter machine"
fi
# Memory: peak RSS summed over the server and its worker processes (shared libraries counted once
# per process) and peak PSS (column 18: shared pages split between them, so counted once; "-" when
# smaps_rollup was unreadable or the summary predates the column).
awk -F'\t' -v ceil="$ceiling" -v ceilcpu="$ceiling_cpu" -v sharp="$has_sharp" '
function mb(w, v) { return v > 0 ? sprintf("%" w ".1f", v / 1024) : sprintf("%" w "s", "-") }
function ratio(w, a, b) { return a > 0 && b > 0 ? sprintf("%" w ".3f", a / b) : sprintf("%" w "s", "-") }
NR > 1 && $1 !~ /^ceiling/ {
    key = $2 " " $4; if (!(key in seen)) { order[n++] = key; seen[key] = 1 }
    ips[$1, key] = $6; p99[$1, key] = $9; rss[$1, key] = $14; err[$1, key] = $13; cpu[$1, key] = $16; kb[$1, key] = $17 / 1024
    pss[$1, key] = $18 + 0
}
END {
    head = sprintf("%-11s %9s %8s %8s %8s %8s %7s %7s %7s %6s", "point", "imgpipe/s", "p99 ms", "cpu-ms/i", "svc/ceil", "cpu eff",
                   "errors", "rss MB", "pss MB", "KB/img");
    if (sharp)
        head = head sprintf(" | %8s %8s %8s %7s %7s %6s | %8s %8s %8s", "sharp/s", "p99 ms", "cpu-ms/i", "rss MB", "pss MB", "KB/img",
                            "imgp/shp", "rss i/s", "pss i/s");
    print head;
    for (i = 0; i < n; i++) {
        k = order[i]; split(k, a, " ");
        name = (a[1] == "closed" ? "c=" : "rate=") a[2];
        line = sprintf("%-11s %9.2f %8.1f %8.1f %8.3f %8.3f %7d %7.1f %s %6.0f", name, ips["imgpipe", k], p99["imgpipe", k],
                       cpu["imgpipe", k], ceil > 0 ? ips["imgpipe", k] / ceil : 0,
                       cpu["imgpipe", k] > 0 ? ceilcpu / cpu["imgpipe", k] : 0, err["imgpipe", k], rss["imgpipe", k] / 1024,
                       mb(7, pss["imgpipe", k]), kb["imgpipe", k]);
        if (sharp)
            line = line (("sharp", k) in ips ? sprintf(" | %8.2f %8.1f %8.1f %7.1f %s %6.0f | %8.3f %8.3f %s", ips["sharp", k],
                                p99["sharp", k], cpu["sharp", k], rss["sharp", k] / 1024, mb(7, pss["sharp", k]), kb["sharp", k],
                                ips["sharp", k] > 0 ? ips["imgpipe", k] / ips["sharp", k] : 0,
                                rss["sharp", k] > 0 ? rss["imgpipe", k] / rss["sharp", k] : 0,
                                ratio(8, pss["imgpipe", k], pss["sharp", k])) : " | (not measured)");
        print line
    }
    print "svc/ceil = imgpipe images/s / ceiling; cpu eff = ceiling cpu-ms per image / service cpu-ms per image;"
    print "rss MB = peak RSS summed over the server and its workers (shared pages counted per process); pss MB = peak PSS (counted once);"
    if (sharp)
        print "imgp/shp = imgpipe / sharp images/s; rss i/s, pss i/s = peak RSS, peak PSS imgpipe / sharp; KB/img = mean output size"
    else
        print "KB/img = mean output size (sharp columns: run with --with-sharp)"
}' "$summary" | tee "$out/table.txt"
[ -z "$unsat" ] || echo "WARNING: the ceiling did not saturate the cores (${unsat%; })" >>"$out/table.txt"
# renditions: one request is one set of outputs; "separate" sends the set as six requests
if awk -F'\t' '$1 == "separate" { f = 1 } END { exit !f }' "$summary"; then
    echo
    awk -F'\t' '
    NR > 1 && $2 == "closed" && ($1 == "imgpipe" || $1 == "separate" || $1 == "sharp") {
        k = $4; if (!(k in seen)) { order[n++] = k; seen[k] = 1 }
        d = $1 == "separate" ? 6 : 1
        sets[$1, k] = $6 / d; cpu[$1, k] = $16 * d; p99[$1, k] = $9; rss[$1, k] = $14 / 1024; kb[$1, k] = $17 * d / 1024
        pss[$1, k] = $18 > 0 ? sprintf("%6.1f", $18 / 1024) : "-"
    }
    END {
        printf "%-6s", "sets"
        split("imgpipe separate sharp", who, " ")
        for (w = 1; w <= 3; w++) printf " | %-8s %7s %8s %7s %6s %6s %6s", who[w], "sets/s", "cpu-ms", "p99 ms", "rss MB", "pss MB", "KB"
        printf " | %9s %9s\n", "rend/sep", "rend/shp"
        for (i = 0; i < n; i++) {
            k = order[i]; printf "c=%-4s", k
            for (w = 1; w <= 3; w++)
                if ((who[w], k) in sets)
                    printf " | %-8s %7.2f %8.1f %7.1f %6.1f %6s %6.0f", "", sets[who[w], k], cpu[who[w], k], p99[who[w], k], rss[who[w], k],
                           pss[who[w], k], kb[who[w], k]
                else
                    printf " | %-8s %7s %8s %7s %6s %6s %6s", "", "-", "-", "-", "-", "-", "-"
            r1 = sets["separate", k] > 0 ? sprintf("%.2f", sets["imgpipe", k] / sets["separate", k]) : "-"
            r2 = sets["sharp", k] > 0 ? sprintf("%.2f", sets["imgpipe", k] / sets["sharp", k]) : "-"
            c1 = cpu["imgpipe", k] > 0 && ("separate", k) in cpu ? sprintf("%.2f", cpu["separate", k] / cpu["imgpipe", k]) : "-"
            c2 = cpu["imgpipe", k] > 0 && ("sharp", k) in cpu ? sprintf("%.2f", cpu["sharp", k] / cpu["imgpipe", k]) : "-"
            printf " | %4s/%-4s %4s/%-4s\n", r1, c1, r2, c2
        }
        print "sets/s: separate = images/s / 6; cpu-ms and KB per set; rend/sep and rend/shp: sets/s ratio / inverse cpu-ms ratio"
    }' "$summary" | tee -a "$out/table.txt"
fi

# The plots. gnuplot is not among the build dependencies (scripts/install-deps.sh): say so rather
# than skip them silently.
if ! command -v "$gnuplot" >/dev/null 2>&1; then
    echo "plots skipped: gnuplot is not installed (Debian: apt-get install gnuplot-nox); the data is in $out/*.dat;" \
        "draw them later with: bench/run.sh --render $out"
fi
local s ext
for s in imgpipe sharp; do
    awk -F'\t' -v s="$s" '$1 == s && $2 == "closed" { print $4, $6, $9 }' "$summary" >"$out/$s-closed.dat"
    awk -F'\t' -v s="$s" '$1 == s && $2 == "open" { print $4, $6, $9 }' "$summary" >"$out/$s-open.dat"
done
if command -v "$gnuplot" >/dev/null 2>&1; then
    for ext in svg png; do
        "$gnuplot" -e "dir='$out'; ceiling=$ceiling; title='$wname, $cores cores'; ext='$ext'" "$here/plot.gp" 2>>"$out/gnuplot.log" \
            || echo "gnuplot ($ext) failed: see $out/gnuplot.log"
    done
    echo "plots: $(ls "$out"/*.svg "$out"/*.png 2>/dev/null | tr '\n' ' ')"
fi
}

if [ -n "$render_dir" ]; then # the table and plots again, from a results folder
    out=${render_dir%/}
    summary=$out/summary.tsv
    [ -f "$summary" ] || die "--render $render_dir: no summary.tsv there"
    wname=$(basename "$out" | sed 's/^[0-9]*-[0-9]*-//')
    ceiling_first=$(awk -F'\t' '$1 == "ceiling" { print $6 }' "$summary")
    ceiling_end=$(awk -F'\t' '$1 == "ceiling-end" { print $6 }' "$summary")
    ceiling=$(awk -v a="$ceiling_first" -v b="$ceiling_end" 'BEGIN { if (b == "") b = a; printf "%.3f", (a + b) / 2 }')
    render
    exit 0
fi

[ -f "$wfile" ] || die "no workload file $wfile (standard: thumbnail web png imgproxy mixed)"
[ -d "$corpus" ] || die "--corpus $corpus is not a folder of images"

# ---- build
if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" >/dev/null || die "meson setup $build failed (scripts/install-deps.sh installs what it needs)"
fi
meson compile -C "$build" >/dev/null || die "the build failed: run 'meson compile -C $build' to see why"
imgpipe=$build/service/imgpipe
bench=$build/bench/imgpipe-bench
[ -x "$imgpipe" ] && [ -x "$bench" ] || die "built binaries not found under $build"

out=$here/results/$(date -u +%Y%m%d-%H%M%S)-$wname
mkdir -p "$out"
summary=$out/summary.tsv
echo "results in $out"

# ---- inputs: the images of the corpus that fit the workload (symlinks), made when there are none
select_inputs() { # $1 = dest, $2 = loader (jpegload/pngload), $3 = min MP, $4 = max MP, $5 = min bands
    local dest=$1 n=0 f w h b loader
    mkdir -p "$dest"
    for f in "$corpus"/*; do
        [ -f "$f" ] || continue
        loader=$(vipsheader -f vips-loader "$f" 2>/dev/null) || continue
        [ "$loader" = "$2" ] || continue
        w=$(vipsheader -f width "$f") h=$(vipsheader -f height "$f") b=$(vipsheader -f bands "$f")
        if awk -v p=$((w * h)) -v lo="$3" -v hi="$4" 'BEGIN { exit !(p >= lo * 1e6 && p <= hi * 1e6) }' && [ "$b" -ge "$5" ]; then
            ln -sf "$(cd "$(dirname "$f")" && pwd)/$(basename "$f")" "$dest/"
            n=$((n + 1))
        fi
    done
    echo $n
}
inputs=$out/corpus
if [ "$select" = 0 ]; then
    inputs=$corpus
else
    case "$wname" in
    thumbnail|renditions|renditions-separate) n=$(select_inputs "$inputs" jpegload 7.9 100 3) ;;
    web|imgproxy) n=$(select_inputs "$inputs" jpegload 1.5 4.5 3) ;;
    png) n=$(select_inputs "$inputs" pngload 1 100 4)
        if [ "$n" = 0 ]; then # the png workload's shape: 2400x1600 RGBA, alpha a horizontal ramp, from the corpus' JPEGs
            for f in $(ls -S "$corpus"/*.jpg 2>/dev/null | head -3); do
                b=$(basename "$f" .jpg)
                vips thumbnail "$f" "$out/$b-rgb.v" 2400 --height 1600 --size force
                vips grey "$out/ramp.v" 2400 1600
                vips linear "$out/ramp.v" "$out/alpha.v" 200 55 --uchar
                vips bandjoin "$out/$b-rgb.v $out/alpha.v" "$inputs/$b-2400x1600-rgba.png"
                rm -f "$out/$b-rgb.v" "$out/ramp.v" "$out/alpha.v"
                n=$((n + 1))
            done
        fi ;;
    *) inputs=$corpus; n=1 ;;
    esac
    [ "$n" -gt 0 ] || die "no image in $corpus fits the $wname workload (see bench/README.md), or pass --no-select"
fi
echo "workload $wname: $(grep -v '^#' "$wfile" | grep -v '^$' | tr '\n' ';') inputs: $(ls "$inputs" | wc -l) files"

# ---- the ceiling: the same workload through the engine, no HTTP
"$bench" --inprocess --threads "$cores" --corpus "$inputs" --do "$wfile" --duration "$duration" --warmup "$warmup" \
    --label ceiling --json "$out/ceiling.json" --tsv "$summary" | tee "$out/ceiling.txt"
ceiling=$(awk -F'\t' '$1 == "ceiling" { print $6 }' "$summary")
ceiling_first=$ceiling

# ---- servers
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
wait_ready() { # $1 = url, $2 = pid
    for _ in $(seq 150); do
        kill -0 "$2" 2>/dev/null || return 1
        curl -fs -o /dev/null "$1/health" && return 0
        sleep 0.1
    done
    return 1
}
# Wait until the server has finished its backlog (an overloaded open-loop point leaves one): its CPU
# over one second below 5 %, for at most 60 s.
settle() { # $1 = pid
    local t0 t1 hz
    hz=$(getconf CLK_TCK)
    for _ in $(seq 60); do
        t0=$(awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null) || return 0
        sleep 1
        t1=$(awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null) || return 0
        [ $((t1 - t0)) -le $((hz / 20)) ] && return 0
    done
    echo "run.sh: pid $1 still busy after 60 s" >&2
}
point() { # $1 = name, $2 = url, $3 = pid, $4 = file suffix, then the load flags
    local name=$1 url=$2 pid=$3 suffix=$4 h2=$http2 do=$wfile
    shift 4
    [ "$name" = sharp ] && h2="" # node's http module: HTTP/1.1 only
    [ "$name" = separate ] && do=$here/workloads/renditions-separate.txt
    "$bench" --url "$url" --corpus "$inputs" --do "$do" "$@" --duration "$duration" --warmup "$warmup" \
        $h2 --server-pid "$pid" --label "$name" --json "$out/$name-$suffix.json" --tsv "$summary" | tee "$out/$name-$suffix.txt" ||
        echo "run.sh: $name $* measured nothing (see above)" >&2
    settle "$pid"
}

names=(imgpipe) urls=() spids=()
port=$("$bench" --free-port)
"$imgpipe" serve --listen "127.0.0.1:$port" --workers "$workers" >"$out/imgpipe.log" 2>&1 &
pids+=($!) spids+=($!) urls+=("http://127.0.0.1:$port")
wait_ready "${urls[0]}" "${spids[0]}" || die "imgpipe serve did not become ready: see $out/imgpipe.log"
if [ "$with_sharp" = 1 ]; then
    "$here/sharp/setup.sh" || die "sharp is not installed (bench/sharp/setup.sh failed)"
    sport=$("$bench" --free-port)
    node "$here/sharp/server.js" --listen "127.0.0.1:$sport" >"$out/sharp.log" 2>&1 &
    pids+=($!) spids+=($!) urls+=("http://127.0.0.1:$sport") names+=(sharp)
    wait_ready "${urls[1]}" "${spids[1]}" || die "the sharp server did not start: see $out/sharp.log"
fi

# Both servers stay up; each point runs against one then the other, back to back, so that the two
# figures of a point share the machine's load of that minute (the other one is idle meanwhile).
# The renditions workload also runs its six outputs as six /transform requests against imgpipe
# ("separate", right after the other two), for the sets table.
for c in $concurrencies; do
    for i in "${!names[@]}"; do point "${names[$i]}" "${urls[$i]}" "${spids[$i]}" "c$c" --concurrency "$c"; done
    [ "$wname" != renditions ] || point separate "${urls[0]}" "${spids[0]}" "c$c" --concurrency "$c"
done
for r in $rates; do
    rate=$(awk -v f="$r" -v c="$ceiling" 'BEGIN { x = f * c; if (x < 0.5) x = 0.5; printf "%.1f", x }')
    for i in "${!names[@]}"; do point "${names[$i]}" "${urls[$i]}" "${spids[$i]}" "r$r" --rate "$rate"; done
done
if [ "$soak" != 0 ]; then
    for i in "${!names[@]}"; do
        n=${names[$i]} h2=$http2
        [ "$n" = sharp ] && h2=""
        "$bench" --url "${urls[$i]}" --corpus "$inputs" --do "$wfile" --concurrency $((2 * cores)) --duration "$soak" \
            --warmup 0 $h2 --server-pid "${spids[$i]}" --sample-interval 1 --label "$n-soak" --json "$out/$n-soak.json" \
            --samples "$out/$n-soak.samples" --tsv "$out/soak.tsv" | tee "$out/$n-soak.txt" || true
        settle "${spids[$i]}"
    done
fi
for p in "${spids[@]}"; do kill "$p"; wait "$p" 2>/dev/null || true; done

# ---- the ceiling again, after the HTTP runs: on a shared machine the two differ by the noise; the
# table divides by their mean
"$bench" --inprocess --threads "$cores" --corpus "$inputs" --do "$wfile" --duration "$duration" --warmup "$warmup" \
    --label ceiling-end --json "$out/ceiling-end.json" --tsv "$summary" | tee "$out/ceiling-end.txt"
ceiling_end=$(awk -F'\t' '$1 == "ceiling-end" { print $6 }' "$summary")
ceiling=$(awk -v a="$ceiling_first" -v b="$ceiling_end" 'BEGIN { printf "%.3f", (a + b) / 2 }')

render
