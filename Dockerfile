# Infusion Scheduler image: exactly the locked dependencies, no build or test tools, non-root.
#
# Debian trixie's PostgreSQL client tools (17) are installed for `scheduler backup`/`restore`;
# pg_dump must be no older than the server, so docker-compose.yml runs PostgreSQL 17.
ARG PYTHON_IMAGE=python:3.12-slim-trixie

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/venv
# Dependencies first (their layer is reused until the lock changes), every file's hash checked,
# nothing resolved at build time: the image gets what CI tested.
COPY requirements.lock ./
RUN /opt/venv/bin/pip install --require-hashes --no-deps -r requirements.lock
COPY pyproject.toml README.md ./
COPY src ./src
RUN /opt/venv/bin/pip install --no-deps . \
    && /opt/venv/bin/pip uninstall --yes pip

FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    SCHEDULER_MIGRATIONS_DIR=/app/migrations \
    SCHEDULER_ENVIRONMENT=production
RUN apt-get update \
    && apt-get install --yes --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/* \
    && python -m pip uninstall --yes pip \
    && groupadd --system --gid 10001 scheduler \
    && useradd --system --uid 10001 --gid scheduler --home-dir /app --shell /usr/sbin/nologin scheduler
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY migrations ./migrations
USER 10001:10001
EXPOSE 8000
STOPSIGNAL SIGTERM
# Liveness of the API process; docker-compose.yml gives the worker and the migration job their
# own checks and asks the API for /readyz (database reachable and migrated).
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"]
CMD ["scheduler", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
