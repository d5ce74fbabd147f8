# Sluice: multi-stage build, runs as a non-root user, healthy when /readyz answers 200.
# Sluice runs its TypeScript through tsx (a runtime dependency), so there is no compile stage:
# `deps` builds node_modules (with the toolchain for ssh2's native crypto), `runtime` gets only
# node_modules and the sources.
FROM node:20-bookworm-slim AS deps
WORKDIR /app
# g++/make/python3 build ssh2's native crypto binding.
RUN apt-get update && apt-get install -y --no-install-recommends g++ make python3 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --omit=dev

FROM node:20-bookworm-slim AS runtime
WORKDIR /app
ENV NODE_ENV=production MFT_DATA_DIR=/var/lib/sluice MFT_HTTP_PORT=8080 MFT_SFTP_PORT=2222
# A fixed uid/gid, so volumes and shared file storage can be prepared for it (chown 10001:10001).
RUN groupadd --system --gid 10001 sluice \
  && useradd --system --uid 10001 --gid sluice --create-home --home-dir /var/lib/sluice --shell /usr/sbin/nologin sluice
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY src ./src
USER sluice
EXPOSE 8080 2222 2121 9990 50000-50019
VOLUME ["/var/lib/sluice"]
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.MFT_HTTP_PORT||8080)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "--import", "tsx", "src/main.ts"]
