#!/bin/bash
# test_bench_per_input: bench/per-input.sh, imgpipe against sharp input by input (TAP).
#  - --help exits 0 with the usage; no --corpus exits 2;
#  - sharp missing (--sharp-modules at a folder without it): exit 2, nothing measured, and the
#    message says to run bench/sharp/setup.sh;
#  - --render joins made-up imgpipe.tsv and sharp.tsv: both CPU columns, the ratio, a slower row
#    marked, a file sharp cannot read noted with its error, table.tsv written;
#  - with sharp installed (bench/sharp/node_modules or $SHARP_MODULES; never installed here: no
#    network), a real run of 2 tiny fixtures and 1 run each gives a row per input with numbers in
#    both columns; skipped otherwise.
# Args: $1 = imgpipe-bench. Env: IMGPIPE_FIXTURES.
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bench=${1:-$root/build/bench/imgpipe-bench}
build=$(cd "$(dirname "$bench")/.." && pwd)
fixtures=${IMGPIPE_FIXTURES:-$root/tests/fixtures}
script=$root/bench/per-input.sh
# shellcheck source=../tap.sh
. "$here/../tap.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus"
cp "$fixtures/edge/pngsuite-basn6a08-rgba.png" "$fixtures/edge/aligned-srgb-exif-272x368.jpg" "$work/corpus/"

out=$(timeout 20 "$script" --help 2>&1)
ok $? "--help exits 0"
echo "$out" | grep -q 'usage: bench/per-input.sh --corpus DIR'
ok $? "--help prints the usage"

timeout 20 "$script" --runs 1 >/dev/null 2>&1
[ $? = 2 ]
ok $? "no --corpus: exit 2"

out=$(timeout 20 "$script" --corpus "$work/corpus" --runs 1 --build "$build" --sharp-modules "$work/no-node-modules" \
    --out "$work/missing" 2>&1)
rc=$?
echo "$out" | sed 's/^/# /'
[ "$rc" = 2 ]
ok $? "sharp missing: exit 2 (got $rc)"
echo "$out" | grep -q 'bench/sharp/setup.sh'
ok $? "sharp missing: the message says to run bench/sharp/setup.sh"
[ ! -e "$work/missing/imgpipe.tsv" ]
ok $? "sharp missing: nothing measured"

# --render on made-up results: b.png slower in imgpipe, c.heic unreadable to sharp
dir=$work/render
mkdir -p "$dir"
{
    printf 'operation\tfile\ttype\tbytes\truns\tok\tcpu_ms_mean\tcpu_ms_min\twall_ms_mean\tout_bytes_mean\n'
    printf 'transform?w=8\ta.jpg\tjpeg\t1000\t3\t3\t11.0\t10.0\t12.0\t2048\n'
    printf 'transform?w=8\tb.png\tpng\t1000\t3\t3\t31.0\t30.0\t32.0\t1024\n'
    printf 'transform?w=8\tc.heic\theif\t1000\t3\t3\t51.0\t50.0\t52.0\t4096\n'
} >"$dir/imgpipe.tsv"
{
    printf 'file\tcpu_ms_min\tcpu_ms_median\tout_bytes\terror\n'
    printf 'a.jpg\t20.0\t21.0\t3072\t\n'
    printf 'b.png\t15.0\t16.0\t1536\t\n'
    printf 'c.heic\tfails\t-\t-\theif: Support for this compression format has not been built in: HEVC\n'
} >"$dir/sharp.tsv"
out=$(timeout 20 "$script" --render "$dir" 2>&1)
ok $? "--render exits 0"
echo "$out" | sed 's/^/# /'
echo "$out" | grep -q '^| input | type | imgpipe cpu-ms | sharp cpu-ms | imgpipe ÷ sharp | out KB imgpipe / sharp |'
ok $? "the header has both CPU columns, the ratio and both sizes"
echo "$out" | grep -q '^| a.jpg | jpeg | 10.0 | 20.0 | 0.50 | 2.0 / 3.0 |  |$'
ok $? "a faster row: both CPU figures, imgpipe ÷ sharp 0.50, KB, no mark"
echo "$out" | grep -q '^| b.png | png | 30.0 | 15.0 | 2.00 | 1.0 / 1.5 | ◀ imgpipe slower |$'
ok $? "a slower row is marked"
echo "$out" | grep -q '^| c.heic | heif | 50.0 | fails | - | 4.0 / - | sharp fails: heif: Support .*HEVC |$'
ok $? "sharp's failure noted with its error, no ratio"
echo "$out" | grep -q '^3 inputs; imgpipe slower on 1 of the 2 that both read; geometric mean imgpipe ÷ sharp 1.00$'
ok $? "the summary counts the slower rows and gives the geometric mean"
[ "$(cut -f1,3,4,5,8 "$dir/table.tsv" | sed -n 3p)" = "$(printf 'b.png\t30.0\t15.0\t2.00\t1')" ]
ok $? "table.tsv: input, both CPU columns, the ratio and the slower flag"

# a real run, only where sharp is already installed
modules=${SHARP_MODULES:-$root/bench/sharp/node_modules}
if command -v node >/dev/null 2>&1 && SHARP_MODULES=$modules node -e 'require(require("path").join(process.env.SHARP_MODULES, "sharp"))' \
    >/dev/null 2>&1; then
    out=$(timeout 60 "$script" --corpus "$work/corpus" --runs 1 --build "$build" --sharp-modules "$modules" \
        --out "$work/real" 2>&1)
    ok $? "a run on 2 tiny images exits 0"
    echo "$out" | sed 's/^/# /'
    rows=$(echo "$out" | grep -cE '^\| (aligned-srgb-exif-272x368\.jpg|pngsuite-basn6a08-rgba\.png) \| (jpeg|png) \| [0-9]+\.[0-9] \| [0-9]+\.[0-9] \| [0-9]+\.[0-9]{2} \| ')
    [ "$rows" = 2 ]
    ok $? "one row per input with imgpipe's and sharp's CPU-ms and the ratio (got $rows)"
    [ "$(wc -l <"$work/real/table.tsv")" = 3 ] && [ "$(wc -l <"$work/real/sharp.tsv")" = 3 ]
    ok $? "table.tsv and sharp.tsv written, a header and 2 lines each"
else
    skip "sharp is not installed (bench/sharp/setup.sh): no real run"
fi
echo "1..$n"
