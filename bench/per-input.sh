#!/bin/bash
# per-input.sh: imgpipe against sharp, input by input, in one command. Runs imgpipe-bench in process
# on one thread with --per-input, then bench/sharp/per-input.js (sharp.concurrency(1)), on the same
# corpus, operation and number of runs per input, one after the other, and joins the two: a markdown
# table on stdout (input, CPU-ms of each, imgpipe ÷ sharp, output KB of each, rows where imgpipe is
# slower marked) and the same as TSV, with both sides' raw TSVs, in the results folder.
#
# usage: bench/per-input.sh --corpus DIR [--do SPEC] [--runs N] [--build DIR] [--out DIR]
#                           [--sharp-modules DIR]
#        bench/per-input.sh --render DIR    the table again from DIR/imgpipe.tsv and DIR/sharp.tsv
#   --corpus         the inputs: the regular files of DIR (e.g. make-corpus.sh's OUT/images)
#   --do             one operation OP?QUERY (default 'transform?w=512&h=512&fit=cover&type=png')
#   --runs           timed runs per input on each side (default 3); the table shows the minimum
#   --build          the build folder with bench/imgpipe-bench (default $BUILD or build)
#   --out            the results folder (default bench/results/per-input-<UTC time>)
#   --sharp-modules  the node_modules folder to load sharp from ($SHARP_MODULES, default
#                    bench/sharp/node_modules, where bench/sharp/setup.sh installs it)
# Exit status: 0 measured, 1 could not run, 2 bad usage or node/sharp not installed (with the hint).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
corpus="" spec='transform?w=512&h=512&fit=cover&type=png' runs=3 build=${BUILD:-$root/build} out="" render=""
modules=${SHARP_MODULES:-$here/sharp/node_modules}
die() { echo "per-input.sh: $1" >&2; exit "${2:-1}"; } # die MESSAGE [STATUS]
usage() { die "$1 (see --help)" 2; }
while [ $# -gt 0 ]; do
    case "$1" in
    --corpus|--do|--runs|--build|--out|--sharp-modules|--render) [ $# -ge 2 ] || usage "$1 needs a value" ;;&
    --corpus) corpus=$2; shift 2 ;;
    --do) spec=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --sharp-modules) modules=$2; shift 2 ;;
    --render) render=$2; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) usage "unknown option $1" ;;
    esac
done

# The join: imgpipe.tsv (imgpipe-bench --per-input: operation file type bytes runs ok cpu_ms_mean
# cpu_ms_min wall_ms_mean out_bytes_mean) and sharp.tsv (per-input.js: file cpu_ms_min
# cpu_ms_median out_bytes error) of folder $1 into $1/table.tsv and $1/table.md, printed.
join_tables() {
    local dir=$1
    [ -s "$dir/imgpipe.tsv" ] || die "no $dir/imgpipe.tsv"
    [ -s "$dir/sharp.tsv" ] || die "no $dir/sharp.tsv"
    awk -F'\t' -v tsv="$dir/table.tsv" '
    function kb(b) { return sprintf("%.1f", b / 1024) }
    function cut(s) { return length(s) > 120 ? substr(s, 1, 117) "..." : s }
    FNR == 1 { next }
    FILENAME ~ /sharp\.tsv$/ {
        s_min[$1] = $2; s_med[$1] = $3; s_bytes[$1] = $4; s_err[$1] = $5; s_seen[$1] = 1
        s_order[++ns] = $1
        next
    }
    {
        n++; file[n] = $2; type[n] = $3; runs[n] = $5; ok[n] = $6; i_mean[n] = $7; i_min[n] = $8; i_bytes[n] = $10
        op = $1; i_seen[$2] = 1
    }
    END {
        for (k = 1; k <= ns; k++)
            if (!(s_order[k] in i_seen)) { n++; file[n] = s_order[k]; type[n] = "-"; runs[n] = 0 }
        printf "input\ttype\timgpipe_cpu_ms_min\tsharp_cpu_ms_min\timgpipe_over_sharp\timgpipe_out_kb\tsharp_out_kb\t" \
               "imgpipe_slower\timgpipe_cpu_ms_mean\tsharp_cpu_ms_median\tnote\n" > tsv
        printf "operation `%s`, %s runs per input on each side, CPU-ms = the fastest run (one thread each)\n\n", op, runs[1]
        print "| input | type | imgpipe cpu-ms | sharp cpu-ms | imgpipe ÷ sharp | out KB imgpipe / sharp | |"
        print "|---|---|---:|---:|---:|---:|---|"
        for (k = 1; k <= n; k++) {
            f = file[k]; note = ""; slower = 0; ratio = "-"
            ifail = runs[k] == 0 || ok[k] == 0
            sfail = !(f in s_seen) || s_min[f] == "fails"
            ic = ifail ? "fails" : i_min[k]
            sc = !(f in s_seen) ? "-" : s_min[f]
            ik = ifail ? "-" : kb(i_bytes[k])
            sk = sfail ? "-" : kb(s_bytes[f])
            if (runs[k] == 0) note = "imgpipe: not measured"
            else if (ok[k] == 0) note = "imgpipe fails"
            else if (ok[k] < runs[k]) note = sprintf("imgpipe failed %d of %d runs", runs[k] - ok[k], runs[k])
            if (!(f in s_seen)) note = note (note ? "; " : "") "sharp: not measured"
            else if (s_min[f] == "fails") note = note (note ? "; " : "") "sharp fails: " cut(s_err[f])
            if (!ifail && !sfail && s_min[f] > 0) {
                r = i_min[k] / s_min[f]; ratio = sprintf("%.2f", r)
                both++; logsum += log(r)
                if (r > 1) { slower = 1; nslow++; note = "◀ imgpipe slower" (note ? "; " note : "") }
            }
            gsub(/\|/, "/", note)
            printf "| %s | %s | %s | %s | %s | %s / %s | %s |\n", f, type[k], ic, sc, ratio, ik, sk, note
            printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", f, type[k], ic, sc, ratio, ik, sk, slower,
                   ifail ? "-" : i_mean[k], (f in s_seen) ? s_med[f] : "-", note > tsv
        }
        printf "\n%d inputs; imgpipe slower on %d of the %d that both read", n, nslow, both
        if (both) printf "; geometric mean imgpipe ÷ sharp %.2f", exp(logsum / both)
        print ""
    }' "$dir/sharp.tsv" "$dir/imgpipe.tsv" | tee "$dir/table.md"
}

if [ -n "$render" ]; then
    join_tables "$render"
    exit 0
fi

[ -n "$corpus" ] || usage "--corpus DIR is required"
[ -d "$corpus" ] || usage "--corpus $corpus is not a folder"
case "$runs" in '' | *[!0-9]* | 0) usage "--runs must be a whole number ≥ 1" ;; esac
[ ! -f "$spec" ] || usage "--do takes one operation OP?QUERY, not a workload file"

# sharp first: without it there is nothing to compare, so say how to get it before measuring anything
if ! command -v node >/dev/null 2>&1; then
    die "node is not installed: apt-get install nodejs npm, then bench/sharp/setup.sh (installs sharp)" 2
fi
if ! SHARP_MODULES=$modules node -e 'require(require("path").join(process.env.SHARP_MODULES, "sharp"))' >/dev/null 2>&1; then
    die "sharp is not installed in $modules: run bench/sharp/setup.sh (npm install into bench/sharp/node_modules)" 2
fi
bench=$build/bench/imgpipe-bench
[ -x "$bench" ] || die "no $bench: build first (meson setup build && ninja -C build) or pass --build DIR"

# the inputs as imgpipe-bench counts them: regular, non-empty files, no dot files
files=0
for f in "$corpus"/*; do
    [ -f "$f" ] && [ -s "$f" ] && files=$((files + 1))
done
[ "$files" -gt 0 ] || die "no files in $corpus"

out=${out:-$root/bench/results/per-input-$(date -u +%Y%m%d-%H%M%S)}
mkdir -p "$out"
echo "per-input.sh: $files inputs x $runs runs of '$spec', imgpipe then sharp; results in $out" >&2

# imgpipe: one worker thread and one libvips thread (as sharp.concurrency(1)), every input `runs`
# times in turn, bounded by the count (the duration only as a backstop)
rc=0
"$bench" --inprocess --threads 1 --vips-threads 1 --corpus "$corpus" --do "$spec" --warmup 0 --duration 86400 \
    --max-requests $((files * runs)) --per-input "$out/imgpipe.tsv" >"$out/imgpipe-bench.txt" 2>&1 || rc=$?
# 3: ran, but nothing succeeded (every input failed): still a table
[ "$rc" = 0 ] || [ "$rc" = 3 ] || die "imgpipe-bench failed (exit $rc): see $out/imgpipe-bench.txt"

SHARP_MODULES=$modules node "$here/sharp/per-input.js" --corpus "$corpus" --do "$spec" --runs "$runs" \
    --out "$out/sharp.tsv" 2>"$out/sharp.log" || die "bench/sharp/per-input.js failed: see $out/sharp.log"

join_tables "$out"
echo "per-input.sh: table.md, table.tsv, imgpipe.tsv, sharp.tsv in $out" >&2
