#!/usr/bin/env bash
# `mcpbridge export` from profiles made by `mcpbridge init`:
# - a --mtls profile with --with-certs --with-secrets: the bundle's files exist with the modes
#   MANIFEST.txt states, MANIFEST lists every file and nothing else; no secret in the configs;
#   the systemd unit and its drop-in pass `systemd-analyze verify`; the exported config passes
#   `mcpbridge check` with its environment set and is refused with the example values; the
#   ConfigMap's variant passes with the pod's variables; `kubectl kustomize` renders the overlay
#   (profile ConfigMap, Secret from the env file, no Redis variable, TLS volume, probes); and
#   served on loopback, the exported config accepts the profile's tokens, refuses others, and
#   serves /metrics on its own port to the admin token only;
# - a plain profile on another port without the flags: example env files with REPLACE-ME that
#   `mcpbridge check` refuses, the port patched into the Deployment, no tls/;
# - a directory that is not a profile, a non-empty --out and bad arguments are refused.
source "$(dirname "$0")/lib.sh"
spec="$MB_SOURCE_DIR/demo/openapi.yaml"
export MCPBRIDGE_HOME=$MB_SOURCE_DIR

# manifest_check DIR: MANIFEST.txt lists exactly the files of DIR, each with its real mode.
manifest_check() {
  local dir=$1 listed actual
  listed=$(grep -v '^#' "$dir/MANIFEST.txt" | awk '{print $1}' | sort)
  actual=$(cd "$dir" && find . -type f | sed 's|^\./||' | sort)
  [ "$listed" = "$actual" ] || fail "MANIFEST.txt differs from the files: $(diff <(echo "$listed") <(echo "$actual"))"
  while read -r path mode _; do
    [ "$(stat -c %04a "$dir/$path")" = "$mode" ] || fail "MANIFEST says $path is $mode, it is $(stat -c %04a "$dir/$path")"
  done < <(grep -v '^#' "$dir/MANIFEST.txt")
  grep -v '^#' "$dir/MANIFEST.txt" | awk 'NF < 3 { exit 1 }' || fail "a MANIFEST line without a purpose"
}

# --- an mTLS profile, everything included ------------------------------------------------------
p=$MB_TMP/prof
"$MCPBRIDGE" init --spec "$spec" --dir "$p" --base-url http://127.0.0.1:9 --mtls --no-smoke >/dev/null
b=$MB_TMP/bundle
out=$("$MCPBRIDGE" export --profile "$p" --out "$b" --with-certs --with-secrets) || fail "export: $out"
grep -q "written to $b" <<<"$out" || fail "export output: $out"
for f in MANIFEST.txt README.txt config/config.yaml config/openapi.yaml config/service-account.pub.pem \
         config/mcpbridge.env systemd/mcpbridge.service systemd/mcpbridge.service.d/profile.conf kustomization.yaml \
         kubernetes/config.yaml kubernetes/deployment-patch.yaml kubernetes/secrets.env docker/Dockerfile \
         tls/server.crt tls/server.key tls/ca.crt; do
  [ -f "$b/$f" ] || fail "the bundle lacks $f"
done
for f in "$MB_SOURCE_DIR"/deploy/kubernetes/*.yaml; do
  cmp -s "$f" "$b/kubernetes/base/$(basename "$f")" || fail "kubernetes/base/$(basename "$f") is not the shipped file"
done
cmp -s "$MB_SOURCE_DIR/deploy/systemd/mcpbridge.service" "$b/systemd/mcpbridge.service" || fail "the unit is not the shipped one"
cmp -s "$MB_SOURCE_DIR/Dockerfile" "$b/docker/Dockerfile" || fail "the Dockerfile is not the shipped one"
manifest_check "$b"
for f in config/mcpbridge.env kubernetes/secrets.env tls/server.key; do
  expect_eq "$(stat -c %a "$b/$f")" 600 "$f mode"
done
[ -e "$b/tls/ca.key" ] || [ -e "$b/tls/client.key" ] && fail "the CA key or the client key was exported"
grep -rq "BEGIN PRIVATE KEY" "$b/config" "$b/kubernetes" "$b/systemd" && fail "a private key outside tls/"

secret=$(awk '$1 == "secret:" {gsub(/"/, "", $2); print $2}' "$p/config.yaml")
[ ${#secret} = 64 ] || fail "could not read the profile's session secret"
grep -q "$secret" "$b/config/config.yaml" "$b/kubernetes/config.yaml" && fail "the session secret is in an exported config"
grep -q "^MCPBRIDGE_SESSION_SECRET=$secret$" "$b/config/mcpbridge.env" || fail "--with-secrets: the secret in mcpbridge.env"
grep -q "^session-secret=$secret$" "$b/kubernetes/secrets.env" || fail "--with-secrets: the secret in secrets.env"
admin=$(sed -n 's/^MCPBRIDGE_ADMIN_TOKEN=//p' "$b/config/mcpbridge.env")
[ ${#admin} = 64 ] || fail "--with-secrets: a generated admin token"
grep -q '^      host: "0.0.0.0"$' "$b/config/config.yaml" || fail "the exported config binds 0.0.0.0"
grep -q 'secret: "${MCPBRIDGE_SESSION_SECRET}"' "$b/config/config.yaml" || fail "the secret is a \${VAR}"
grep -q 'allowed_hosts: \[localhost, "127.0.0.1", "${MCPBRIDGE_PUBLIC_HOST}"\]' "$b/config/config.yaml" \
  || fail "allowed_hosts to fill in"

# systemd: the unit with the drop-in (TLS credentials), ExecStart pointing at the built binary.
if command -v systemd-analyze >/dev/null; then
  mkdir -p "$MB_TMP/unit"
  sed "s#/usr/local/bin/mcpbridge#$MCPBRIDGE#g" "$b/systemd/mcpbridge.service" > "$MB_TMP/unit/mcpbridge.service"
  cp -r "$b/systemd/mcpbridge.service.d" "$MB_TMP/unit/"
  grep -q "^LoadCredential=server.key:/etc/mcpbridge/tls/server.key$" "$MB_TMP/unit/mcpbridge.service.d/profile.conf" \
    || fail "the drop-in loads the TLS key as a credential"
  out=$(systemd-analyze verify "$MB_TMP/unit/mcpbridge.service" 2>&1) || fail "systemd-analyze verify: $out"
  ours=$(grep -E "mcpbridge.service|profile.conf" <<<"$out" || true)
  [ -z "$ours" ] || fail "systemd-analyze verify warns about the unit or the drop-in: $ours"
else
  echo "note: systemd-analyze not installed; the unit was not verified"
fi

# The exported config with its environment: OK; with the example values: refused.
check_env() { env "$@" MCPBRIDGE_TLS_DIR="$b/tls" "$MCPBRIDGE" check --config "$b/config/config.yaml" 2>&1; }
out=$(set -a; source "$b/config/mcpbridge.env"; set +a; check_env) || fail "check of the exported config: $out"
grep -q "^configuration OK$" <<<"$out" || fail "check of the exported config: $out"
set +e
out=$(check_env MCPBRIDGE_SESSION_SECRET=REPLACE-ME MCPBRIDGE_ADMIN_TOKEN=REPLACE-ME MCPBRIDGE_PUBLIC_HOST=x); rc=$?
set -e
expect_eq "$rc" 1 "check with the placeholder session secret"
# The ConfigMap's variant, as mounted in the pod (beside the spec and the key).
mkdir -p "$MB_TMP/pod"
cp "$b/kubernetes/config.yaml" "$MB_TMP/pod/config.yaml"
cp "$b/config/openapi.yaml" "$b/config/service-account.pub.pem" "$MB_TMP/pod/"
out=$(set -a; source "$b/config/mcpbridge.env"; set +a
      POD_NAMESPACE=shop POD_IP=10.1.2.3 MCPBRIDGE_TLS_DIR="$b/tls" "$MCPBRIDGE" check --config "$MB_TMP/pod/config.yaml" 2>&1) \
  || fail "check of the ConfigMap's config: $out"
grep -q '"mcpbridge.${POD_NAMESPACE}.svc"' "$b/kubernetes/config.yaml" || fail "the ConfigMap's config names the Service"

# Kubernetes: the overlay renders, with the profile's config and secret, the patch applied.
if command -v kubectl >/dev/null; then
  kubectl kustomize "$b" > "$MB_TMP/rendered.yaml" 2>"$MB_TMP/kustomize.err" || fail "kubectl kustomize: $(cat "$MB_TMP/kustomize.err")"
  "$NODE" -e '
const fs = require("fs"); const YAML = require("yaml");
const docs = YAML.parseAllDocuments(fs.readFileSync(process.argv[1], "utf8")).map((d) => d.toJSON());
const assert = (ok, what) => { if (!ok) { console.error("rendered: " + what); process.exit(1); } };
const one = (kind, prefix) => docs.find((d) => d.kind === kind && d.metadata.name.startsWith(prefix));
const cm = one("ConfigMap", "mcpbridge-config");
assert(cm && cm.data["config.yaml"].includes("issuer: mcpbridge:profile:prof") && cm.data["openapi.yaml"] &&
       cm.data["service-account.pub.pem"].includes("BEGIN PUBLIC KEY"), "the ConfigMap holds the profile");
const sec = one("Secret", "mcpbridge-secrets");
assert(sec && Buffer.from(sec.data["session-secret"], "base64").toString() === process.argv[2], "the Secret");
assert(!("redis-url" in sec.data), "no Redis key");
const tls = one("Secret", "mcpbridge-tls");
assert(tls && tls.data["server.key"] && tls.data["ca.crt"], "the TLS Secret");
const dep = one("Deployment", "mcpbridge");
const pod = dep.spec.template.spec, c = pod.containers[0];
const env = Object.fromEntries(c.env.map((e) => [e.name, e]));
assert(!env.MCPBRIDGE_REDIS_URL && env.MCPBRIDGE_SESSION_SECRET && env.MCPBRIDGE_PUBLIC_HOST, "env");
assert(env.MCPBRIDGE_TLS_DIR.value === "/etc/mcpbridge-tls", "the TLS directory");
assert(c.volumeMounts.some((m) => m.mountPath === "/etc/mcpbridge-tls"), "the TLS mount");
const vol = pod.volumes.find((v) => v.name === "tls");
assert(vol && vol.secret.secretName === tls.metadata.name && pod.securityContext.fsGroup === 10001, "the TLS volume");
for (const p of ["startupProbe", "livenessProbe", "readinessProbe"])
  assert(c[p].tcpSocket && !c[p].httpGet, p + " without HTTP (the kubelet has no client certificate)");
const cmVol = pod.volumes.find((v) => v.name === "config");
assert(cmVol.configMap.name === cm.metadata.name, "the Deployment mounts the profile ConfigMap");
assert(c.ports.map((p) => p.containerPort).sort().join() === "8500,9464", "ports");
' "$MB_TMP/rendered.yaml" "$secret" || fail "the rendered Kubernetes objects"
else
  echo "note: kubectl not installed; the overlay was not rendered"
fi

# Served on loopback (host and metrics port moved), the exported config accepts the profile's
# tokens and nothing else, and the metrics port wants the admin token.
port=$(free_port); mport=$(free_port)
sed -e 's/^      host: "0.0.0.0"$/      host: "127.0.0.1"/' -e 's/^    host: "0.0.0.0"$/    host: "127.0.0.1"/' \
    -e "s/^    port: 9464\$/    port: $mport/" "$b/config/config.yaml" > "$b/config/loopback.yaml"
(set -a; source "$b/config/mcpbridge.env"; set +a; export MCPBRIDGE_TLS_DIR="$b/tls"
 exec "$MCPBRIDGE" serve --config "$b/config/loopback.yaml" --port "$port" --workers 1) 2>"$MB_TMP/server.log" &
MB_PIDS+=("$!")
tls_args=(--cacert "$p/tls/ca.crt" --cert "$p/tls/client.crt" --key "$p/tls/client.key")
for _ in $(seq 100); do curl -s -o /dev/null "${tls_args[@]}" "https://127.0.0.1:$port/readyz" && break; sleep 0.1; done
init_status() {
  curl -s -o /dev/null -w '%{http_code}' --max-time 5 "${tls_args[@]}" "https://127.0.0.1:$port/mcp" "$@" \
    -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
    -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}'
}
expect_eq "$(init_status -H "Authorization: Bearer $(cat "$p/sa-tokens/default.jwt")")" 200 \
  "the exported config accepts the profile's token ($(tail -3 "$MB_TMP/server.log"))"
expect_eq "$(init_status)" 401 "the exported config without a token"
metrics() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "${tls_args[@]}" "https://127.0.0.1:$mport/metrics" "$@"; }
expect_eq "$(metrics -H "Authorization: Bearer $admin")" 200 "/metrics with the admin token"
expect_eq "$(metrics)" 401 "/metrics without a token"
rm "$b/config/loopback.yaml"

# --- a plain profile on another port, nothing secret included ----------------------------------
p2=$MB_TMP/plain
"$MCPBRIDGE" init --spec "$spec" --dir "$p2" --base-url http://127.0.0.1:9 --port 9100 --no-smoke >/dev/null
b2=$MB_TMP/bundle2
out=$("$MCPBRIDGE" export --profile "$p2" --out "$b2") || fail "export of the plain profile: $out"
manifest_check "$b2"
[ -e "$b2/tls" ] && fail "a plain profile's bundle has tls/"
[ -e "$b2/config/mcpbridge.env" ] || [ -e "$b2/kubernetes/secrets.env" ] && fail "secrets written without --with-secrets"
grep -q "^MCPBRIDGE_SESSION_SECRET=REPLACE-ME$" "$b2/config/mcpbridge.env.example" || fail "the example env file"
grep -q "^session-secret=REPLACE-ME$" "$b2/kubernetes/secrets.env.example" || fail "the example Secret keys"
grep -qi "tls\|LoadCredential" "$b2/systemd/mcpbridge.service.d/profile.conf" && fail "TLS in a plain profile's drop-in"
set +e
out=$(set -a; source "$b2/config/mcpbridge.env.example"; set +a; "$MCPBRIDGE" check --config "$b2/config/config.yaml" 2>&1); rc=$?
set -e
expect_eq "$rc" 1 "check with the unedited example values"
grep -q "session.secret" <<<"$out" || fail "the refusal names the session secret: $out"
out=$(MCPBRIDGE_SESSION_SECRET=0123456789abcdef0123456789abcdef MCPBRIDGE_ADMIN_TOKEN=0123456789abcdef0123456789abcdef \
      MCPBRIDGE_PUBLIC_HOST=mcp.example.com "$MCPBRIDGE" check --config "$b2/config/config.yaml" 2>&1) \
  || fail "check with values filled in: $out"
grep -q "http://0.0.0.0:9100/mcp" <<<"$out" || fail "the profile's port: $out"
if command -v kubectl >/dev/null; then
  cp "$b2/kubernetes/secrets.env.example" "$b2/kubernetes/secrets.env"
  kubectl kustomize "$b2" > "$MB_TMP/rendered2.yaml" 2>"$MB_TMP/kustomize.err" || fail "kubectl kustomize: $(cat "$MB_TMP/kustomize.err")"
  "$NODE" -e '
const fs = require("fs"); const YAML = require("yaml");
const dep = YAML.parseAllDocuments(fs.readFileSync(process.argv[1], "utf8")).map((d) => d.toJSON())
  .find((d) => d.kind === "Deployment");
const c = dep.spec.template.spec.containers[0];
const mcp = c.ports.find((p) => p.name === "mcp");
if (!mcp || mcp.containerPort !== 9100 || c.ports.some((p) => p.containerPort === 8500)) {
  console.error("ports: " + JSON.stringify(c.ports)); process.exit(1); }
if (c.readinessProbe.httpGet.scheme === "HTTPS" || c.volumeMounts.length !== 1) {
  console.error("TLS patched into a plain profile"); process.exit(1); }
' "$MB_TMP/rendered2.yaml" || fail "the plain profile's Deployment"
fi

# --- refusals ----------------------------------------------------------------------------------
set +e
out=$("$MCPBRIDGE" export --profile "$MB_TMP/unit" --out "$MB_TMP/b3" 2>&1); rc=$?
set -e
expect_eq "$rc" 1 "export of a directory that is not a profile"
grep -q "is not an mcpbridge profile" <<<"$out" || fail "not-a-profile message: $out"
[ -e "$MB_TMP/b3" ] && fail "export wrote something for a directory that is not a profile"
set +e
out=$("$MCPBRIDGE" export --profile "$p" --out "$b" 2>&1); rc=$?
set -e
expect_eq "$rc" 1 "export into a non-empty directory"
grep -q "not an empty directory" <<<"$out" || fail "non-empty --out message: $out"
for args in "" "--profile $p" "--out $MB_TMP/b4" "--profile $p --out $MB_TMP/b4 --bogus" "--profile $p --out $MB_TMP/b4 x"; do
  set +e
  # shellcheck disable=SC2086
  out=$("$MCPBRIDGE" export $args 2>&1); rc=$?
  set -e
  expect_eq "$rc" 2 "export $args: exit status"
  grep -q "usage: mcpbridge export" <<<"$out" || fail "export $args prints the usage: $out"
done
echo "ok"
