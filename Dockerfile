# syntax=docker/dockerfile:1
#
# The worker image: `python -m app worker` (and every other `python -m app` command).
#
#   docker build -t sms-optout:local .
#   docker run --rm sms-optout:local --version
#
# Two stages: the builder installs the pinned dependencies (constraints.txt) into a virtualenv,
# fetches the dashboard's chart library from the npm registry (scripts/vendor_assets.py: pinned
# version, SHA-512 and SHA-256 checked) and installs the app into the same virtualenv; the
# runtime stage copies that virtualenv onto a fresh base, with no compiler, pip cache or
# sources, and runs as a non-root user.
#
# Stopping: SIGTERM. The worker then finishes its current step and makes what it processed
# durable (a final checkpoint: up to 10 s for the engine's step, up to 10 s for the checkpoint,
# then the clients close; app/runtime/host.py). Give it a grace period of 30 s before SIGKILL:
# Compose `stop_grace_period: 30s`, Kubernetes `terminationGracePeriodSeconds: 30`,
# `docker stop --time 30`. A SIGKILL loses nothing (the replay redoes what was not committed),
# it only costs the next start more work. See docs/deploy.md.

# Pinned base: Python 3.11 (the version the suite and `make bench` run on), Debian 12 slim.
# Pin a digest too in production (python:3.11.14-slim-bookworm@sha256:...).
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_NO_INPUT=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src

# 1. Dependencies only, exactly as pinned in constraints.txt (a layer that changes only when
#    pyproject.toml or constraints.txt do). Every wheel the runtime needs is a manylinux wheel:
#    no compiler in the image.
COPY pyproject.toml constraints.txt ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -c constraints.txt -r /tmp/requirements.txt setuptools \
    && pip check

# 2. The dashboard's chart library (git-ignored, so never in the build context): fetched here
#    from the npm registry at its pinned version, checked, extracted into app/runtime/web/static/vendor.
COPY scripts/vendor_assets.py scripts/vendor_assets.py
COPY app app
RUN python scripts/vendor_assets.py && python scripts/vendor_assets.py --check

# 3. The app itself (a regular, non-editable install: templates, static files and the vendored
#    library are package data).
COPY schemas schemas
COPY README.md LICENSE ./
RUN pip install --no-deps --no-build-isolation -c constraints.txt . \
    && python -c "import app.runtime.web.dashboard as d; assert (d.STATIC / 'vendor' / 'uPlot.iife.min.js').is_file()"

# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

ARG APP_UID=10001
RUN groupadd --system --gid ${APP_UID} optout \
    && useradd --system --uid ${APP_UID} --gid optout --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin optout \
    && mkdir -p /data \
    && chown optout:optout /data \
    && chmod 0750 /data

COPY --from=builder /opt/venv /opt/venv

# PYTHONSAFEPATH: the working directory (/data) is never on sys.path.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONSAFEPATH=1 \
    OPTOUT_DATA_DIR=/data \
    OPTOUT_WEB_BIND=0.0.0.0 \
    OPTOUT_WEB_PORT=6066

LABEL org.opencontainers.image.title="sms-optout" \
      org.opencontainers.image.description="SMS opt-out compliance stream processor (Kafka)" \
      org.opencontainers.image.licenses="Apache-2.0"

# RocksDB state (one directory per table partition). Losing it costs a recovery from the
# changelog at the next start, never a decision; keep it across restarts all the same.
VOLUME ["/data"]
WORKDIR /data
EXPOSE 6066

# Numeric, so that Kubernetes' runAsNonRoot can verify it.
USER 10001:10001

# Ready = started, partitions assigned and their state recovered (GET /readyz, docs/operations.md).
# The start period covers a table recovery (1,000,000 opt-outs: ~6 s in `make bench`).
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/readyz' % os.environ.get('OPTOUT_WEB_PORT', '6066'), timeout=4)"]

# Graceful stop on SIGTERM: a final checkpoint; allow 30 s (see the top of this file).
STOPSIGNAL SIGTERM

ENTRYPOINT ["python", "-m", "app"]
CMD ["worker"]
