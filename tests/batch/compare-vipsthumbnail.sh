#!/bin/sh
# compare-vipsthumbnail.sh: `imgpipe batch` against `vipsthumbnail` run once per file with xargs, on the
# same JPEGs in the same run (a measurement, not a test).
#
#   tests/batch/compare-vipsthumbnail.sh [IMGPIPE_BIN] [PHOTO_DIR] [COPIES] [ROUNDS]
#
# Defaults: build/service/imgpipe, ../shared/corpus/photos, 4 copies of each *.jpg (symlinks), 3 rounds.
# Both sides: fit inside 800x800, JPEG quality 80, -j / -P = number of cores. Prints wall and CPU time
# per round and images/s. Work files go to a temporary directory that is removed at the end.
set -eu
BIN=$(realpath "${1:-build/service/imgpipe}")
PHOTOS=$(realpath "${2:-../shared/corpus/photos}")
COPIES=${3:-4}
ROUNDS=${4:-3}
CORES=$(nproc)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
mkdir "$TMP/in"
i=0
while [ "$i" -lt "$COPIES" ]; do
    for f in "$PHOTOS"/*.jpg; do ln -s "$f" "$TMP/in/$i-$(basename "$f")"; done
    i=$((i + 1))
done
N=$(ls "$TMP/in" | wc -l)
echo "# $N JPEGs ($COPIES x $(ls "$PHOTOS"/*.jpg | wc -l) from $PHOTOS), $CORES cores, $(vips --version)"
r=1
while [ "$r" -le "$ROUNDS" ]; do
    rm -rf "$TMP/a" "$TMP/b"
    mkdir "$TMP/b"
    echo "# round $r, $(uptime | sed 's/.*load/load/')"
    /usr/bin/time -f "imgpipe-batch  %e s wall  %U s user  %S s sys" \
        "$BIN" batch --do 'fit?width=800&height=800&type=jpeg&quality=80' -j "$CORES" -q -o "$TMP/a" "$TMP/in"
    ls "$TMP"/in/* | /usr/bin/time -f "vipsthumbnail  %e s wall  %U s user  %S s sys" \
        xargs -P "$CORES" -n 1 vipsthumbnail -s 800x800 -o "$TMP/b/%s.jpg[Q=80]"
    [ "$(ls "$TMP/a" | wc -l)" -eq "$N" ] && [ "$(ls "$TMP/b" | wc -l)" -eq "$N" ] || { echo "missing outputs" >&2; exit 1; }
    r=$((r + 1))
done 2>&1 | awk -v n="$N" '/ s wall /{ printf "%s  -> %.1f images/s\n", $0, n / $2; next } { print }'
