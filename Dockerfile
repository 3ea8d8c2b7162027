# syntax=docker/dockerfile:1
# One image for every process of SmartSpec Autopilot (see docs/deploy.md):
#   web (default):  daphne on 0.0.0.0:8000 (python -m smartspec.web)
#   workers:        docker run IMAGE python manage.py qcluster
#   release step:   docker run --rm IMAGE python manage.py migrate_all
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SMARTSPEC_DATA_DIR=/data \
    PORT=8000

# pg_dump/pg_restore for `manage.py backup` and `restore` against PostgreSQL; bubblewrap
# confines shell and agent steps (STEP_SANDBOX; the container needs user namespaces, see
# docs/deploy.md).
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client bubblewrap \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# Dependencies first, so a code change does not reinstall them. Every package is pinned
# with its hashes: pip refuses anything that does not match the lock.
COPY requirements.lock .
RUN pip install --require-hashes --no-deps -r requirements.lock

# The code belongs to root and is read-only for the app user; only /data is writable.
COPY . .
RUN groupadd --system --gid 10001 smartspec \
    && useradd --system --uid 10001 --gid smartspec --home-dir /home/smartspec --create-home smartspec \
    && mkdir -p /data \
    && chown smartspec:smartspec /data

# Static files are collected at build time; a throwaway key keeps settings from writing a
# generated one into the image.
RUN SECRET_KEY=collectstatic-only-not-a-secret SMARTSPEC_DATA_DIR=/tmp/build-data \
    python manage.py collectstatic --noinput --verbosity 0 \
    && rm -rf /tmp/build-data

USER smartspec
VOLUME ["/data"]
EXPOSE 8000

# Web containers answer /healthz; worker containers (PID 1 is qcluster) check that their
# cluster reported in. See workflows/observability/probe.py.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-m", "workflows.observability.probe"]

CMD ["python", "-m", "smartspec.web", "-b", "0.0.0.0", "-p", "8000", "smartspec.asgi:application"]
