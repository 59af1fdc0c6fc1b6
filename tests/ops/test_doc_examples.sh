#!/bin/bash
# test_doc_examples: every curl example in README.md, docs/*.md and */README.md runs against a real
# `imgpipe serve` and gets what the doc promises (TAP).
#
# An example is a line of a fenced code block, or an inline `code span`, that starts with `curl ` and
# holds a URL. The runner starts `imgpipe serve` on a free 127.0.0.1 port (and a second one with
# `--api-keys k1` for the examples that send `API-Key:` or `Authorization: Bearer`), rewrites every
# http://HOST:PORT to it (an https:// example needs a skip marker), runs the example with bash in a
# scratch folder where the files it names exist (photo.jpg and img.jpg: a 1600x1203 JPEG; logo.png: a 32x32 RGBA PNG; any other @NAME.jpg/.png/
# .webp is mapped the same way by extension), and checks every curl call it made:
#   - the status is 2xx, or the one a marker names;
#   - an image/* answer decodes (vipsheader), an application/json answer parses, any other is non-empty.
#
# Markers (in the doc, invisible once rendered or harmless in a shell line):
#   <!-- doc-example: skip REASON -->    on the line before a fenced block: the whole block is skipped
#   # doc-example: skip REASON            a shell comment at the end of, or on the line before, a curl
#                                         line inside a block: that line is skipped
#   <!-- doc-example: skip REASON -->    on a table row or list line with inline examples: they are skipped
#   doc-example: status=NNN               (in the same comment forms) the example's last call answers
#                                         NNN (the calls before it 2xx)
# file= examples run against a server started with --mount over a folder holding a.jpg and 2024/a.jpg.
# Skipped examples are reported as TAP SKIP with the reason: use skip only for what this branch cannot
# serve (an unlanded feature, TLS), never to hide a failing example.
#
# Also: every error name of pipelines/pl_error.h is in docs/http-api.md's errors table, and every
# setting of `imgpipe serve --print-env` in its settings table.
# Env: IMGPIPE_BIN, IMGPIPE_FIXTURES (tests/meson.build).
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${IMGPIPE_BIN:-$root/build/service/imgpipe}
fixtures=${IMGPIPE_FIXTURES:-$root/tests/fixtures}

if ! command -v curl >/dev/null || ! command -v vipsheader >/dev/null || ! command -v python3 >/dev/null; then
    echo "1..0 # SKIP needs curl, vipsheader and python3"
    exit 0
fi

exec python3 - "$root" "$bin" "$fixtures" <<'PY'
import glob, json, os, re, shutil, signal, socket, subprocess, sys, tempfile, time, urllib.request

root, binary, fixtures = sys.argv[1:4]
n = 0


def tap(good, name):
    global n
    n += 1
    print("%s %d - %s" % ("ok" if good else "not ok", n, name), flush=True)


def skip(name, why):
    global n
    n += 1
    print("ok %d - %s # SKIP %s" % (n, name, why), flush=True)


def diag(text):
    for line in str(text).splitlines()[:20]:
        print("# " + line)


def marker(line):
    """(kind, value) from a doc-example marker in LINE, or None. kind is 'skip' (value: reason) or 'status'."""
    m = re.search(r"doc-example:\s*(skip|status=(\d{3}))([^>\n]*)", line)
    if not m:
        return None
    if m.group(2):
        return ("status", int(m.group(2)))
    return ("skip", m.group(3).strip(" -") or "marked skip")


def examples(path):
    """[(where, command, marker)] of one Markdown file."""
    out = []
    lines = open(path, encoding="utf-8").read().split("\n")
    in_block, block_mark, prev = False, None, ""
    rel = os.path.relpath(path, root)
    for i, line in enumerate(lines, 1):
        s = line.strip()
        if s.startswith("```"):
            if not in_block:
                in_block, block_mark = True, marker(prev) if prev.strip().startswith("<!--") else None
            else:
                in_block, block_mark = False, None
            prev = line
            continue
        if in_block:
            if s.startswith("curl ") and "://" in s:
                m = block_mark or marker(s) or (marker(prev) if prev.strip().startswith("#") else None)
                cmd = re.sub(r"\s+#\s*doc-example:.*$", "", s)
                out.append(("%s:%d" % (rel, i), cmd, m))
        else:
            for span in re.findall(r"`(curl [^`]*)`", line):
                if "://" in span:
                    out.append(("%s:%d" % (rel, i), span, marker(line)))
        prev = line
    return out


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start(extra):
    port = free_port()
    p = subprocess.Popen([binary, "serve", "--listen", "127.0.0.1:%d" % port, "--workers", "2", "--access-log", "off"] + extra,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            urllib.request.urlopen("http://127.0.0.1:%d/ready" % port, timeout=1)
            return p, port
        except Exception:
            if p.poll() is not None:
                break
            time.sleep(0.05)
    p.kill()
    sys.exit("Bail out! imgpipe serve did not become ready (%s)" % " ".join(extra))


# --- the errors table names every error of pl_error.h ---
names = re.findall(r'X\(PL_E_[A-Z_]+, "([a-z_]+)"', open(os.path.join(root, "pipelines/pl_error.h")).read())
names += re.findall(r'X\(SVC_E_[A-Z_]+, "([a-z_]+)"', open(os.path.join(root, "service/svc_errors.h")).read())
api = open(os.path.join(root, "docs/http-api.md"), encoding="utf-8").read()
table = "\n".join(l for l in api.split("\n") if l.startswith("| 4") or l.startswith("| 5"))
missing = [x for x in names if "`%s`" % x not in table]
tap(names and not missing, "docs/http-api.md's errors table names every engine and service error (%d)%s" %
    (len(names), " missing: " + ", ".join(missing) if missing else ""))

# --- the settings table names every setting of `imgpipe serve --print-env` ---
env = subprocess.run([binary, "serve", "--print-env"], capture_output=True, text=True).stdout
settings = [v[len("IMGPIPE_"):].lower().replace("_", "-") for v in re.findall(r"^(IMGPIPE_[A-Z0-9_]+)=", env, re.M)]
rows = "\n".join(l for l in api.split("\n") if l.startswith("| `"))
absent = [x for x in settings if "`%s`" % x not in rows]
tap(settings and not absent, "docs/http-api.md's settings table names every setting (%d)%s" %
    (len(settings), " missing: " + ", ".join(absent) if absent else ""))

docs = sorted(set([os.path.join(root, "README.md")] + glob.glob(os.path.join(root, "docs/*.md")) +
                  glob.glob(os.path.join(root, "*/README.md"))))
found = [e for d in docs for e in examples(d)]
tap(len(found) >= 20, "found %d curl examples in %d Markdown files" % (len(found), len(docs)))

work = tempfile.mkdtemp(prefix="imgpipe-docex-")
real_curl = shutil.which("curl")
wrapdir = os.path.join(work, "bin")
os.mkdir(wrapdir)
calls = os.path.join(work, "calls")
# curl wrapper: records each call's headers and output file, so that every call of an example is checked.
with open(os.path.join(wrapdir, "curl"), "w") as f:
    f.write("""#!/bin/bash
k=$(ls "$DOCEX_CALLS" | grep -c '^hdr\\.')
out="" prev="" cat_body=""
for a in "$@"; do [ "$prev" = "-o" ] && out=$a; prev=$a; done
if [ -z "$out" ]; then out=$DOCEX_CALLS/body.$k; set -- -o "$out" "$@"; cat_body=1; fi
"$DOCEX_REAL_CURL" --max-time 30 -D "$DOCEX_CALLS/hdr.$k" "$@"
rc=$?
realpath -m "$out" > "$DOCEX_CALLS/out.$k"
echo $rc > "$DOCEX_CALLS/rc.$k"
[ -n "$cat_body" ] && [ -f "$out" ] && cat "$out"
exit $rc
""")
os.chmod(os.path.join(wrapdir, "curl"), 0o755)
inputs = {".jpg": os.path.join(fixtures, "photos/FreshFlower-1600x1203.jpg"),
          ".jpeg": os.path.join(fixtures, "photos/FreshFlower-1600x1203.jpg"),
          ".png": os.path.join(fixtures, "edge/pngsuite-basn6a08-rgba.png"),
          ".webp": os.path.join(fixtures, "photos/webp-gallery-4.webp")}

mount = os.path.join(work, "mount")  # file= examples: a.jpg and 2024/a.jpg below --mount
os.makedirs(os.path.join(mount, "2024"))
for rel in ("a.jpg", "2024/a.jpg"):
    shutil.copy(inputs[".jpg"], os.path.join(mount, rel))
plain, plain_port = start(["--mount", mount])
keyed, keyed_port = start(["--api-keys", "k1"])
try:
    for where, cmd, mark in found:
        name = "%s: %s" % (where, cmd if len(cmd) < 110 else cmd[:107] + "...")
        if mark and mark[0] == "skip":
            skip(name, mark[1])
            continue
        want = mark[1] if mark and mark[0] == "status" else None
        port = keyed_port if re.search(r"API-Key:|Authorization: Bearer", cmd) else plain_port
        run = re.sub(r"http://[A-Za-z0-9.\-]+:\d+", "http://127.0.0.1:%d" % port, cmd)  # https: see the marker
        cwd = os.path.join(work, "run%d" % n)
        os.mkdir(cwd)
        for f in set(re.findall(r"@([A-Za-z0-9_.\-]+)", run)):
            src = inputs.get(os.path.splitext(f)[1].lower())
            if src:
                shutil.copy(src, os.path.join(cwd, f))
        shutil.rmtree(calls, ignore_errors=True)
        os.mkdir(calls)
        env = dict(os.environ, PATH=wrapdir + ":" + os.environ["PATH"], DOCEX_CALLS=calls, DOCEX_REAL_CURL=real_curl)
        try:
            r = subprocess.run(["bash", "-c", run], cwd=cwd, env=env, capture_output=True, timeout=60)
            shell_rc, stderr = r.returncode, r.stderr.decode(errors="replace")
        except subprocess.TimeoutExpired:
            shell_rc, stderr = -1, "timed out"
        k = len([c for c in os.listdir(calls) if c.startswith("hdr.")])
        problems = []
        if k == 0:
            problems.append("no curl call made (shell rc %d: %s)" % (shell_rc, stderr.strip()[:200]))
        for i in range(k):
            hdr = open(os.path.join(calls, "hdr.%d" % i), errors="replace").read()
            statuses = re.findall(r"^HTTP/\S+ (\d{3})", hdr, re.M)
            status = int(statuses[-1]) if statuses else 0
            ctype = (re.findall(r"^content-type:\s*([^;\r\n]+)", hdr, re.M | re.I) or [""])[-1].strip().lower()
            out = open(os.path.join(calls, "out.%d" % i)).read().strip()
            last_want = want if i == k - 1 else None  # a status marker names the example's last call
            ok_status = status == last_want if last_want else 200 <= status < 300
            if not ok_status:
                body = open(out, errors="replace").read(300) if os.path.isfile(out) else ""
                problems.append("call %d: status %d (want %s) %s" % (i + 1, status, last_want or "2xx", body))
                continue
            if last_want and not 200 <= status < 300:
                continue
            if not os.path.isfile(out) or os.path.getsize(out) == 0:
                problems.append("call %d: empty body" % (i + 1))
            elif ctype.startswith("image/"):
                v = subprocess.run(["vipsheader", out], capture_output=True)
                if v.returncode != 0:
                    problems.append("call %d: %s body does not decode: %s" % (i + 1, ctype, v.stderr.decode()[:200]))
            elif ctype == "application/json":
                try:
                    json.load(open(out))
                except Exception as e:
                    problems.append("call %d: JSON body does not parse: %s" % (i + 1, e))
        tap(not problems, name + ("" if not problems else " -- " + "; ".join(problems)))
finally:
    for p in (plain, keyed):
        p.send_signal(signal.SIGTERM)
    for p in (plain, keyed):
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
    shutil.rmtree(work, ignore_errors=True)
print("1..%d" % n)
PY
