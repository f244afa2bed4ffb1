# mxlite on an NVIDIA GPU: CUDA 13, CuPy, and bench/gpu_check.sh as the default command.
# The host needs an NVIDIA driver >= 580 (CUDA 13) and the NVIDIA Container Toolkit.
#   docker build -t mxlite-gpu .
#   docker run --rm --gpus all -v "$PWD/gpu-results:/opt/mxlite/bench/results" mxlite-gpu
# The devel image is used because CuPy compiles mxlite's kernels at run time with NVRTC, which
# needs the CUDA headers (cuda_fp16.h, cuda_bf16.h) that the runtime image does not ship.
FROM nvidia/cuda:13.0.0-devel-ubuntu24.04

ENV DEBIAN_FRONTEND=noninteractive \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

# g++ lets the CPU kernel tests (mxlite.testing.cudasim) run in the image as well. Versions are
# not pinned: Ubuntu's archive drops superseded versions, so pins would break later rebuilds.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv g++ \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv "$VIRTUAL_ENV"

WORKDIR /opt/mxlite
COPY pyproject.toml README.md ./
COPY mxlite ./mxlite
COPY kernels ./kernels
COPY tests ./tests
COPY bench ./bench
# The dependency ranges are pyproject.toml's; the image takes the newest that satisfy them.
# hadolint ignore=DL3013
RUN pip install ".[gpu,test]"

# Both halves of the GPU check; the report lands in bench/results/<card>-<date>/, which the
# docker run above mounts from the host so it survives --rm.
CMD ["bash", "bench/gpu_check.sh", "all"]
