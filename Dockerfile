# fedscore: multi-stage build. The build stage compiles TypeScript, generates the Prisma clients (offline:
# no engine download is needed) and builds better-sqlite3; the runtime stage holds only production
# dependencies and runs as the unprivileged `node` user with the SQLite database on a volume.

FROM node:20-bookworm-slim AS build
WORKDIR /app
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
# npm 11 honours package.json "allowScripts": only better-sqlite3 and esbuild run install scripts.
RUN npm install -g npm@11
COPY package.json package-lock.json tsconfig.json ./
COPY scripts ./scripts
COPY prisma ./prisma
COPY bin ./bin
COPY src ./src
ENV CHECKPOINT_DISABLE=1
# `npm ci` runs `prepare` (generate + tsc); then drop dev dependencies.
RUN npm ci --no-audit --no-fund && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    DATA_DIR=/data \
    CHECKPOINT_DISABLE=1
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
COPY --from=build /app/prisma ./prisma
COPY schemas ./schemas
# The operator console's page, scripts and stylesheet, served at /console (src/http/console-files.ts).
COPY console ./console
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=3s \
  CMD node -e "fetch('http://127.0.0.1:'+process.env.PORT+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "bin/fedscore.js"]
CMD ["serve"]
