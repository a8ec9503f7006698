# Strata from this repository: build with the full Node image (native addons compile there), run on
# the slim one. `docker compose up` (compose.yaml) is the usual way to use it.
FROM node:20-bookworm AS build
WORKDIR /strata
COPY package.json package-lock.json tsconfig.json tsconfig.base.json ./
COPY packages ./packages
COPY test ./test
RUN npm ci && npx tsc -b && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /strata
COPY --from=build /strata /strata
VOLUME /data
# kafka, mqtt, mqtt-ws (docs/configuration.md lists every listener and its default port)
EXPOSE 9092 1883 8083
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "packages/server/dist/src/strata.cjs"]
# Inside a container the server must listen on every interface; the default 127.0.0.1 would be unreachable.
CMD ["serve", "--host", "0.0.0.0", "--data-dir", "/data"]
