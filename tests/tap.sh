# tap.sh: the TAP helpers of the shell tests (sourced, not run): `ok STATUS TEXT` prints
# "ok N - TEXT" when STATUS is 0, else "not ok N - TEXT"; `skip REASON` prints "ok N # SKIP
# REASON". N counts from 1 in the sourcing script's variable n; the script prints the plan
# ("1..$n") at its end.
n=0
ok() {
    n=$((n + 1))
    if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi
}
skip() {
    n=$((n + 1))
    echo "ok $n # SKIP $1"
}
