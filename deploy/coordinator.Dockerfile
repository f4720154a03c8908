# ladle-server (with its web UI on 8080, compiled in) and the ladle CLI on Debian 12, built with the same Debian packages as
# scripts/install-deps.sh. Multi-stage: the runtime image holds the binaries and their shared
# libraries only, and runs as an unprivileged user. Build from the repository root:
#   docker build -f deploy/coordinator.Dockerfile -t ladle-coordinator .
FROM debian:12 AS build
WORKDIR /src
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN ./scripts/install-deps.sh
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DLADLE_CUDA=OFF \
 && cmake --build /build --target ladle-server ladle

FROM debian:12-slim
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends \
      libgrpc++1.51 libprotobuf32 libsqlite3-0 libssl3 libyaml-cpp0.7 libyaml-0-2 libarchive13 \
      libprometheus-cpp-core1.0 libprometheus-cpp-pull1.0 libabsl20220623 libtcmalloc-minimal4 \
      libcpp-httplib0.11 \
      ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data ladle \
 && mkdir -p /data && chown ladle /data
COPY --from=build /build/bin/ladle-server /build/bin/ladle /usr/local/bin/
USER ladle
VOLUME /data
EXPOSE 7070 8080 9464
# Token file (and TLS key pair) come in as secrets; nothing is baked in.
ENTRYPOINT ["ladle-server", "--listen=0.0.0.0:7070", "--data_dir=/data", \
            "--metrics_listen=0.0.0.0:9464", "--http_listen=0.0.0.0:8080", \
            "--token_file=/run/secrets/ladle_tokens"]
