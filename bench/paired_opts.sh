#!/bin/bash
# paired_opts.sh: the options of the paired-round scripts (bench/overhead.sh, bench/isolation.sh),
# sourced by them with their arguments, not run: --corpus DIR, --workload NAME|FILE, --rounds N,
# --duration S, --concurrency C, --build DIR, -h. The sourcing script sets `name` (for messages)
# and `help_lines` (the sed range of its header comment that --help prints). Sets here, root,
# cores, corpus, wfile, rounds, duration, conc, build, bench, imgpipe and die().
# shellcheck disable=SC2034,SC2154 # the variables are the sourcing script's, name and help_lines too

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
cores=$(nproc)
workload=thumbnail rounds=5 duration=8 conc=$cores corpus="" build=${BUILD:-$root/build}
die() { echo "$name: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
    case "$1" in
    --corpus) corpus=$2; shift 2 ;;
    --workload) workload=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --concurrency) conc=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    -h|--help) sed -n "${help_lines}p" "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
    esac
done
case "$workload" in
*/*|*.txt) wfile=$workload ;;
*) wfile=$here/workloads/$workload.txt ;;
esac
[ -f "$wfile" ] || die "no workload file $wfile"
[ -d "$corpus" ] || die "--corpus DIR is required (a folder of the workload's inputs)"
bench=$build/bench/imgpipe-bench imgpipe=$build/service/imgpipe
[ -x "$bench" ] && [ -x "$imgpipe" ] || die "build first: meson setup $build && meson compile -C $build"
