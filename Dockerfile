# One image for every process kind of the gateway; the command picks the role:
#   web (gunicorn, default), worker (backend Celery worker with beat), node (python -m node_agent),
#   migrate, healthcheck, or any other command (e.g. `python manage.py createsuperuser`).
# Build: `make image` (podman; BASE=... for another base, see README "Container image").
# The base needs Debian's apt and a Python >= 3.11 with venv: python:3.12-slim (python in
# /usr/local/bin) or a local Debian bookworm (python3 3.11 in /usr/bin, deploy/build-local-base.sh).
ARG BASE=python:3.12-slim

# --- Python packages, in a venv both bases can make --------------------------------------------
FROM ${BASE} AS build
# pip trusts the base's system CA store (a local base carries the host's extra CAs).
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_CERT=/etc/ssl/certs/ca-certificates.crt
RUN python3 -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required, not " + sys.version' \
 && python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install -q --upgrade pip
COPY requirements.txt /tmp/requirements.txt
# Every runtime package ships wheels (psycopg[binary], pillow, neonize's Go library): no compiler.
RUN /opt/venv/bin/pip install -q -r /tmp/requirements.txt

# --- Runtime ----------------------------------------------------------------------------------
FROM ${BASE}
ARG DEBIAN_FRONTEND=noninteractive
# libmagic1: python-magic (media content sniffing, neonize); ffmpeg: neonize's video, voice
# notes and stickers (the same two .ci/run installs).
RUN apt-get update \
 && apt-get install -y --no-install-recommends libmagic1 ffmpeg ca-certificates \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
 && groupadd --gid 10001 gateway \
 && useradd --uid 10001 --gid 10001 --home-dir /app --no-create-home --shell /usr/sbin/nologin \
      gateway

COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    ENV_FILE=
WORKDIR /app
COPY . /app
# Static files are collected into the image (whitenoise serves them); the dummy key and data
# folder exist only for this step. /app stays root's; only /app/data (DATA_DIR, and the node
# agent's relative data/ paths) is the gateway user's: mount a volume there.
RUN DATA_DIR=/tmp/build-data SECRET_KEY=collectstatic-only-not-a-secret \
      python manage.py collectstatic --noinput -v0 \
 && rm -rf /tmp/build-data \
 && python -m compileall -q -j 0 /app \
 && chmod 0755 /app/deploy/entrypoint.sh \
 && mkdir -p /app/data \
 && chown 10001:10001 /app/data

USER 10001:10001
# web, node health (WORKER_PORT), backend worker metrics (METRICS_WORKER_PORT)
EXPOSE 8000 8001 8002
# web: GET /health on PORT; node: GET /health on WORKER_PORT; worker: the process is up.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
  CMD ["/app/deploy/entrypoint.sh", "healthcheck"]
ENTRYPOINT ["/app/deploy/entrypoint.sh"]
CMD ["web"]
