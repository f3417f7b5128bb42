#!/usr/bin/env bash
# The deployment files, checked without a cluster, a Docker engine or a running systemd:
# - deploy/systemd/mcpbridge.service: `systemd-analyze verify` (with ExecStart pointing at the
#   built binary), the hardening and stop directives, `systemd-analyze security --offline`;
# - deploy/kubernetes: rendered by `kubectl kustomize` when kubectl is installed, then every
#   object parsed (Node + the `yaml` package from tests/node_modules) and the cross-file
#   invariants checked (probes, drain timings, security contexts, selectors, HPA, PDB, Secret
#   keys behind every ${VAR} of the config); the ConfigMap's config through `mcpbridge check`,
#   refused with the Secret's unedited example values, and served on loopback ports (probes,
#   the token-protected metrics port, authentication and the Host guard as in the pod);
# - Dockerfile and .dockerignore: build packages = install-deps.sh's C build dependencies,
#   runtime packages = what `ldd` of the built binary needs, COPY sources present and not
#   ignored, numeric non-root USER = the pod's runAsUser, CMD = the pod's args, EXPOSE = ports;
# - the container's stop path: mcpbridge as PID 1 of its own PID namespace, a tools/call in
#   flight, SIGTERM from outside: the call completes and the exit code is 0.
source "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
src=$MB_SOURCE_DIR
unit_file=$src/deploy/systemd/mcpbridge.service
k8s_dir=$src/deploy/kubernetes

# need COMMAND PACKAGE: fails with what to install when COMMAND is missing.
need() { command -v "$1" >/dev/null 2>&1 || fail "$1 is not installed: apt-get install $2"; }
# doc_default KEY: the Default column of KEY's row in docs/configuration.md.
doc_default() {
  local v
  v=$(awk -F'|' -v key="\`$1\`" '{ gsub(/^ +| +$/, "", $2); gsub(/^ +| +$/, "", $4) } $2 == key { print $4; exit }' \
        "$src/docs/configuration.md")
  [[ $v =~ ^[0-9]+$ ]] || fail "docs/configuration.md has no numeric default for $1 (got '$v')"
  echo "$v"
}
need systemd-analyze systemd
need readelf binutils
need dpkg-query dpkg
need pgrep procps
need curl curl

# --- systemd ---------------------------------------------------------------------------------
mapfile -t unit_lines < "$unit_file"
# unit_values KEY: every value KEY is assigned in the unit, one per line.
unit_values() { local l; for l in "${unit_lines[@]}"; do [[ $l == "$1="* ]] && echo "${l#*=}"; done; return 0; }
expect_unit() {
  local l
  for l in "${unit_lines[@]}"; do [ "$l" = "$1=$2" ] && return 0; done
  fail "mcpbridge.service: expected '$1=$2', have: $(unit_values "$1" | tr '\n' ' ')"
}
mkdir -p "$MB_TMP/unit"
# verify needs the executables to exist: the unit as shipped, with the built binary's path.
sed "s#/usr/local/bin/mcpbridge#$MCPBRIDGE#g" "$unit_file" > "$MB_TMP/unit/mcpbridge.service"
grep -qF "ExecStart=$MCPBRIDGE serve --config /etc/mcpbridge/config.yaml" "$MB_TMP/unit/mcpbridge.service" \
  || fail "ExecStart is not '/usr/local/bin/mcpbridge serve --config /etc/mcpbridge/config.yaml'"
out=$(systemd-analyze verify "$MB_TMP/unit/mcpbridge.service" 2>&1) || fail "systemd-analyze verify: $out"
# verify exits 0 on unknown or misspelt keys (it only warns): any word about our unit fails.
ours=$(grep -F "mcpbridge.service" <<<"$out" || true)
[ -z "$ours" ] || fail "systemd-analyze verify warns about the unit: $ours"
[ -z "$out" ] || echo "note: systemd-analyze verify said about other units: $out"

for kv in DynamicUser=yes ConfigurationDirectory=mcpbridge NoNewPrivileges=yes ProtectSystem=strict \
          ProtectHome=yes PrivateTmp=yes PrivateDevices=yes ProtectKernelTunables=yes \
          ProtectKernelModules=yes ProtectKernelLogs=yes ProtectControlGroups=yes ProtectClock=yes \
          ProtectHostname=yes ProtectProc=invisible "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX" \
          RestrictNamespaces=yes LockPersonality=yes MemoryDenyWriteExecute=yes RestrictRealtime=yes \
          RestrictSUIDSGID=yes SystemCallArchitectures=native SystemCallFilter=@system-service \
          CapabilityBoundingSet= UMask=0077 KillMode=mixed OOMPolicy=continue Restart=on-failure \
          'ExecReload=/bin/kill -HUP $MAINPID'; do
  expect_unit "${kv%%=*}" "${kv#*=}"
done
# The capacity sampler reads /proc/stat, /proc/meminfo and /proc/pressure: ProcSubset=pid hides them.
[ -z "$(unit_values ProcSubset)" ] || fail "mcpbridge.service sets ProcSubset=: the capacity sampler needs /proc/stat, /proc/meminfo, /proc/pressure"
grace=$(doc_default shutdown_grace_seconds)
stop=$(unit_values TimeoutStopSec)
[[ $stop =~ ^([0-9]+)s?$ ]] || fail "TimeoutStopSec '$stop': expected seconds"
[ "${BASH_REMATCH[1]}" -gt $((grace + 2)) ] \
  || fail "TimeoutStopSec=$stop must exceed shutdown_grace_seconds ($grace) + 2 s, when the master kills stragglers"
nofile=$(unit_values LimitNOFILE)
need_fds=$(( $(doc_default max_connections_per_worker) + $(doc_default limits.max_connections) + 64 ))
[[ $nofile =~ ^[0-9]+$ ]] && [ "$nofile" -ge "$need_fds" ] \
  || fail "LimitNOFILE=$nofile is below the $need_fds descriptors a worker needs with the default caps"
unit_workers=$(unit_values Environment | sed -n 's/^MCPBRIDGE_WORKERS=//p')
[ -n "$unit_workers" ] || fail "mcpbridge.service sets no Environment=MCPBRIDGE_WORKERS="
out=$(systemd-analyze security --offline=yes "$MB_TMP/unit/mcpbridge.service" 2>&1) \
  || fail "systemd-analyze security --offline=yes (systemd >= 250 needed): $out"
score=$(sed -n 's/.*Overall exposure level for mcpbridge.service: \([0-9.]*\).*/\1/p' <<<"$out")
[ -n "$score" ] || fail "no exposure level in: $out"
awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }' || fail "exposure level $score is above 2.0: $out"
echo "ok: systemd unit verifies, hardened (exposure $score), TimeoutStopSec=$stop > grace $grace + 2 s, LimitNOFILE=$nofile"

# --- Kubernetes ------------------------------------------------------------------------------
node=${NODE:-$src/.deps/bin/node}
[ -x "$node" ] || node=$(command -v node || true)
[ -n "$node" ] || fail "Node is not installed: run scripts/install-deps.sh (Node 22 into .deps/)"
yaml_module=$src/tests/node_modules/yaml
[ -d "$yaml_module" ] || fail "$yaml_module is missing: run scripts/install-deps.sh (npm packages of tests/)"
rendered=""
if command -v kubectl >/dev/null 2>&1; then
  kubectl kustomize "$k8s_dir" > "$MB_TMP/rendered.yaml" 2> "$MB_TMP/kustomize.err" \
    || fail "kubectl kustomize $k8s_dir: $(cat "$MB_TMP/kustomize.err")"
  rendered=$MB_TMP/rendered.yaml
  how="rendered by kubectl kustomize"
else
  how="kubectl not installed: the files kustomization.yaml lists, as written (install kubectl to render them too)"
fi
echo "note: Kubernetes objects $how"
mkdir -p "$MB_TMP/k8s/etc"
# Checks every object, then writes for the steps below: facts (key=value lines), the
# ConfigMap's files into etc/, and the environment the config needs (env.good: Secret values
# with REPLACE-ME replaced by random hex; env.example: the Secret's values as shipped).
YAML_MODULE=$yaml_module "$node" - "$k8s_dir" "$rendered" "$MB_TMP/k8s" <<'JS' || fail "Kubernetes objects (above)"
const fs = require('fs'), path = require('path'), crypto = require('crypto');
const YAML = require(process.env.YAML_MODULE);
const [dir, renderedFile, out] = process.argv.slice(2);
const problems = [];
const must = (ok, msg) => { if (!ok) problems.push(msg); };
const stop = () => { if (problems.length) { console.error(problems.map(p => 'FAIL: ' + p).join('\n')); process.exit(1); } };
const parseAll = (file) => YAML.parseAllDocuments(fs.readFileSync(file, 'utf8')).map(d => {
  if (d.errors.length) { problems.push(`${file}: ${d.errors[0].message}`); return null; }
  return d.toJS();
}).filter(Boolean);
const splitImage = (img) => { const i = img.lastIndexOf(':'); return i > img.lastIndexOf('/') ? [img.slice(0, i), img.slice(i + 1)] : [img, 'latest']; };

const kust = YAML.parse(fs.readFileSync(path.join(dir, 'kustomization.yaml'), 'utf8'));
const listed = kust.resources || [];
const present = fs.readdirSync(dir).filter(f => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml');
for (const f of present) must(listed.includes(f), `${f} is not listed in kustomization.yaml resources`);
for (const f of listed) must(present.includes(f), `kustomization.yaml lists ${f}, which does not exist`);
let objects;
if (renderedFile) {
  objects = parseAll(renderedFile);
} else {
  objects = listed.filter(f => present.includes(f)).flatMap(f => parseAll(path.join(dir, f)));
  for (const o of objects) for (const c of o.spec?.template?.spec?.containers ?? []) for (const img of kust.images ?? []) {
    const [name, tag] = splitImage(c.image);
    if (name === img.name) c.image = `${img.newName ?? name}:${img.newTag ?? tag}`;
  }
}
const one = (kind, apiVersion) => {
  const l = objects.filter(o => o.kind === kind);
  must(l.length === 1, `expected one ${kind}, found ${l.length}`);
  if (l[0]) must(l[0].apiVersion === apiVersion, `${kind}: apiVersion ${l[0].apiVersion}, expected ${apiVersion}`);
  return l[0];
};
const dep = one('Deployment', 'apps/v1'), svc = one('Service', 'v1'), cm = one('ConfigMap', 'v1');
const hpa = one('HorizontalPodAutoscaler', 'autoscaling/v2'), pdb = one('PodDisruptionBudget', 'policy/v1');
const sec = one('Secret', 'v1');
stop();

// The Deployment and its pod.
const spec = dep.spec, pod = spec.template.spec, labels = spec.template.metadata.labels ?? {};
const selects = (sel) => !!sel && Object.keys(sel).length > 0 && Object.entries(sel).every(([k, v]) => labels[k] === v);
must(selects(spec.selector?.matchLabels), 'the Deployment selector does not match its pod labels');
must(selects(svc.spec.selector), 'the Service selector does not match the pod labels');
must(selects(pdb.spec.selector?.matchLabels), 'the PodDisruptionBudget selector does not match the pod labels');
must(spec.replicas === undefined, 'the Deployment sets spec.replicas: the HPA owns the count (every apply would reset it)');
const ru = spec.strategy?.rollingUpdate ?? {};
must(spec.strategy?.type === 'RollingUpdate' && String(ru.maxUnavailable) === '0' && String(ru.maxSurge) === '1',
     `rolling update: expected maxUnavailable 0, maxSurge 1, got ${JSON.stringify(spec.strategy)}`);
must(pod.automountServiceAccountToken === false, 'automountServiceAccountToken: mcpbridge never calls the Kubernetes API');
must(pod.containers.length === 1, `expected one container, found ${pod.containers.length}`);
const c = pod.containers[0];
const ports = Object.fromEntries((c.ports ?? []).map(p => [p.name, p.containerPort]));
const portOf = (p) => (typeof p === 'string' ? ports[p] : p);
const psc = pod.securityContext ?? {}, csc = c.securityContext ?? {};
must(psc.runAsNonRoot === true, 'pod securityContext.runAsNonRoot is not true');
must(Number.isInteger(psc.runAsUser) && psc.runAsUser > 0, 'pod securityContext.runAsUser is not a non-root uid');
must((csc.seccompProfile ?? psc.seccompProfile)?.type === 'RuntimeDefault', 'seccompProfile is not RuntimeDefault');
must(csc.allowPrivilegeEscalation === false, 'allowPrivilegeEscalation is not false');
must(csc.readOnlyRootFilesystem === true, 'readOnlyRootFilesystem is not true');
must(csc.privileged !== true, 'the container is privileged');
must((csc.capabilities?.drop ?? []).includes('ALL') && !(csc.capabilities?.add ?? []).length,
     'capabilities: expected drop [ALL] and nothing added');
const res = c.resources ?? {};
must(res.requests?.cpu !== undefined && res.requests?.memory !== undefined && res.limits?.memory !== undefined,
     'resources: requests.cpu (the HPA percentage is of it), requests.memory and limits.memory are required');

// Probes and the stop sequence.
const probe = (p, want, what) => must(p?.httpGet?.path === want && portOf(p.httpGet.port) === ports.mcp,
                                      `${what}: expected GET ${want} on the mcp port, got ${JSON.stringify(p?.httpGet)}`);
probe(c.startupProbe, '/healthz', 'startupProbe');
probe(c.livenessProbe, '/healthz', 'livenessProbe');
probe(c.readinessProbe, '/readyz', 'readinessProbe');
const preStop = c.lifecycle?.preStop ?? {};
let preStopSeconds = NaN, preStopBinary = '';
if (preStop.sleep) preStopSeconds = Number(preStop.sleep.seconds);
else if (preStop.exec?.command?.length === 2) { preStopBinary = preStop.exec.command[0]; preStopSeconds = Number(preStop.exec.command[1]); }
must(preStopSeconds > 0, `preStop: expected a sleep (action or [/bin/sleep, N]), got ${JSON.stringify(preStop)}`);

// The configuration in the ConfigMap, as the container reads it.
must(Array.isArray(c.args) && c.args[0] === 'serve' && c.args[1] === '--config' && c.args.length === 3,
     `args: expected [serve, --config, FILE], got ${JSON.stringify(c.args)}`);
const configPath = c.args?.[2] ?? '';
const mount = (c.volumeMounts ?? []).find(m => m.mountPath === path.dirname(configPath));
const vol = mount && (pod.volumes ?? []).find(v => v.name === mount.name);
must(vol?.configMap?.name === cm.metadata.name, `${path.dirname(configPath)} is not mounted from the ConfigMap ${cm.metadata.name}`);
must(mount?.readOnly === true, 'the configuration volume is not mounted read-only');
const cfgText = cm.data?.[path.basename(configPath)];
must(typeof cfgText === 'string', `the ConfigMap has no ${path.basename(configPath)}`);
stop();
const cfg = YAML.parse(cfgText);
const server = cfg.runtime?.server ?? {}, transport = server.transport ?? {};
const obs = cfg.observability ?? {};
const grace = server.shutdown_grace_seconds ?? 10;
const timeoutMs = cfg.runtime?.middleware?.request_timeout?.timeout_ms ?? 500;
must(pod.terminationGracePeriodSeconds > preStopSeconds + grace + 2,
     `terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds} must exceed preStop ${preStopSeconds} + grace ${grace} + 2`);
must(timeoutMs < grace * 1000, `request_timeout ${timeoutMs} ms must be below shutdown_grace_seconds ${grace}: calls in flight must finish`);
must(transport.host === '0.0.0.0', `transport.host ${transport.host}: in a pod it must accept the Service's and kubelet's connections`);
must(transport.port === ports.mcp, `transport.port ${transport.port} is not the container's mcp port ${ports.mcp}`);
const hosts = transport.allowed_hosts ?? [];
must(hosts.includes(svc.metadata.name) && hosts.some(h => h.startsWith(`${svc.metadata.name}.`) && h.includes('.svc')),
     `allowed_hosts must name the Service (${svc.metadata.name}, ${svc.metadata.name}.<namespace>.svc): ${JSON.stringify(hosts)}`);
must(cfg.security?.authentication?.enabled === true, 'security.authentication is not enabled');
must(cfg.runtime?.http?.response_guard?.enabled !== false, 'the response guard is off');
must(obs.metrics?.enabled !== false && obs.metrics?.port === ports.metrics && obs.metrics?.host === '0.0.0.0',
     `observability.metrics: expected enabled on 0.0.0.0:${ports.metrics} (the metrics port), got ${JSON.stringify(obs.metrics)}`);
must(typeof server.session?.secret === 'string', 'runtime.server.session.secret is not set: replicas would not share sessions');

// Every ${VAR} the config needs comes from the pod's environment; Secret keys exist.
const env = Object.fromEntries((c.env ?? []).map(e => [e.name, e]));
const secretData = { ...Object.fromEntries(Object.entries(sec.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()])),
                     ...(sec.stringData ?? {}) };
const refs = new Set([...cfgText.replace(/\$\$\{/g, '').matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map(m => m[1]));
if (obs.admin?.token_env) refs.add(obs.admin.token_env);
must(obs.admin?.token_env && env[obs.admin.token_env]?.valueFrom?.secretKeyRef,
     'observability.admin.token_env must name a variable the pod takes from the Secret');
must(refs.has('MCPBRIDGE_SESSION_SECRET') && env.MCPBRIDGE_SESSION_SECRET?.valueFrom?.secretKeyRef,
     'the session secret must come from the Secret');
const good = [], example = [];
for (const name of [...refs].sort()) {
  const e = env[name];
  const from = e?.valueFrom ?? {};
  if (!e) { problems.push(`the config needs the variable ${name}, which the container's env does not set`); continue; }
  if (from.secretKeyRef) {
    const value = secretData[from.secretKeyRef.key];
    must(from.secretKeyRef.name === sec.metadata.name, `${name}: secretKeyRef names ${from.secretKeyRef.name}, not ${sec.metadata.name}`);
    must(typeof value === 'string', `${name}: the Secret has no key ${from.secretKeyRef.key}`);
    must(/REPLACE-ME/.test(value ?? ''), `${name}: the Secret's example value is not marked REPLACE-ME`);
    example.push(`${name}=${value}`);
    good.push(`${name}=${String(value).replace(/REPLACE-ME/g, () => crypto.randomBytes(32).toString('hex'))}`);
  } else if (from.fieldRef) {
    const v = { 'metadata.namespace': 'mcpbridge-test', 'status.podIP': '10.0.0.7' }[from.fieldRef.fieldPath];
    must(v, `${name}: fieldRef ${from.fieldRef.fieldPath} has no test value here`);
    good.push(`${name}=${v}`); example.push(`${name}=${v}`);
  } else if (typeof e.value === 'string') {
    good.push(`${name}=${e.value}`); example.push(`${name}=${e.value}`);
  } else {
    problems.push(`${name}: unsupported env source ${JSON.stringify(e)}`);
  }
}
const workers = env.MCPBRIDGE_WORKERS;
const wref = workers?.valueFrom?.resourceFieldRef;
must(wref ? wref.resource === 'requests.cpu' && String(wref.divisor) === '1'
          : /^([1-9][0-9]*|dev|io)$/.test(workers?.value ?? ''),
     'MCPBRIDGE_WORKERS: expected requests.cpu (divisor 1) or a number (cpu/ha count the node\'s CPUs, not the pod\'s)');

// Service, HPA, PDB.
must((svc.spec.type ?? 'ClusterIP') === 'ClusterIP', `Service type ${svc.spec.type}`);
must((svc.spec.sessionAffinity ?? 'None') === 'None', 'the Service has session affinity: replicas need none');
const svcTargets = (svc.spec.ports ?? []).map(p => portOf(p.targetPort ?? p.port));
must(svcTargets.includes(ports.mcp) && svcTargets.includes(ports.metrics), `the Service must expose the mcp and metrics ports: ${JSON.stringify(svc.spec.ports)}`);
const t = hpa.spec.scaleTargetRef ?? {};
must(t.kind === 'Deployment' && t.name === dep.metadata.name && t.apiVersion === 'apps/v1', `HPA target ${JSON.stringify(t)}`);
must(hpa.spec.minReplicas >= 3 && hpa.spec.maxReplicas > hpa.spec.minReplicas, `HPA replicas ${hpa.spec.minReplicas}..${hpa.spec.maxReplicas}: expected min >= 3 < max`);
must((hpa.spec.metrics ?? []).some(m => m.type === 'Resource' && m.resource?.name === 'cpu' &&
       m.resource.target?.type === 'Utilization' && m.resource.target.averageUtilization === 70),
     'the HPA must target 70% average CPU utilization (the seed\'s scale-out trigger)');
must(hpa.spec.behavior?.scaleDown?.stabilizationWindowSeconds > 0, 'the HPA has no scale-down stabilization window');
must(pdb.spec.maxUnavailable === 1 || (pdb.spec.minAvailable >= 1 && pdb.spec.minAvailable < hpa.spec.minReplicas),
     `PodDisruptionBudget ${JSON.stringify(pdb.spec)}: expected maxUnavailable 1 or minAvailable below minReplicas`);
stop();

for (const [k, v] of Object.entries(cm.data)) fs.writeFileSync(path.join(out, 'etc', k), v);
fs.writeFileSync(path.join(out, 'env.good'), good.join('\n') + '\n');
fs.writeFileSync(path.join(out, 'env.example'), example.join('\n') + '\n');
fs.writeFileSync(path.join(out, 'facts'), [
  `image=${c.image}`, `run_as_user=${psc.runAsUser}`, `args=${JSON.stringify(c.args)}`,
  `config_file=${path.basename(configPath)}`, `port_mcp=${ports.mcp}`, `port_metrics=${ports.metrics}`,
  `prestop_binary=${preStopBinary}`, `admin_env=${obs.admin.token_env}`, `service=${svc.metadata.name}`,
].join('\n') + '\n');
JS
declare -A fact
while IFS='=' read -r k v; do fact[$k]=$v; done < "$MB_TMP/k8s/facts"

# check_env FILE: the assignments of an env file, as arguments for env(1).
check_env() { local a=(); while IFS= read -r line; do [ -n "$line" ] && a+=("$line"); done < "$1"; printf '%s\0' "${a[@]}"; }
mapfile -d '' good_env < <(check_env "$MB_TMP/k8s/env.good")
mapfile -d '' example_env < <(check_env "$MB_TMP/k8s/env.example")
cfg_file=$MB_TMP/k8s/etc/${fact[config_file]}
set +e
out=$(env "${good_env[@]}" "$MCPBRIDGE" check --config "$cfg_file" 2> "$MB_TMP/check.err"); rc=$?
set -e
err=$(cat "$MB_TMP/check.err")
expect_eq "$rc" 0 "mcpbridge check of the ConfigMap's config (stderr: $err)"
[ "${out%%$'\n'*}" = "configuration OK" ] || fail "check of the ConfigMap's config: $out"
# Binding 0.0.0.0 is warned about by design (and is right in a pod); any other warning is a
# mistake in the config (unknown keys are warnings).
others=$(grep -v 'runtime.server.transport.host: binding to "0.0.0.0"' <<<"$err" || true)
[ -z "$others" ] || fail "check of the ConfigMap's config warns: $others"
set +e
out=$(env "${example_env[@]}" "$MCPBRIDGE" check --config "$cfg_file" 2>&1); rc=$?
set -e
expect_eq "$rc" 1 "check with the Secret's unedited example values (must refuse to start)"
grep -q "runtime.server.session.secret: too short" <<<"$out" || fail "the example session secret is not what was refused: $out"
cmp -s "$MB_TMP/k8s/etc/openapi.yaml" "$src/demo/openapi.yaml" \
  || fail "the ConfigMap's openapi.yaml differs from demo/openapi.yaml (copy it again: sed '/./s/^/    /' demo/openapi.yaml)"
version=$("$MCPBRIDGE" version)
expect_eq "${fact[image]##*:}" "${version#mcpbridge }" "the image tag (kustomization.yaml images) and the binary's version"
echo "ok: Kubernetes objects consistent; the ConfigMap's config passes check with the Secret's keys, and fails closed with its example values"

# --- the ConfigMap's config, served: on loopback and free ports, everything else as in the pod ---
P_MCP=$(free_port); P_ADMIN=$(free_port)
[ "$P_MCP" != "$P_ADMIN" ] || P_ADMIN=$(free_port)
mkdir -p "$MB_TMP/served"
cp "$MB_TMP/k8s/etc/"* "$MB_TMP/served/"
served_cfg=$MB_TMP/served/${fact[config_file]}
sed -i -e 's/^\( *\)host: 0\.0\.0\.0\( .*\)\{0,1\}$/\1host: 127.0.0.1/' \
       -e "s/^\( *\)port: ${fact[port_mcp]}\( .*\)\{0,1\}\$/\1port: $P_MCP/" \
       -e "s/^\( *\)port: ${fact[port_metrics]}\( .*\)\{0,1\}\$/\1port: $P_ADMIN/" "$served_cfg"
served=$(<"$served_cfg")
[[ $served != *"0.0.0.0"* && $served == *"port: $P_MCP"* && $served == *"port: $P_ADMIN"* ]] \
  || fail "could not move the ConfigMap's config to loopback: $served"
env "${good_env[@]}" "$MCPBRIDGE" serve --config "$served_cfg" --workers 2 2> "$MB_TMP/served.log" &
MB_PIDS+=("$!")
SERVED=$!
wait_http "http://127.0.0.1:$P_MCP/healthz" 15
pod_ip=$(sed -n 's/^POD_IP=//p' "$MB_TMP/k8s/env.good")
namespace=$(sed -n 's/^POD_NAMESPACE=//p' "$MB_TMP/k8s/env.good")
token=$(sed -n "s/^${fact[admin_env]}=//p" "$MB_TMP/k8s/env.good")
[ -n "$pod_ip" ] && [ -n "$namespace" ] && [ -n "$token" ] || fail "POD_IP, POD_NAMESPACE or ${fact[admin_env]} missing from the pod's env"
code() { curl -s -m 5 -o "$MB_TMP/served.body" -D "$MB_TMP/served.headers" -w '%{http_code}' "$@" || true; }
svc_host=${fact[service]}.$namespace.svc
mcp=(-X POST -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream'
     --data '{"jsonrpc":"2.0","id":1,"method":"ping"}' "http://127.0.0.1:$P_MCP/mcp")
# The kubelet probes by pod IP; health is not Host-checked.
expect_eq "$(code -H "Host: 192.0.2.1:$P_MCP" "http://127.0.0.1:$P_MCP/healthz")" 200 "/healthz as the kubelet asks"
expect_eq "$(code -H "Host: 192.0.2.1:$P_MCP" "http://127.0.0.1:$P_MCP/readyz")" 200 "/readyz as the kubelet asks"
# Prometheus scrapes the pod IP with the token; kubectl port-forward arrives as localhost.
expect_eq "$(code -H "Host: $pod_ip:$P_ADMIN" -H "Authorization: Bearer $token" "http://127.0.0.1:$P_ADMIN/metrics")" 200 "/metrics by pod IP with the token"
grep -q '^mcpbridge_build_info' "$MB_TMP/served.body" || fail "/metrics body: $(head -c 300 "$MB_TMP/served.body")"
expect_eq "$(code -H "Host: localhost:$P_ADMIN" -H "Authorization: Bearer $token" "http://127.0.0.1:$P_ADMIN/metrics")" 200 "/metrics through kubectl port-forward"
expect_eq "$(code -H "Host: $pod_ip:$P_ADMIN" "http://127.0.0.1:$P_ADMIN/metrics")" 401 "/metrics without the token"
expect_eq "$(code -H "Host: attacker.example:$P_ADMIN" -H "Authorization: Bearer $token" "http://127.0.0.1:$P_ADMIN/metrics")" 403 "/metrics with a foreign Host"
expect_eq "$(code -H "Host: $svc_host:$P_MCP" "http://127.0.0.1:$P_MCP/metrics")" 404 "/metrics on the MCP port (admin routes only on their own port)"
# The MCP endpoint: authentication on (401 with RFC 9728 metadata), Host guard on.
expect_eq "$(code -H "Host: $svc_host:$P_MCP" "${mcp[@]}")" 401 "MCP request without credentials"
grep -qi '^WWW-Authenticate: Bearer resource_metadata=' "$MB_TMP/served.headers" || fail "401 without resource_metadata: $(cat "$MB_TMP/served.headers")"
expect_eq "$(code -H "Host: attacker.example" "${mcp[@]}")" 403 "MCP request with a foreign Host"
kill -TERM "$SERVED"
rc=0; wait "$SERVED" || rc=$?
expect_eq "$rc" 0 "exit code of the ConfigMap's config after SIGTERM (log: $(tail -3 "$MB_TMP/served.log"))"
echo "ok: the ConfigMap's config serves: probes by pod IP, /metrics only on its port with the token, auth and Host guard on the MCP port"

# --- Dockerfile ------------------------------------------------------------------------------
# Instructions one per line: comments dropped, continuation lines joined.
instructions=$(sed '/^[[:space:]]*#/d' "$src/Dockerfile" | sed -e ':a' -e '/\\$/N; s/\\\n/ /; ta' | sed '/^[[:space:]]*$/d')
stages=$(grep -c '^FROM ' <<<"$instructions")
expect_eq "$stages" 2 "Dockerfile stages"
build_stage=$(awk '/^FROM /{n++} n==1' <<<"$instructions")
final_stage=$(awk '/^FROM /{n++} n==2' <<<"$instructions")
grep -q '^FROM debian:bookworm AS build$' <<<"$build_stage" || fail "build stage: expected FROM debian:bookworm AS build"
grep -q '^FROM debian:bookworm-slim$' <<<"$final_stage" || fail "runtime stage: expected FROM debian:bookworm-slim"
# apt_packages STAGE: the packages its apt-get install commands name, sorted.
apt_packages() { grep -o 'apt-get install[^&;]*' <<<"$1" | tr ' ' '\n' | grep -v -e '^-' -e '^apt-get$' -e '^install$' -e '^$' | sort -u; }
build_pkgs=$(apt_packages "$build_stage")
runtime_pkgs=$(apt_packages "$final_stage")
# install-deps.sh's C build dependencies: the toolchain and the -dev packages, not the test tools.
deps_pkgs=$(sed -n '/^debs=(/,/)/p' "$src/scripts/install-deps.sh" | tr -s ' ()' '\n' |
            grep -E '^(build-essential|cmake|pkg-config|lib.*-dev)$' | grep -v -e '^libcmocka-dev$' -e '^libclang-rt' | sort -u)
[ -n "$deps_pkgs" ] || fail "no build dependencies found in scripts/install-deps.sh"
expect_eq "$(tr '\n' ' ' <<<"$build_pkgs")" "$(tr '\n' ' ' <<<"$deps_pkgs")" "build-stage packages vs install-deps.sh"

# Package closures from the dpkg database (one query): every installed package's dependencies.
dpkg-query -W -f='${db:Status-Abbrev}\t${Package}\t${Essential}\t${Pre-Depends}, ${Depends}\n' |
  awk -F'\t' '$1 ~ /^ii/ { print $2 "\t" $3 "\t" $4 }' > "$MB_TMP/dpkg.db"
# closure SEED...: the seeds and everything they depend on (installed alternatives only).
closure() {
  awk -F'\t' -v seeds="$*" '
    { ess[$1] = $2; deps[$1] = $3; installed[$1] = 1 }
    END {
      n = split(seeds, q, " "); for (i = 1; i <= n; i++) seen[q[i]] = 1
      for (i = 1; i <= n; i++) {
        m = split(deps[q[i]], d, /[,|]/)
        for (j = 1; j <= m; j++) {
          p = d[j]; sub(/\(.*/, "", p); gsub(/[ \t]/, "", p); sub(/:.*/, "", p)
          if (p != "" && installed[p] && !seen[p]) { seen[p] = 1; q[++n] = p }
        }
      }
      for (p in seen) print p
    }' "$MB_TMP/dpkg.db" | sort -u
}
essential=$(awk -F'\t' '$2 == "yes" { print $1 }' "$MB_TMP/dpkg.db")
base_pkgs=$(closure $essential)                       # in every Debian image, -slim included
runtime_closure=$(closure $runtime_pkgs $essential)   # what the runtime stage has
# The libraries the binary loads (ldd) and those it names itself (NEEDED), and the packages
# that ship them: one dpkg-query for all (each call reads the whole file database; ldd prints
# /lib/..., dpkg may know the file as /usr/lib/...). Sets are associative arrays: this machine
# forks slowly under load, and a grep per library cost seconds.
declare -A path_of real_of owner in_runtime in_base in_closure in_direct
while IFS= read -r line; do
  [[ $line =~ ^[[:space:]]*([^[:space:]]+)\ =\>\ (/[^ ]+) ]] && path_of[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]}
done <<<"$(ldd "$MCPBRIDGE")"
[ ${#path_of[@]} -gt 0 ] || fail "ldd lists no libraries for $MCPBRIDGE"
paths=("${path_of[@]}" ${fact[prestop_binary]})
mapfile -t reals < <(realpath -m "${paths[@]}")
candidates=()
for i in "${!paths[@]}"; do
  real_of[${paths[$i]}]=${reals[$i]}
  candidates+=("${paths[$i]}" "${reals[$i]}" "${reals[$i]#/usr}")
done
while IFS= read -r line; do
  [[ $line =~ ^([^:,\ ]+)(:[a-z0-9]+)?(,\ [^:]+)?:\ (/.*)$ ]] && owner[${BASH_REMATCH[4]}]=${BASH_REMATCH[1]}
done < <(dpkg-query -S "${candidates[@]}" 2>/dev/null || true)
# package_of PATH: sets pkg to the package that ships PATH.
package_of() {
  local cand
  for cand in "$1" "${real_of[$1]}" "${real_of[$1]#/usr}"; do
    [ -n "${owner[$cand]:-}" ] && { pkg=${owner[$cand]}; return 0; }
  done
  fail "no installed package ships $1"
}
for p in $runtime_pkgs; do in_runtime[$p]=1; done
for p in $base_pkgs; do in_base[$p]=1; done
for p in $runtime_closure; do in_closure[$p]=1; done
for lib in $(readelf -d "$MCPBRIDGE" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
  [ -n "${path_of[$lib]:-}" ] || fail "ldd does not resolve $lib"
  package_of "${path_of[$lib]}"
  in_direct[$pkg]=1
  [ -n "${in_runtime[$pkg]:-}${in_base[$pkg]:-}" ] || fail "the binary links $lib ($pkg), which the runtime stage does not install"
done
for lib in "${!path_of[@]}"; do
  package_of "${path_of[$lib]}"
  [ -n "${in_closure[$pkg]:-}" ] || fail "$lib ($pkg) is not pulled in by the runtime stage's packages"
done
for p in $runtime_pkgs; do
  [ "$p" = ca-certificates ] && continue   # the trust store for downstream TLS, not a library
  [ -n "${in_direct[$p]:-}" ] || fail "the runtime stage installs $p, which the binary does not link"
done
# COPY sources exist and are in the build context.
match_glob() {   # match_glob PATH PATTERN: Docker's pattern rules (* and ? stop at /, ** does not).
  local re=$2
  re=${re//./\\.}; re=${re//\*\*/@@}; re=${re//\*/[^/]*}; re=${re//@@/.*}; re=${re//\?/[^/]}
  [[ $1 =~ ^${re}$ ]]
}
ignored() {      # ignored PATH: true when .dockerignore keeps PATH out of the build context.
  local path=$1 verdict=1 line pat neg prefix part parts
  while IFS= read -r line; do
    line=${line%%#*}; line=${line%"${line##*[![:space:]]}"}
    [ -n "$line" ] || continue
    neg=0; [ "${line:0:1}" = "!" ] && { neg=1; line=${line:1}; }
    pat=${line%/}; pat=${pat#/}
    prefix=""
    IFS=/ read -ra parts <<<"$path"
    for part in "${parts[@]}"; do
      prefix=${prefix:+$prefix/}$part
      if match_glob "$prefix" "$pat"; then verdict=$neg; break; fi
    done
  done < "$src/.dockerignore"
  return $verdict
}
copies=$(grep '^COPY ' <<<"$build_stage" | grep -v -- '--from=' | awk '{ for (i = 2; i < NF; i++) print $i }')
[ -n "$copies" ] || fail "no COPY in the build stage"
for s in $copies; do
  s=${s%/}
  [ -e "$src/$s" ] || fail "Dockerfile copies $s, which does not exist"
  ignored "$s" && fail ".dockerignore excludes $s, which the Dockerfile copies"
done
ignored src/main.c && fail ".dockerignore excludes src/main.c"
for p in build build-deploy/mcpbridge .deps tests/node_modules bench/results .git; do
  ignored "$p" || fail ".dockerignore lets $p into the build context"
done
grep -q '^COPY --from=build /mcpbridge /usr/local/bin/mcpbridge$' <<<"$final_stage" || fail "the runtime stage does not copy the binary to /usr/local/bin"
grep -q -- '-o /mcpbridge build/mcpbridge' <<<"$build_stage" || fail "the build stage does not produce /mcpbridge"
user=$(grep '^USER ' <<<"$final_stage" | tail -1 | awk '{ print $2 }')
[[ $user =~ ^([0-9]+)(:[0-9]+)?$ ]] || fail "USER '$user' is not numeric: Kubernetes cannot verify runAsNonRoot"
[ "${BASH_REMATCH[1]}" -ne 0 ] || fail "USER is root"
expect_eq "${BASH_REMATCH[1]}" "${fact[run_as_user]}" "the image's USER and the pod's runAsUser"
grep -q -- "--uid ${BASH_REMATCH[1]} " <<<"$final_stage" || fail "no user with uid ${BASH_REMATCH[1]} is created"
grep -qx 'ENTRYPOINT \["mcpbridge"\]' <<<"$final_stage" || fail "ENTRYPOINT is not [\"mcpbridge\"]"
cmd=$(sed -n 's/^CMD //p' <<<"$final_stage" | tr -d ' ')
expect_eq "$cmd" "${fact[args]}" "the image's CMD and the pod's args"
grep -qx 'STOPSIGNAL SIGTERM' <<<"$final_stage" || fail "no STOPSIGNAL SIGTERM"
exposed=" $(sed -n 's/^EXPOSE //p' <<<"$final_stage") "
for p in "${fact[port_mcp]}" "${fact[port_metrics]}"; do
  grep -q " $p " <<<"$exposed" || fail "EXPOSE lacks port $p"
done
# preStop runs /bin/sleep inside the image: shipped by coreutils, which every Debian image has.
if [ -n "${fact[prestop_binary]}" ]; then
  package_of "${fact[prestop_binary]}"
  grep -qx "$pkg" <<<"$essential" || fail "preStop runs ${fact[prestop_binary]} ($pkg), which is not Essential: the slim image may lack it"
fi
echo "ok: Dockerfile: runtime packages cover ldd ($(wc -w <<<"$runtime_pkgs") packages), COPY sources in context, USER $user"

# --- the container's stop path: PID 1, SIGTERM, a call in flight ----------------------------------
python3 "$here/process_downstream.py" "$MB_TMP/downstream.port" &
MB_PIDS+=("$!")
for _ in $(seq 100); do [ -s "$MB_TMP/downstream.port" ] && break; sleep 0.05; done
[ -s "$MB_TMP/downstream.port" ] || fail "downstream did not start"
cat > "$MB_TMP/spec.yaml" <<'YAML'
openapi: 3.0.3
info: { title: deploy test API, version: "1" }
paths:
  /slow:
    get:
      operationId: slow_call
      summary: Answers after one second
      responses:
        "200": { description: slow, content: { application/json: { schema: { type: object } } } }
YAML
PORT=$(free_port)
cat > "$MB_TMP/pid1.json" <<JSON
{
  "api": { "openapi": { "spec_file": "spec.yaml", "base_url": "http://127.0.0.1:$(cat "$MB_TMP/downstream.port")" } },
  "runtime": {
    "server": { "transport": { "host": "127.0.0.1", "port": $PORT }, "shutdown_grace_seconds": 5,
                "session": { "enabled": false } },
    "middleware": { "request_timeout": { "enabled": true, "timeout_ms": 4000 } }
  }
}
JSON
ns=(unshare --user --map-root-user --pid --fork --mount-proc)
if ! ns_err=$("${ns[@]}" true 2>&1); then
  echo "note: no PID namespace here ($ns_err): the stop path is checked as an ordinary process, not as PID 1"
  ns=()
fi
LOG=$MB_TMP/pid1.log
MCPBRIDGE_WORKERS=$unit_workers "${ns[@]}" "$MCPBRIDGE" serve --config "$MB_TMP/pid1.json" 2> "$LOG" &
OUTER=$!
MB_PIDS+=("$OUTER")
wait_http "http://127.0.0.1:$PORT/readyz" 15
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/readyz")" 200 "/readyz before SIGTERM"
grep -q "from MCPBRIDGE_WORKERS" "$LOG" || fail "the worker count of the unit's MCPBRIDGE_WORKERS=$unit_workers was not used: $(cat "$LOG")"
master=$OUTER
if [ ${#ns[@]} -gt 0 ]; then
  master=$(pgrep -P "$OUTER" | head -1)
  [ -n "$master" ] || fail "no process inside the PID namespace"
  expect_eq "$(awk '/^NSpid:/ { print $NF }' "/proc/$master/status")" 1 "mcpbridge's pid inside its namespace"
fi
curl -s -m 20 -o "$MB_TMP/slow.body" -w '%{http_code}' -X POST "http://127.0.0.1:$PORT/mcp" \
  -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
  --data '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"slow_call","arguments":{}}}' \
  > "$MB_TMP/slow.code" &
SLOW=$!
for _ in $(seq 100); do [ -e "$MB_TMP/downstream.port.slow-started" ] && break; sleep 0.05; done
[ -e "$MB_TMP/downstream.port.slow-started" ] || fail "the slow call never reached the downstream"
kill -TERM "$master"    # from outside the namespace, as the container runtime sends it
rc=0
wait "$OUTER" || rc=$?
wait "$SLOW" || true
expect_eq "$rc" 0 "exit code after SIGTERM (log: $(tail -5 "$LOG"))"
expect_eq "$(cat "$MB_TMP/slow.code")" 200 "the call in flight across SIGTERM"
grep -q '"slow"' "$MB_TMP/slow.body" || fail "the call in flight did not complete: $(cat "$MB_TMP/slow.body")"
grep -q 'received SIGTERM, graceful shutdown' "$LOG" || fail "SIGTERM not handled as a graceful shutdown: $(cat "$LOG")"
echo "ok: stop path${ns:+ as PID 1}: SIGTERM with a call in flight, the call answered 200, exit 0"

# --- docs name every deployment file -----------------------------------------------------------
for f in deploy/systemd/mcpbridge.service deploy/systemd/mcpbridge.env.example Dockerfile .dockerignore \
         $(cd "$src" && ls deploy/kubernetes/*.yaml); do
  grep -qF "$(basename "$f")" "$src/docs/deployment.md" || fail "docs/deployment.md does not mention $f"
done
echo "PASS test_deploy"
