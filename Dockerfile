# syntax=docker/dockerfile:1
# The relay in a container: built on Debian 12, run from a slim Debian 12 image as a non-root
# user. Both stages call scripts that CI runs outside Docker too (tests/ops/, make test-ops):
# scripts/container/build.sh builds and stages, scripts/container/entrypoint.sh starts.
# Use it through docker-compose.yml (the relay and its Redis): README "Docker".

FROM debian:12-slim AS build
WORKDIR /src
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN bash scripts/install-deps.sh --build-only && rm -rf /var/lib/apt/lists/*
COPY . .
RUN bash scripts/container/build.sh /src /build /stage all

FROM debian:12-slim AS runtime
# The shared libraries bin/crs links (tests/ops/container_files_test.py checks the list
# against the built binary), and the CA certificates upstream TLS is verified with.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates libboost-json1.81.0 libboost-url1.81.0 libssl3 libhiredis0.14 \
      libspdlog1.10 libfmt9 libsimdjson14 libtomlplusplus3 libcurl4 libcrypt1 libjemalloc2 \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 crs \
 && useradd --system --uid 10001 --gid crs --home-dir /app --shell /usr/sbin/nologin crs
COPY --from=build /stage/ /usr/local/
COPY scripts/container/entrypoint.sh /usr/local/bin/crs-entrypoint
WORKDIR /app
RUN mkdir -p config data logs temp/exports \
 && chown -R crs:crs data logs temp \
 && chmod 0700 data temp/exports
USER crs:crs
# Listen on every interface of the container; Redis is the compose service `redis`.
ENV HOST=0.0.0.0 \
    PORT=3000 \
    SHUTDOWN_GRACE_PERIOD=30
EXPOSE 3000
VOLUME ["/app/data", "/app/logs", "/app/temp"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["crs", "healthcheck"]
# SIGTERM lets requests in flight finish for SHUTDOWN_GRACE_PERIOD seconds, then cuts the rest
# within 5 s: stop the container with a longer timeout (compose: stop_grace_period: 45s,
# docker stop -t 45).
STOPSIGNAL SIGTERM
ENTRYPOINT ["crs-entrypoint"]
CMD ["serve"]
