# ladle-worker + ladle-train with the CUDA backend (cuBLAS), on NVIDIA's CUDA 13 images.
# The build stage compiles with nvcc for sm_90 (+PTX); the runtime stage carries the CUDA
# runtime libraries only. Runs as an unprivileged user; GPUs come from the NVIDIA container
# runtime (docker-compose reserves them). Build from the repository root:
#   docker build -f deploy/worker.Dockerfile -t ladle-worker .
# Not built on the development machines (no Docker engine there): see deploy/README.md.
FROM nvidia/cuda:13.0.0-devel-ubuntu24.04 AS build
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends \
      build-essential cmake ninja-build pkg-config libabsl-dev libyaml-cpp-dev \
      nlohmann-json3-dev libcli11-dev zlib1g-dev libopenblas-dev libdnnl-dev libmetis-dev \
      libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc libsqlite3-dev \
      libssl-dev prometheus-cpp-dev libgtest-dev libgmock-dev libbenchmark-dev \
      libarchive-dev libcpp-httplib-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DLADLE_CUDA=ON \
 && cmake --build /build --target ladle-worker ladle-train ladle-exec

FROM nvidia/cuda:13.0.0-runtime-ubuntu24.04
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends \
      libgrpc++1.51t64 libprotobuf32t64 libyaml-cpp0.8 libopenblas0 libdnnl3 libmetis5 \
      libprometheus-cpp-core1.0 libprometheus-cpp-pull1.0 libgomp1 libssl3t64 libarchive13t64 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /work ladle \
 && mkdir -p /work && chown ladle /work
COPY --from=build /build/bin/ladle-worker /build/bin/ladle-train /build/bin/ladle-exec /usr/local/bin/
USER ladle
VOLUME /work
EXPOSE 9465
ENTRYPOINT ["ladle-worker", "--work_dir=/work", "--metrics_listen=0.0.0.0:9465", \
            "--token_file=/run/secrets/ladle_worker_token", "--trainer=/usr/local/bin/ladle-train"]
