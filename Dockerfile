# syntax=docker/dockerfile:1
# One image for the five services (gateway, download, resize, cleanup, bridge): they share every
# dependency and the `shared` package, so one build gives one set of versions. Each Deployment or
# compose service picks its entry point with its command: python -m services.<name>.
# (docs/deploy.md explains the choice.)

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: a virtual environment with the locked dependencies, and the project's byte code ------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
WORKDIR /src
COPY requirements.lock ./
# Exact versions from the lock; --no-deps so nothing outside the lock gets in. A network whose
# proxy re-signs TLS passes its CA as a build secret (`--secret id=pip-ca,src=...`): it is mounted
# for this step only and never becomes a layer of the image (docs/containers.md).
RUN --mount=type=secret,id=pip-ca \
    if [ -s /run/secrets/pip-ca ]; then export PIP_CERT=/run/secrets/pip-ca; fi \
    && /opt/venv/bin/pip install --no-deps --only-binary=:all: -r requirements.lock \
    && /opt/venv/bin/python -m compileall -q /opt/venv/lib
COPY shared ./shared
COPY services ./services
COPY devstack ./devstack
RUN /opt/venv/bin/python -m compileall -q shared services devstack

# --- runtime: the slim base and the virtual environment; no compiler, no pip cache ---------------
FROM ${PYTHON_IMAGE} AS runtime
ARG UID=10001
RUN groupadd --system --gid ${UID} app \
    && useradd --system --uid ${UID} --gid ${UID} --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin app
COPY --from=build /opt/venv /opt/venv
COPY --from=build /src /app
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOST=0.0.0.0 \
    LOG_FORMAT=json
WORKDIR /app
USER 10001:10001
EXPOSE 8000 8001 8002 8003 8004
# Exec form: python is PID 1 and gets SIGTERM itself (every service exits 0 after in-flight work).
CMD ["python", "-m", "services.gateway"]
