#!/bin/bash
# test_deploy_files: the deploy/ files agree with the code and with each other (TAP).
#  - deploy/systemd/imgpipe.env is exactly `imgpipe serve --print-env` (regenerate it with
#    `build/service/imgpipe serve --print-env > deploy/systemd/imgpipe.env`);
#  - every IMGPIPE_* variable the Dockerfile, Kubernetes and systemd files set is a real setting;
#  - stop timeouts (k8s terminationGracePeriodSeconds, systemd TimeoutStopSec) exceed preStop +
#    drain timeout + deadline;
#  - HAProxy accepts deploy/haproxy/haproxy.cfg with the check command its header shows (when
#    haproxy is installed), and that command sets every ${IMGPIPE_*} the file uses;
#  - the Dockerfile is multi-stage bookworm, non-root, with a HEALTHCHECK on /health whose command
#    (run as Docker would, with IMGPIPE_LISTEN set to another port) passes against a live imgpipe
#    and fails against a stopped one;
#  - in front of a live imgpipe (loopback) HAProxy answers two different Content-Length values 400
#    itself and strips Content-Length beside chunked, while imgpipe alone refuses both;
#  - the Kubernetes manifests parse (when python3-yaml is installed) and probe /health and /ready
#    on the key-free metrics-listen port; IMGPIPE_API_KEYS comes from the Secret imgpipe-auth
#    (secretKeyRef, required), whose example has that name and key and is not in kustomization.yaml.
# Env: IMGPIPE_BIN, from tests/meson.build.
here=$(cd "$(dirname "$0")" && pwd)
deploy=$here/../../deploy
bin=${IMGPIPE_BIN:-$here/../../build/service/imgpipe}
# shellcheck source=../tap.sh
. "$here/../tap.sh"
# seconds VALUE: "15s" / "500ms" / "2m" -> whole seconds, rounded up.
seconds() {
    case $1 in
    *ms) echo $((( ${1%ms} + 999) / 1000)) ;;
    *s) echo "${1%s}" ;;
    *m) echo $((${1%m} * 60)) ;;
    *) echo "$1" ;;
    esac
}

# --- the env file is the settings table's output ---
envout=$("$bin" serve --print-env 2>&1)
rc=$?
ok $rc "imgpipe serve --print-env runs"
if "$bin" serve --print-env 2>&1 | diff -u "$deploy/systemd/imgpipe.env" - >/tmp/imgpipe-env.diff.$$ 2>&1; then
    ok 0 "deploy/systemd/imgpipe.env equals imgpipe serve --print-env"
else
    ok 1 "deploy/systemd/imgpipe.env equals imgpipe serve --print-env (regenerate it; diff below)"
    sed 's/^/# /' /tmp/imgpipe-env.diff.$$ | head -40
fi
rm -f /tmp/imgpipe-env.diff.$$
settings=$(echo "$envout" | sed -n 's/^\(IMGPIPE_[A-Z0-9_]*\)=.*/\1/p' | sort -u)
[ -n "$settings" ]
ok $? "the settings table lists variables ($(echo "$settings" | wc -l))"

# --- every IMGPIPE_* the deploy files set exists ---
used=$(grep -ohE 'IMGPIPE_[A-Z0-9_]+' "$deploy/Dockerfile" "$deploy/k8s/"*.yaml "$deploy/systemd/imgpipe.service" | sort -u |
    grep -vE '^IMGPIPE_(LB_BIND|LB_STATS|S[0-9]+|BIN)$')
unknown=""
for v in $used; do
    echo "$settings" | grep -qx "$v" || unknown="$unknown $v"
done
[ -z "$unknown" ]
ok $? "every IMGPIPE_* variable in Dockerfile, k8s and systemd files is a setting${unknown:+ (unknown:$unknown)}"

# --- stop timeouts ---
dep=$deploy/k8s/deployment.yaml
deadline=$(seconds "$(grep -A1 'name: IMGPIPE_DEADLINE' "$dep" | grep -oE 'value: "[^"]+"' | head -1 | cut -d'"' -f2)")
drain=$(seconds "$(grep -A1 'name: IMGPIPE_DRAIN_TIMEOUT' "$dep" | grep -oE 'value: "[^"]+"' | head -1 | cut -d'"' -f2)")
grace=$(grep -oE 'terminationGracePeriodSeconds: [0-9]+' "$dep" | grep -oE '[0-9]+$')
prestop=$(grep -oE '"sleep", "[0-9]+"' "$dep" | grep -oE '[0-9]+')
if [ -n "$deadline" ] && [ -n "$drain" ] && [ -n "$grace" ] && [ -n "$prestop" ]; then
    [ "$grace" -gt $((prestop + drain + deadline)) ]
    ok $? "k8s terminationGracePeriodSeconds $grace > preStop $prestop + drain $drain + deadline $deadline"
else
    ok 1 "k8s deployment sets IMGPIPE_DEADLINE, IMGPIPE_DRAIN_TIMEOUT, terminationGracePeriodSeconds and a preStop sleep"
fi
edeadline=$(seconds "$(sed -n 's/^IMGPIPE_DEADLINE=//p' "$deploy/systemd/imgpipe.env")")
edrain=$(seconds "$(sed -n 's/^IMGPIPE_DRAIN_TIMEOUT=//p' "$deploy/systemd/imgpipe.env")")
stop=$(sed -n 's/^TimeoutStopSec=//p' "$deploy/systemd/imgpipe.service")
if [ -n "$edeadline" ] && [ -n "$edrain" ] && [ -n "$stop" ]; then
    [ "$stop" -gt $((edrain + edeadline)) ]
    ok $? "systemd TimeoutStopSec $stop > drain $edrain + deadline $edeadline"
else
    ok 1 "systemd env file has IMGPIPE_DEADLINE and IMGPIPE_DRAIN_TIMEOUT, the unit TimeoutStopSec"
fi

# --- systemd sandboxing ---
missing=""
for d in DynamicUser=yes ProtectSystem=strict NoNewPrivileges=yes MemoryMax= PrivateTmp=yes ProtectHome=yes \
    RestrictAddressFamilies= SystemCallFilter=@system-service CapabilityBoundingSet=; do
    grep -q "^$d" "$deploy/systemd/imgpipe.service" || missing="$missing $d"
done
[ -z "$missing" ]
ok $? "systemd unit is sandboxed${missing:+ (missing:$missing)}"
if command -v systemd-analyze >/dev/null 2>&1; then
    # Only the binary's absence is acceptable here (it is not installed under /usr/local/bin).
    bad=$(systemd-analyze verify "$deploy/systemd/imgpipe.service" 2>&1 | grep -v "is not executable: No such file" |
        grep -v "^$" || true)
    [ -z "$bad" ]
    ok $? "systemd-analyze verify finds nothing but the missing installed binary${bad:+: $bad}"
else
    skip "systemd-analyze not installed"
fi

# --- HAProxy ---
# The check command of the file's header: the comment lines after "Check it", joined at "\".
hcfg=$deploy/haproxy/haproxy.cfg
hcmd=$(sed -n '/^# .*Check it/,/haproxy -c/p' "$hcfg" | sed -n 's/^#   //p' | sed 's/ *\\$//' | tr '\n' ' ')
hvars=$(grep -oE '\$\{IMGPIPE_[A-Z0-9_]+\}' "$hcfg" | tr -d '${}' | sort -u)
unset_in_cmd=""
for v in $hvars; do
    echo "$hcmd" | grep -q "$v=" || unset_in_cmd="$unset_in_cmd $v"
done
[ -n "$hcmd" ] && [ -z "$unset_in_cmd" ]
ok $? "haproxy.cfg's header shows a check command setting every variable the file uses${unset_in_cmd:+ (missing:$unset_in_cmd)}"
if command -v haproxy >/dev/null 2>&1; then
    out=$(cd "$here/../.." && env -i PATH="$PATH" bash -c "$hcmd" 2>&1)
    ok $? "the header's command passes: $hcmd${out:+ ($(echo "$out" | tr '\n' ' '))}"
    # Request smuggling shapes through the bundled config (loopback only): HAProxy answers two
    # different Content-Length values 400 itself, and forwards Content-Length + chunked without
    # the Content-Length, so imgpipe's own framing guard (which refuses both) never sees them.
    out=$(python3 - "$bin" "$deploy/haproxy/haproxy.cfg" <<'PY'
import os, socket, subprocess, sys, time
def free():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p
def ex(port, raw):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(raw); s.shutdown(socket.SHUT_WR)
    out = b""
    try:
        while True:
            d = s.recv(65536)
            if not d: break
            out += d
    except OSError:
        pass
    s.close()
    return out
ip, lb, st = free(), free(), free()
srv = subprocess.Popen([sys.argv[1], "serve", "--listen", "127.0.0.1:%d" % ip, "--workers", "1", "--access-log", "off"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
env = dict(os.environ, IMGPIPE_LB_BIND="127.0.0.1:%d" % lb, IMGPIPE_LB_STATS="127.0.0.1:%d" % st,
           IMGPIPE_S1="127.0.0.1:%d" % ip, IMGPIPE_S2="127.0.0.1:%d" % ip, IMGPIPE_S3="127.0.0.1:%d" % ip)
hap = subprocess.Popen(["haproxy", "-db", "-f", sys.argv[2]], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
res = []
try:
    for _ in range(100):  # haproxy starts, the servers come UP after 2 checks
        try:
            if ex(lb, b"GET /ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").startswith(b"HTTP/1.1 200"):
                break
        except OSError:
            pass
        time.sleep(0.1)
    head = b"POST /info HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
    two_cl = head + b"Content-Length: 5\r\nContent-Length: 4\r\n\r\nhello"
    cl_te = head + b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    d1, h1 = ex(ip, two_cl), ex(lb, two_cl)
    d2, h2 = ex(ip, cl_te), ex(lb, cl_te)
    res.append("direct-2cl=%s" % (b"ambiguous request framing" in d1))
    res.append("haproxy-2cl-400=%s" % (h1.startswith(b"HTTP/1.1 400") and b"ambiguous" not in h1))
    res.append("direct-clte=%s" % (b"ambiguous request framing" in d2))
    res.append("haproxy-clte-normalised=%s" % (h2.startswith(b"HTTP/1.1 ") and b"ambiguous" not in h2 and not h2.startswith(b"HTTP/1.1 400")))
finally:
    hap.terminate(); srv.terminate(); hap.wait(); srv.wait()
print(" ".join(res))
PY
    )
    [ "$out" = "direct-2cl=True haproxy-2cl-400=True direct-clte=True haproxy-clte-normalised=True" ]
    ok $? "smuggling shapes: imgpipe refuses both itself, HAProxy 400s two Content-Length and strips Content-Length beside chunked ($out)"
else
    skip "haproxy not installed"
    skip "haproxy not installed: smuggling shapes through it not checked"
fi
grep -q 'option httpchk' "$deploy/haproxy/haproxy.cfg" && grep -q 'uri /ready' "$deploy/haproxy/haproxy.cfg" &&
    grep -q '^ *option redispatch' "$deploy/haproxy/haproxy.cfg" && grep -q '^ *retry-on ' "$deploy/haproxy/haproxy.cfg"
ok $? "haproxy checks /ready and retries/redispatches failed requests"

# --- Dockerfile ---
df=$deploy/Dockerfile
[ "$(grep -cE '^FROM debian:bookworm' "$df")" -ge 2 ]
ok $? "Dockerfile has two bookworm stages"
grep -qE '^USER [1-9][0-9]*' "$df"
ok $? "Dockerfile runs as a numeric non-root user"
grep -q '^HEALTHCHECK' "$df" && grep -A2 '^HEALTHCHECK' "$df" | grep -q '/health'
ok $? "Dockerfile has a HEALTHCHECK on /health"
grep -q '^EXPOSE 8080' "$df" && grep -q 'IMGPIPE_LISTEN=0.0.0.0:8080' "$df" && ! grep -q '^ *MALLOC_ARENA_MAX' "$df" &&
    grep -q 'libseccomp2' "$df" && grep -q 'libcurl4' "$df"
ok $? "Dockerfile exposes 8080, listens on 0.0.0.0:8080, leaves the arenas to the engine, installs libseccomp2 and libcurl4"
! sed -n '/^FROM .* AS runtime/,$p' "$df" | grep -qE -- '-dev\b|meson|gcc'
ok $? "the runtime stage installs no -dev packages or compilers"
# The HEALTHCHECK command itself (exec form, as Docker runs it) against a live imgpipe, then a dead one.
out=$(python3 - "$df" "$bin" <<'PY'
import json, os, re, signal, socket, subprocess, sys, time, urllib.request
src = open(sys.argv[1]).read().replace("\\\n", "")
cmd = json.loads(re.search(r"HEALTHCHECK .*?CMD (\[.*\])", src).group(1))
s = socket.socket()
s.bind(("127.0.0.1", 0))
port = s.getsockname()[1]
s.close()
if any("8080" in c and "IMGPIPE_LISTEN" not in c for c in cmd) or "IMGPIPE_LISTEN" not in " ".join(cmd):
    print("the HEALTHCHECK hard-codes its port instead of reading IMGPIPE_LISTEN: %s" % cmd)
    sys.exit(0)
env = dict(os.environ, IMGPIPE_LISTEN="0.0.0.0:%d" % port)  # the image's ENV, with another port
srv = subprocess.Popen([sys.argv[2], "serve", "--listen", "127.0.0.1:%d" % port, "--workers", "1", "--access-log", "off"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
for _ in range(100):
    try:
        urllib.request.urlopen("http://127.0.0.1:%d/ready" % port, timeout=1)
        break
    except Exception:
        time.sleep(0.1)
up = subprocess.call(cmd, timeout=10, env=env)
srv.send_signal(signal.SIGTERM)
srv.wait(timeout=20)
down = subprocess.call(cmd, timeout=10, stderr=subprocess.DEVNULL, env=env)
print("up=%d down=%d" % (up, down))
PY
)
[ "$out" = "up=0 down=1" ]
ok $? "the HEALTHCHECK command (port from IMGPIPE_LISTEN) passes against a running imgpipe and fails once it stopped ($out)"

# --- Kubernetes ---
if python3 -c 'import yaml' 2>/dev/null; then
    out=$(python3 - "$deploy/k8s" <<'EOF'
import sys, glob, yaml
kinds = {}
for f in sorted(glob.glob(sys.argv[1] + "/*.yaml")):
    for d in yaml.safe_load_all(open(f)):
        kinds[d["kind"]] = d
need = ["Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "Job"]
missing = [k for k in need if k not in kinds]
if missing:
    sys.exit("missing kinds: %s" % missing)
c = kinds["Deployment"]["spec"]["template"]["spec"]["containers"][0]
assert c["livenessProbe"]["httpGet"]["path"] == "/health", "liveness must probe /health"
assert c["readinessProbe"]["httpGet"]["path"] == "/ready", "readiness must probe /ready"
env = {e["name"]: e for e in c["env"]}
ref = env.get("IMGPIPE_API_KEYS", {}).get("valueFrom", {}).get("secretKeyRef", {})
assert ref.get("name") == "imgpipe-auth" and ref.get("key") == "api-keys", "IMGPIPE_API_KEYS from secretKeyRef imgpipe-auth/api-keys"
assert not ref.get("optional", False), "the API keys Secret must be required (no pod serves openly)"
assert "value" not in env["IMGPIPE_API_KEYS"], "no literal API key in the Deployment"
sec = kinds.get("Secret")
assert sec and sec["metadata"]["name"] == "imgpipe-auth" and "api-keys" in sec.get("stringData", sec.get("data", {})), \
    "secret.example.yaml: Secret imgpipe-auth with key api-keys"
kust = yaml.safe_load(open(sys.argv[1] + "/kustomization.yaml"))
assert not any("secret" in r for r in kust.get("resources", [])), "the example Secret (placeholder keys) is not deployed by -k"
ml = env.get("IMGPIPE_METRICS_LISTEN", {}).get("value", "")
ports = {p["name"]: p["containerPort"] for p in c["ports"]}
assert ml.endswith(":%d" % ports.get("ops", -1)), "metrics-listen on the ops port"
for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
    assert c[probe]["httpGet"]["port"] == "ops", probe + " on the ops port (/health needs the key on http)"
assert "limits" in c["resources"] and "requests" in c["resources"], "resources requests and limits"
job = kinds["Job"]["spec"]
assert job["completionMode"] == "Indexed", "Job must be Indexed"
jc = job["template"]["spec"]["containers"][0]
args = " ".join(jc["args"])
assert "--shard $(JOB_COMPLETION_INDEX)/%d" % job["completions"] in args, "--shard K/N with N = completions: " + args
# batch exits 3 when some inputs were bad (docs/batch.md): that shard must not be retried
assert job["template"]["spec"]["restartPolicy"] == "Never", "podFailurePolicy needs restartPolicy: Never"
rules = job.get("podFailurePolicy", {}).get("rules", [])
bad = [r for r in rules if 3 in r.get("onExitCodes", {}).get("values", []) and r.get("onExitCodes", {}).get("operator") == "In"]
assert bad and bad[0]["action"] in ("FailIndex", "Ignore", "FailJob"), "a podFailurePolicy rule for exit code 3: %s" % rules
assert bad[0]["action"] != "FailIndex" or "backoffLimitPerIndex" in job, "FailIndex needs backoffLimitPerIndex"
names = [e["name"] for e in jc.get("env", [])]
assert "VIPS_CONCURRENCY" not in names, "batch ignores VIPS_CONCURRENCY (it splits cores by -j): do not set it"
hpa = kinds["HorizontalPodAutoscaler"]["spec"]["metrics"][0]["resource"]["name"]
assert hpa == "cpu", "HPA on CPU"
print("ok")
EOF
    )
    [ "$out" = ok ]
    ok $? "k8s manifests parse: Deployment probes /health and /ready on the ops port, API keys from the Secret imgpipe-auth, Indexed Job shards by completions with a podFailurePolicy for exit 3, HPA on CPU${out:+ ($out)}"
else
    skip "python3-yaml not installed: k8s manifests not parsed"
fi

echo "1..$n"
