#!/bin/sh
# setup.sh: install the npm package `sharp` into bench/sharp/node_modules (gitignored), on demand.
# Only the sharp comparison (bench/run.sh --with-sharp) needs it; the build, the tests and CI never do.
# Needs node >= 20.9 and npm (Debian: apt-get install nodejs npm) and access to the npm registry.
# Usage: bench/sharp/setup.sh        (idempotent: does nothing when sharp already loads)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "setup.sh: node and npm are needed for the sharp comparison (apt-get install nodejs npm)" >&2
    exit 1
fi
if node -e 'require("sharp")' >/dev/null 2>&1; then
    exit 0
fi
echo "setup.sh: installing sharp into $here/node_modules" >&2
npm install --no-audit --no-fund --omit=dev >&2
node -e 'const s = require("sharp"); console.error("sharp " + s.versions.sharp + ", libvips " + s.versions.vips)'
