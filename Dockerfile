# jellycli in a container: the binary is compiled in a build stage (only production dependencies:
# the test clients stay out) and copied into a small Debian image that runs it as a non-root user.
# Everything it keeps — credentials, state file, database, logs — lives under the /data volume.
FROM oven/bun:1.4.4 AS build
WORKDIR /src
COPY package.json bun.lock ./
RUN bun install --frozen-lockfile --production
COPY tsconfig.json ./
COPY src ./src
RUN bun build src/main.ts --compile --minify-whitespace --minify-syntax --outfile /out/jellycli

FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin jellycli \
 && mkdir -p /data/credentials \
 && chown -R jellycli:jellycli /data
COPY --from=build /out/jellycli /usr/local/bin/jellycli
USER jellycli
WORKDIR /data
VOLUME ["/data"]
# Listening beyond loopback needs a password: set JELLYCLI_PASSWORD (jellycli refuses to start without one).
ENV JELLYCLI_BIND_ADDRESS=0.0.0.0:7878 \
    JELLYCLI_CREDENTIALS_DIR=/data/credentials \
    JELLYCLI_STATE_FILE=/data/creds_state.toml \
    JELLYCLI_DATABASE=/data/jellycli.db \
    JELLYCLI_LOG_DIR=/data/logs
EXPOSE 7878
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["jellycli", "healthcheck"]
ENTRYPOINT ["jellycli"]
