#!/usr/bin/env bash
# Smoke test of a built image without running it (`make image-smoke`; podman here can build but
# not run containers): create a container, mount its filesystem and run the gateway's checks in
# it by chroot, as the image's user. Usage: deploy/image-smoke.sh [image]. Needs root.
set -euo pipefail

IMAGE="${1:-localhost/whatsapp-gateway:latest}"
PODMAN="${PODMAN:-podman}"

user="$($PODMAN image inspect --format '{{.Config.User}}' "$IMAGE")"
[ "$user" = "10001:10001" ] || { echo "FAIL: image user is '$user', not 10001:10001"; exit 1; }
echo "ok: image user $user, size $($PODMAN image inspect --format '{{.Size}}' "$IMAGE" | numfmt --to=si)B"

ctr="$($PODMAN create --no-healthcheck "$IMAGE")"   # created, never started: a writable layer to mount
mnt="$($PODMAN mount "$ctr")"
pids=()
cleanup() {
  [ ${#pids[@]} -eq 0 ] || { kill -TERM "${pids[@]}" 2>/dev/null; sleep 3; kill -KILL "${pids[@]}" 2>/dev/null; } || true
  umount "$mnt/proc" "$mnt/dev" 2>/dev/null || true
  $PODMAN umount "$ctr" >/dev/null || true
  $PODMAN rm -f "$ctr" >/dev/null || true
}
trap cleanup EXIT
mount -t proc proc "$mnt/proc"
mount --bind /dev "$mnt/dev"

# in_image [VAR=value ...] command...: run in /app as uid 10001 with only the image's environment.
# Every step execs the next, so a background in_image's $! is the app's own process.
chroot_cmd=(chroot --userspec=10001:10001 "$mnt" /usr/bin/env -i
  PATH=/opt/venv/bin:/usr/local/bin:/usr/bin:/bin HOME=/app LANG=C.UTF-8 ENV_FILE=
  /bin/sh -c 'cd /app && exec /usr/bin/env "$@"' in_image)
in_image() { "${chroot_cmd[@]}" "$@"; }

echo "--- python"
in_image python -c 'import sys; assert sys.version_info >= (3, 11), sys.version; print(sys.executable, sys.version.split()[0])'

echo "--- manage.py check"
in_image SECRET_KEY=smoke-test-key /opt/venv/bin/python /app/manage.py check

echo "--- manage.py check --deploy (README's production block)"
in_image SECRET_KEY=smoke-test-key-that-is-long-enough-for-check-deploy-0123456789abcdef \
  REQUIRE_SECRET_KEY=true ALLOWED_HOSTS=gateway.example.com \
  CSRF_TRUSTED_ORIGINS=https://gateway.example.com SESSION_COOKIE_SECURE=true CSRF_COOKIE_SECURE=true \
  SECURE_SSL_REDIRECT=true SECURE_PROXY_SSL_HEADER=HTTP_X_FORWARDED_PROTO TRUSTED_PROXY_COUNT=1 \
  SECURE_HSTS_SECONDS=31536000 SECURE_HSTS_INCLUDE_SUBDOMAINS=true SECURE_HSTS_PRELOAD=true \
  /opt/venv/bin/python /app/manage.py check --deploy

echo "--- python -m node_agent --help"
# Prints its usage (it is configured by environment variables) and exits 0 without starting.
in_image /opt/venv/bin/python -m node_agent --help | grep -q "^usage: python -m node_agent"
echo "ok: usage printed"
echo "--- python -m node_agent with no configuration"
# Imports everything, says what is missing and exits 2 without starting anything.
set +e
out="$(in_image /opt/venv/bin/python -m node_agent 2>&1)"
rc=$?
set -e
echo "$out"
if [ "$rc" -ne 2 ] || ! grep -q "bad configuration: BACKEND_AUTH_TOKEN is required" <<<"$out"; then
  echo "FAIL: expected exit 2 and the missing-token message, got $rc"; exit 1
fi

echo "--- the WhatsApp engine's native parts (neonize's Go library, libmagic, ffmpeg)"
in_image python -c 'import magic, neonize.client; print("neonize", neonize.__name__, "ok; magic:", magic.from_buffer(b"%PDF-1.4", mime=True))'
in_image ffmpeg -hide_banner -version | head -n1

echo "--- files"
in_image sh -c 'n=$(find staticfiles -type f | wc -l); [ "$n" -gt 0 ] && echo "staticfiles: $n files"'
in_image sh -c 'test -w data && ! test -w . && ! test -w manage.py && echo "data/ writable, code read-only for uid $(id -u)"'
in_image sh -n deploy/entrypoint.sh && echo "entrypoint.sh: syntax ok"
echo "--- roles: web (migrating its SQLite), worker and node, as processes in the chroot"
# The embedded default (SQLite, filesystem broker in data/), on free ports of this machine.
read -r web_port node_port < <(python3 -c 'import socket
s = [socket.socket() for _ in range(2)]
[x.bind(("127.0.0.1", 0)) for x in s]
print(*[x.getsockname()[1] for x in s])')
logs="$(mktemp -d /tmp/gateway-smoke.XXXXXX)"
env=(SECRET_KEY=smoke-test-key WORKER_AUTH_TOKEN=smoke-token BACKEND_AUTH_TOKEN=smoke-token
  PORT="$web_port" WORKER_PORT="$node_port" BACKEND_URL="http://127.0.0.1:$web_port"
  WORKER_ID=smoke-node METRICS_WORKER_PORT=0)
"${chroot_cmd[@]}" "${env[@]}" MIGRATE_ON_START=true /app/deploy/entrypoint.sh web >"$logs/web.log" 2>&1 &
pids+=($!)
wait_for() {  # wait_for ROLE: its healthcheck passes within 90 s
  for _ in $(seq 90); do
    in_image "${env[@]}" /app/deploy/entrypoint.sh healthcheck "$1" 2>/dev/null && { echo "ok: $1 healthy"; return; }
    sleep 1
  done
  echo "FAIL: $1 not healthy; its log:"; tail -n 30 "$logs/$1.log"; exit 1
}
wait_for web
"${chroot_cmd[@]}" "${env[@]}" /app/deploy/entrypoint.sh worker >"$logs/worker.log" 2>&1 &
pids+=($!)
"${chroot_cmd[@]}" "${env[@]}" /app/deploy/entrypoint.sh node >"$logs/node.log" 2>&1 &
pids+=($!)
wait_for node
for _ in $(seq 60); do grep -q "ready\." "$logs/worker.log" && break; sleep 1; done
grep -q "beat: Starting" "$logs/worker.log" && grep -q "ready\." "$logs/worker.log" \
  || { echo "FAIL: worker not ready"; tail -n 30 "$logs/worker.log"; exit 1; }
echo "ok: worker ready, with beat"
for _ in $(seq 30); do
  health="$(in_image python -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' "http://127.0.0.1:$web_port/health")"
  grep -q '"online": 1' <<<"$health" && break
  sleep 1
done
echo "web /health: $health"
grep -q '"online": 1' <<<"$health" || { echo "FAIL: the node did not come online"; exit 1; }
ps -o pid=,user=,args= -p "$(IFS=,; echo "${pids[*]}")" | cut -c1-120
rm -rf "$logs"
echo "smoke test passed: $IMAGE"
