#!/bin/bash
# test_bench_render: what bench/run.sh prints and draws from a results folder (`--render DIR`), on a
# made-up summary.tsv of one load point and a ceiling that used 0.62 of 2 cores; and imgpipe-bench's
# own warning for an in-process ceiling that cannot saturate its threads (TAP).
#  - without --with-sharp data the table has no sharp columns;
#  - a ceiling below 0.8 x its cores is flagged;
#  - without gnuplot the plots are not skipped silently: a line says how to install it;
#  - with gnuplot, a one-point plot gets a real x range (gnuplot warns "empty x range" otherwise,
#    and the ceiling line shrinks to a dash) and the one point is drawn as a dot;
#  - with sharp: peak PSS for both and the imgpipe / sharp ratio on PSS beside RSS (TSV column 18),
#    "-" for a summary written before that column;
#  - imgpipe-bench's process line, JSON and TSV carry peak PSS beside peak RSS.
# Args: $1 = imgpipe-bench. Env: IMGPIPE_FIXTURES.
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bench=${1:-$root/build/bench/imgpipe-bench}
fixtures=${IMGPIPE_FIXTURES:-$root/tests/fixtures}
# shellcheck source=../tap.sh
. "$here/../tap.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

dir=$work/20260101-000000-thumbnail
mkdir -p "$dir"
{
    printf 'label\tmode\ttransport\tload\trps\timages_per_s\tp50_ms\tp90_ms\tp99_ms\tp99_9_ms\tmax_ms\trequests\terrors\t'
    printf 'rss_peak_kb\tcpu_cores\tcpu_ms_per_image\tbytes_per_image\n'
    printf 'ceiling\tinprocess\tnone\t2\t10\t10\t1\t1\t1\t1\t1\t100\t0\t50000\t0.62\t62\t0\n'
    printf 'imgpipe\tclosed\thttp1\t4\t14.8\t14.8\t200\t250\t300\t310\t320\t150\t0\t90000\t1.9\t128\t20000\n'
    printf 'ceiling-end\tinprocess\tnone\t2\t10\t10\t1\t1\t1\t1\t1\t100\t0\t50000\t0.64\t62\t0\n'
} >"$dir/summary.tsv"

out=$(GNUPLOT=/nonexistent/gnuplot "$root/bench/run.sh" --render "$dir" 2>&1)
ok $? "run.sh --render exits 0 without gnuplot"
echo "$out" | sed 's/^/# /'
! echo "$out" | grep -q 'sharp/s'
ok $? "no sharp columns in the table without sharp data"
echo "$out" | grep -q 'WARNING: the ceiling did not saturate the cores (ceiling used 0.62 of 2 cores; ceiling-end used 0.64'
ok $? "a ceiling below 0.8 x its cores is flagged"
echo "$out" | grep -q 'plots skipped: gnuplot is not installed (Debian: apt-get install gnuplot-nox)'
ok $? "without gnuplot a line says the plots were skipped and how to install it"
[ -s "$dir/imgpipe-closed.dat" ]
ok $? "the .dat files are written anyway"

# with sharp and the PSS column (18): pss MB for both and the imgpipe / sharp ratio on PSS beside RSS
sdir=$work/20260101-000001-thumbnail
mkdir -p "$sdir"
{
    head -1 "$dir/summary.tsv" | sed 's/$/\tpss_peak_kb/'
    printf 'ceiling\tinprocess\tnone\t2\t10\t10\t1\t1\t1\t1\t1\t100\t0\t50000\t1.9\t62\t0\t40000\n'
    printf 'imgpipe\tclosed\thttp1\t4\t14.8\t14.8\t200\t250\t300\t310\t320\t150\t0\t204800\t1.9\t128\t20000\t92160\n'
    printf 'sharp\tclosed\thttp1\t4\t12\t12\t200\t250\t300\t310\t320\t150\t0\t153600\t1.9\t140\t20000\t122880\n'
} >"$sdir/summary.tsv"
out=$(GNUPLOT=/nonexistent/gnuplot "$root/bench/run.sh" --render "$sdir" 2>&1)
echo "$out" | sed 's/^/# /'
echo "$out" | grep -q 'rss MB  pss MB KB/img |  sharp/s .* rss MB  pss MB KB/img | imgp/shp  rss i/s  pss i/s'
ok $? "with sharp: pss MB columns for both and a pss i/s ratio"
echo "$out" | grep -Eq '^c=4 .* 200\.0 +90\.0 +20 \| .* 150\.0 +120\.0 +20 \| +1\.233 +1\.333 +0\.750$'
ok $? "pss MB 90.0 and 120.0, rss i/s 1.333, pss i/s 0.750"
GNUPLOT=/nonexistent/gnuplot "$root/bench/run.sh" --render "$dir" 2>&1 | grep -Eq '^c=4 .* 87\.9 +- +20$'
ok $? "a summary without the PSS column shows pss MB as -"

if command -v gnuplot >/dev/null 2>&1; then
    out=$("$root/bench/run.sh" --render "$dir" 2>&1)
    ok $? "run.sh --render with gnuplot exits 0"
    [ -s "$dir/closed.svg" ] && [ -s "$dir/closed.png" ]
    ok $? "closed.svg and closed.png drawn"
    ! grep -q 'empty x range' "$dir/gnuplot.log" 2>/dev/null
    ok $? "one load point: a real x range, not a sliver (gnuplot.log: $(tr '\n' ' ' <"$dir/gnuplot.log" 2>/dev/null))"
    ! grep -q 'sharp' "$dir/closed.svg"
    ok $? "no sharp entries in the key without sharp data"
else
    skip "gnuplot not installed: plots not drawn"
fi

# imgpipe-bench: an in-process ceiling given more threads than cores cannot use them all
threads=$(($(nproc) * 2 + 2))
mkdir -p "$work/corpus"
cp "$fixtures/photos/coffee.png" "$work/corpus/"
out=$(timeout 60 "$bench" --inprocess --threads "$threads" --corpus "$work/corpus" --do 'resize?width=64' --duration 1 \
    --warmup 0 --json "$work/inproc.json" --tsv "$work/inproc.tsv" 2>&1)
echo "$out" | grep -q "WARNING      the ceiling used [0-9.]* of $threads cores"
ok $? "imgpipe-bench flags an in-process ceiling that used less than 80 % of its $threads threads' cores"
echo "$out" | grep -Eq '^  process +pid [0-9]+: .* rss peak [0-9.]+ MB, .*; pss peak [0-9.]+ MB, mean [0-9.]+ MB$'
ok $? "the process line gives pss peak and mean beside rss"
grep -Eq '"pss_peak_kb": [1-9][0-9]*,' "$work/inproc.json" && grep -q '"rss_peak_kb": ' "$work/inproc.json"
ok $? "the JSON carries pss_peak_kb next to rss_peak_kb"
awk -F'\t' 'NR == 1 { ok = $18 == "pss_peak_kb" && $14 == "rss_peak_kb" } NR == 2 { ok = ok && $18 > 0 } END { exit !ok }' \
    "$work/inproc.tsv"
ok $? "the TSV line ends with pss_peak_kb (column 18), rss_peak_kb still column 14"
echo "1..$n"
