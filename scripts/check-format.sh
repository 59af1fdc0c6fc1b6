#!/bin/sh
# check-format.sh [--fix]: list the C files that drift from .clang-format (clang-format --dry-run
# over common/, pipelines/, batch/, service/, bench/, tests/; not the vendored service/h2o_compat/),
# one per line with its count of differing lines; exits 1 when any drifts, 0 when none does.
# --fix rewrites them in place (clang-format -i).
# CI runs it for information only (.ci/run). Without clang-format it says so and exits 0.
set -eu
cd "$(dirname "$0")/.."
cf=${CLANG_FORMAT:-clang-format}
if ! command -v "$cf" >/dev/null 2>&1; then
    echo "check-format: $cf not found (apt-get install clang-format): not checked"
    exit 0
fi
files=$(git ls-files 'common/*.[ch]' 'pipelines/*.[ch]' 'batch/*.[ch]' 'service/*.[ch]' 'bench/*.[ch]' 'tests/*.[ch]' ':!service/h2o_compat/*')
if [ "${1:-}" = --fix ]; then
    # shellcheck disable=SC2086
    "$cf" -i $files
    exit 0
fi
drift=0 total=0
for f in $files; do
    total=$((total + 1))
    n=$("$cf" --dry-run "$f" 2>&1 | grep -c 'warning:' || true)
    if [ "$n" -gt 0 ]; then
        echo "$f: $n lines differ from .clang-format"
        drift=$((drift + 1))
    fi
done
if [ "$drift" -eq 0 ]; then
    echo "check-format: all $total files follow .clang-format"
    exit 0
fi
echo "check-format: $drift of $total files drift from .clang-format (scripts/check-format.sh --fix rewrites them)"
exit 1
