# Aliases only; see README.md.
PYTHON ?= python3
VENV ?= .venv
PORT ?= 8000
BIN := $(VENV)/bin
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/gateway
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15

.PHONY: run test install install-dev migrate lint fmt up bench

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# Secrets for the embedded default, made once and kept out of git.
.env:
	$(PYTHON) -c 'import secrets; t = secrets.token_urlsafe(32); print(f"SECRET_KEY={secrets.token_urlsafe(50)}\nWORKER_AUTH_TOKEN={t}\nBACKEND_AUTH_TOKEN={t}")' > .env
	chmod 600 .env

migrate: install .env
	$(BIN)/python manage.py migrate --noinput

# The gateway on the embedded default: web + backend worker with beat + one node agent, each
# restarted with back-off if it dies (manage.py supervise; exits go to the System log).
run: migrate
	$(BIN)/python manage.py collectstatic --noinput -v0
	PATH="$(CURDIR)/$(BIN):$$PATH" BACKEND_URL="$${BACKEND_URL:-http://127.0.0.1:$(PORT)}" \
		PUBLIC_URL="$${PUBLIC_URL:-http://127.0.0.1:$(PORT)}" \
		$(BIN)/python manage.py supervise --port $(PORT)

up: run

# `make test` runs the suite outside tests/e2e/ on PYTEST_WORKERS processes (pytest-xdist; each
# has its own database), then the end-to-end tests one at a time; PYTEST_ARGS runs just those.
PYTEST_WORKERS ?= 3
TEST_ENV = ENV_FILE= DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) DATA_DIR=$(CURDIR)/data/test
test: install-dev
ifeq ($(strip $(PYTEST_ARGS)),)
	$(TEST_ENV) $(BIN)/pytest -m "not e2e" -n $(PYTEST_WORKERS)
	$(TEST_ENV) $(BIN)/pytest -m e2e
else
	$(TEST_ENV) $(BIN)/pytest $(PYTEST_ARGS)
endif

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/python manage.py makemigrations --check --dry-run

fmt: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Send-path benchmark on the production shape (needs PostgreSQL and Redis); prints numbers.
bench: install-dev
	$(BIN)/python bench/send_path.py $(BENCH_ARGS)

# Container image (podman; not part of CI): README "Container image". Where base images cannot
# be pulled, make a local one first: `make image-base-local`, then
# `make image BASE=localhost/gateway-base:bookworm`; `make image-smoke` checks the built image.
IMAGE ?= localhost/whatsapp-gateway:latest
BASE ?= docker.io/library/python:3.12-slim
LOCAL_BASE ?= localhost/gateway-base:bookworm
PODMAN ?= podman
PODMAN_BUILD_FLAGS ?= --isolation chroot --network host --format docker
.PHONY: image image-base-local image-smoke
image:
	$(PODMAN) build $(PODMAN_BUILD_FLAGS) --build-arg BASE=$(BASE) -t $(IMAGE) -f Dockerfile .

image-base-local:
	deploy/build-local-base.sh $(LOCAL_BASE)

image-smoke:
	PODMAN=$(PODMAN) deploy/image-smoke.sh $(IMAGE)
