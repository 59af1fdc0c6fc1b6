#!/bin/bash
# test_local_cluster: runs deploy/local-cluster.sh (3 imgpipe instances behind HAProxy, one
# stopped mid-load, once by SIGKILL and once by SIGTERM) and turns its PASS/FAIL lines into TAP. Skips when haproxy is not installed.
# Env: IMGPIPE_BIN (the built binary), IMGPIPE_FIXTURES (the image), from tests/meson.build.
here=$(cd "$(dirname "$0")" && pwd)
script=$here/../../deploy/local-cluster.sh
if ! command -v haproxy >/dev/null 2>&1; then
    echo "1..0 # SKIP haproxy is not installed"
    exit 0
fi
image=${IMGPIPE_FIXTURES:-$here/../fixtures}/photos/FreshFlower-1600x1203.jpg
n=0
for sig in KILL TERM; do
    out=$(timeout 100 "$script" -n 100 -c 4 -s "$sig" -i "$image" ${IMGPIPE_BIN:+-b "$IMGPIPE_BIN"} 2>&1)
    rc=$?
    while IFS= read -r line; do
        case $line in
        PASS:*) n=$((n + 1)); echo "ok $n - SIG$sig: ${line#PASS: }" ;;
        FAIL:*) n=$((n + 1)); echo "not ok $n - SIG$sig: ${line#FAIL: }" ;;
        SKIP:*) echo "1..0 # SKIP ${line#SKIP: }"; exit 0 ;;
        *) echo "# $line" ;;
        esac
    done <<<"$out"
    n=$((n + 1))
    if [ "$rc" -eq 0 ]; then
        echo "ok $n - SIG$sig: local-cluster.sh exited 0"
    else
        echo "not ok $n - SIG$sig: local-cluster.sh exited $rc"
    fi
done
echo "1..$n"
