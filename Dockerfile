# ingest as a container: the daemon (`ingest run`) with output and state on the /data volume.
#   docker build -t ingest .
#   docker run -d --name ingest -p 127.0.0.1:8080:8080 -v ingest-data:/data --stop-timeout 30 ingest
# Your own feeds: mount a config over /etc/ingest/config.yaml. Any setting can be changed
# with INGEST_<SECTION>_<KEY> variables; SIGHUP (docker kill -s HUP ingest) reloads feeds.
# The ops server listens on every interface of the container (a published port reaches it
# only so); set INGEST_SERVER_TOKEN to require a bearer token for /status and
# /metrics, and publish the port on the host's loopback only (-p 127.0.0.1:8080:8080).

# Build stage: the package and its dependencies in /opt/venv (wheels only, no compiler).
FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
WORKDIR /src
COPY pyproject.toml README.md ./
COPY ingest/ ./ingest/
RUN /opt/venv/bin/pip install --no-cache-dir /src

# Run stage: the venv and the shipped config, a non-root user, nothing from the build.
FROM python:3.11-slim
COPY --from=build /opt/venv /opt/venv
COPY config.yaml /etc/ingest/config.yaml
RUN groupadd --system --gid 10001 ingest \
    && useradd --system --uid 10001 --gid 10001 --home-dir /data --shell /usr/sbin/nologin ingest \
    && mkdir -p /data \
    && chown 10001:10001 /data
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    INGEST_OUTPUT_DIR=/data \
    INGEST_STATE_PATH=/data/state.sqlite \
    INGEST_SERVER_HOST=0.0.0.0 \
    INGEST_SERVER_PORT=8080
USER 10001:10001
WORKDIR /data
VOLUME /data
EXPOSE 8080
# No curl in a slim image: Python asks /healthz (on the port the daemon was given).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('INGEST_SERVER_PORT', '8080'), timeout=4)"]
ENTRYPOINT ["ingest"]
CMD ["run", "--config", "/etc/ingest/config.yaml"]
