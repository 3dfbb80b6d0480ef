#!/bin/sh
# Container entrypoint (Dockerfile): the first argument picks the role; anything else is run as is.
#   web          [MIGRATE_ON_START=true: migrate first] gunicorn on 0.0.0.0:PORT (8000), gunicorn.conf.py
#   worker       backend Celery worker on default,webhooks,webhooks.status, with beat: run exactly
#                one; more replicas need CELERY_BEAT=false
#   node         node agent (python -m node_agent); its health server binds WORKER_HOST (0.0.0.0)
#   stream       the live event stream (uvicorn) on 0.0.0.0:STREAM_PORT (8003)
#   migrate      python manage.py migrate --noinput
#   healthcheck  [web|node|worker] probe GET /health of this container's role (auto-detected)
# Extra arguments after web, worker or node go to gunicorn, celery or the node agent.
set -eu
cd /app

probe() {  # probe URL [Host header]: exit 0 on a 2xx answer
  exec python -c '
import sys, urllib.request
headers = {"Host": sys.argv[2]} if len(sys.argv) > 2 and sys.argv[2] else {}
urllib.request.urlopen(urllib.request.Request(sys.argv[1], headers=headers), timeout=8)
' "$@"
}

role="${1:-web}"
[ $# -gt 0 ] && shift
case "$role" in
  web)
    if [ "${MIGRATE_ON_START:-false}" = "true" ]; then
      python manage.py migrate --noinput
    fi
    exec gunicorn gateway.wsgi -c gunicorn.conf.py --bind "0.0.0.0:${PORT:-8000}" \
      --workers "${WEB_CONCURRENCY:-2}" --threads "${WEB_THREADS:-4}" --access-logfile - "$@"
    ;;
  worker)
    beat="--beat"
    [ "${CELERY_BEAT:-true}" = "true" ] || beat=""
    # shellcheck disable=SC2086 # $beat is one word or none
    exec celery -A gateway worker $beat -Q default,webhooks,webhooks.status -P threads \
      -c "${CELERY_CONCURRENCY:-8}" --loglevel "${LOG_LEVEL:-INFO}" "$@"
    ;;
  node)
    export WORKER_HOST="${WORKER_HOST:-0.0.0.0}"
    exec python -m node_agent "$@"
    ;;
  stream)
    exec uvicorn gateway.asgi:application --host 0.0.0.0 --port "${STREAM_PORT:-8003}" \
      --no-access-log --proxy-headers "$@"
    ;;
  migrate)
    exec python manage.py migrate --noinput "$@"
    ;;
  healthcheck)
    kind="${1:-}"
    if [ -z "$kind" ]; then  # from PID 1: the app itself, or an init running this script
      cmdline="$(tr '\0' ' ' </proc/1/cmdline)"
      case "$cmdline" in
        *node_agent*|*"entrypoint.sh node"*) kind=node ;;
        *celery*|*"entrypoint.sh worker"*) kind=worker ;;
        *) kind=web ;;
      esac
    fi
    case "$kind" in
      web)  # a Host that ALLOWED_HOSTS lets in (the first entry; "*" or ".domain" made concrete)
        host="${ALLOWED_HOSTS:-127.0.0.1}"
        host="${host%%,*}"
        host="${host#.}"
        [ "$host" = "*" ] && host=localhost
        probe "http://127.0.0.1:${PORT:-8000}/health" "$host"
        ;;
      node)
        host="${WORKER_HOST:-0.0.0.0}"
        case "$host" in 0.0.0.0|::|"") host=127.0.0.1 ;; *:*) host="[$host]" ;; esac
        probe "http://$host:${WORKER_PORT:-8001}/health"
        ;;
      *) exit 0 ;;
    esac
    ;;
  *)
    exec "$role" "$@"
    ;;
esac
