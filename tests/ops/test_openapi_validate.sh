#!/bin/bash
# test_openapi_validate: the document a real `imgpipe serve` answers on GET /openapi.json passes an
# independent OpenAPI 3.0 validator, @apidevtools/swagger-parser (schema + semantic checks: unique
# operationIds, resolvable $refs, parameters …) (TAP).
#
# The validator is installed with npm, once, into BUILD/openapi-validator (BUILD = the meson build
# folder holding IMGPIPE_BIN); later runs reuse it. Without npm, or when the install fails (no
# network), the validation is skipped with the reason; the test still passes. The structural checks
# that need no network are in test_openapi.c (suite unit).
# Env: IMGPIPE_BIN (tests/meson.build).
here=$(cd "$(dirname "$0")" && pwd)
bin=${IMGPIPE_BIN:-$here/../../build/service/imgpipe}
build=$(cd "$(dirname "$bin")/.." && pwd)
cache=$build/openapi-validator
validator=@apidevtools/swagger-parser@10.1.1
# shellcheck source=../tap.sh
. "$here/../tap.sh"

work=$(mktemp -d)
srv=""
cleanup() {
    [ -n "$srv" ] && kill "$srv" 2>/dev/null && wait "$srv" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$bin" serve --listen "127.0.0.1:$port" --workers 1 --access-log off 2>"$work/serve.log" &
srv=$!
for _ in $(seq 100); do
    curl -sf -o /dev/null "http://127.0.0.1:$port/ready" && break
    sleep 0.1
done
code=$(curl -s -o "$work/openapi.json" -w '%{http_code}' --max-time 20 "http://127.0.0.1:$port/openapi.json")
[ "$code" = 200 ] && python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$work/openapi.json"
ok $? "GET /openapi.json: 200 and JSON (status $code)"

if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
    skip "npm/node not installed: OpenAPI document not validated (apt-get install npm)"
elif [ ! -f "$cache/node_modules/@apidevtools/swagger-parser/package.json" ] &&
    ! (mkdir -p "$cache" && timeout 120 npm install --prefix "$cache" --no-audit --no-fund --no-save "$validator" \
        >"$work/npm.log" 2>&1); then
    skip "npm install $validator failed (offline?): OpenAPI document not validated"
    sed 's/^/# /' "$work/npm.log" | tail -5
else
    out=$(cd "$cache" && node -e '
const parser = require("@apidevtools/swagger-parser");
parser.validate(process.argv[1])
    .then((api) => console.log("valid: " + api.info.title + " " + api.info.version + ", " + Object.keys(api.paths).length + " paths"))
    .catch((e) => { console.log("invalid: " + e.message); process.exit(1); });
' "$work/openapi.json" 2>&1)
    rc=$?
    ok $rc "swagger-parser validates GET /openapi.json ($(echo "$out" | head -c 600 | tr '\n' ' '))"
fi
echo "1..$n"
