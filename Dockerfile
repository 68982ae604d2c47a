# kamermonitor container image: `docker build -t kamermonitor .`
# State lives in the volume /data (SQLite by default; set KAMERMONITOR_DATABASE for PostgreSQL).
# The configuration is read from /config/kamermonitor.toml when mounted there.

# --- build: install the package and its dependencies into a virtual environment --------
FROM python:3.12-slim-bookworm AS build
ENV VIRTUAL_ENV=/opt/kamermonitor \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY monitor/ monitor/
RUN python -m venv "$VIRTUAL_ENV" \
    && "$VIRTUAL_ENV/bin/pip" install ".[postgres]" \
    && "$VIRTUAL_ENV/bin/kamermonitor" --version

# --- runtime: the virtual environment on a slim base, run as an unprivileged user -------
FROM python:3.12-slim-bookworm
ENV VIRTUAL_ENV=/opt/kamermonitor
ENV PATH="$VIRTUAL_ENV/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    KAMERMONITOR_CONFIG=/config/kamermonitor.toml \
    KAMERMONITOR_DATABASE=sqlite:////data/kamermonitor.db \
    KAMERMONITOR_LOG_FORMAT=json
RUN groupadd --system --gid 10001 kamermonitor \
    && useradd --system --uid 10001 --gid kamermonitor --home-dir /data --shell /usr/sbin/nologin kamermonitor \
    && install -d -o kamermonitor -g kamermonitor -m 0750 /data \
    && install -d -m 0755 /config
COPY --from=build /opt/kamermonitor /opt/kamermonitor
COPY config/kamermonitor.example.toml /config/kamermonitor.example.toml
VOLUME ["/data"]
WORKDIR /data
USER 10001:10001
# The monitor handles SIGTERM itself (it is PID 1 here, or runs under `docker run --init`
# / compose's `init: true`): it finishes the step in progress within 10 s and exits.
STOPSIGNAL SIGTERM
# Healthy while `status --check` says OK or WARNING (exit 0 or 1); CRITICAL (2) is
# unhealthy.  With [web] listen in the configuration, --healthz asks the running
# service's /healthz (a stopped or hung service is CRITICAL); without it, the check reads
# the database (no database yet, a source failing polls in a row, alerts failed for good,
# no poll for a long time are CRITICAL).
HEALTHCHECK --interval=60s --timeout=15s --start-period=3m --retries=3 \
    CMD ["/bin/sh", "-c", "kamermonitor status --check --healthz >/dev/null 2>&1; [ $? -lt 2 ]"]
ENTRYPOINT ["kamermonitor"]
CMD ["run"]
