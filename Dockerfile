# The mcpbridge image, in two stages: the build stage compiles with the C build dependencies of
# scripts/install-deps.sh; the runtime stage is debian:bookworm-slim with only the shared
# libraries the binary links, a non-root user and the binary. Configuration, the OpenAPI spec
# and secrets come from outside (a mount and environment variables), never from the image.
#   docker build -t mcpbridge:0.1.0 .
#   docker run --rm -p 8500:8500 -v /srv/mcpbridge:/etc/mcpbridge:ro --env-file mcpbridge.env mcpbridge:0.1.0
# tests/integration/test_deploy.sh checks this file without building it (no Docker engine in
# CI): the runtime packages against `ldd` of the built binary, the COPY sources, the user.
# docs/deployment.md, "Containers", says why each choice.

FROM debian:bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config \
      libuv1-dev libhttp-parser-dev libcurl4-openssl-dev libssl-dev libjansson-dev \
      libyaml-dev libhiredis-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY cmake/ cmake/
COPY assets/ assets/
COPY src/ src/
# Without cmocka the tests are not configured: only the binary is built, with the flags the
# test suites run it with. Debug sections are dropped, the symbol table (backtraces) stays.
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo \
 && cmake --build build -j"$(nproc)" --target mcpbridge \
 && strip --strip-debug -o /mcpbridge build/mcpbridge

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libuv1 libhttp-parser2.9 libcurl4 libssl3 libjansson4 libyaml-0-2 libhiredis0.14 \
      ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 mcpbridge \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin mcpbridge
COPY --from=build /mcpbridge /usr/local/bin/mcpbridge
# Numeric, so Kubernetes can verify runAsNonRoot without a passwd lookup.
USER 10001:10001
EXPOSE 8500 9464
# The master drains on SIGTERM (readiness 503, listener closed, calls in flight finish) and, as
# PID 1, still receives it: it blocks its signals and reads them from a signalfd, and reaps
# every child itself, so no init shim is needed.
STOPSIGNAL SIGTERM
ENTRYPOINT ["mcpbridge"]
CMD ["serve", "--config", "/etc/mcpbridge/config.yaml"]
