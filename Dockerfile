# syntax=docker/dockerfile:1
# ppr-worker: one compiled binary and the Claude CLI on a distroless base (no shell, no curl).

# 1. Compile ppr-worker with the permission set and V8 flags of `deno task compile`.
FROM denoland/deno:bin-2.9.6 AS deno
FROM debian:bookworm-slim AS build
COPY --from=deno /deno /usr/local/bin/deno
WORKDIR /src
COPY deno.json deno.lock ./
COPY main.ts ./
COPY cli/ cli/
COPY supervisor/ supervisor/
COPY worker/ worker/
COPY health/ health/
COPY jobs/ jobs/
COPY providers/ providers/
COPY protocol/ protocol/
COPY config/ config/
COPY redis/ redis/
COPY log/ log/
COPY async/ async/
RUN deno install --frozen --entrypoint main.ts && deno task compile && ./ppr-worker --version

# 2. The Claude CLI: a native binary shipped in the npm package for each platform.
FROM node:22-bookworm-slim AS claude
ARG CLAUDE_CODE_VERSION=2.1.332
RUN npm install -g --ignore-scripts "@anthropic-ai/claude-code@${CLAUDE_CODE_VERSION}" \
 && cp "$(find /usr/local/lib/node_modules/@anthropic-ai -path '*claude-code-linux-*' ! -path '*musl*' -type f -name claude | head -n 1)" /claude \
 && /claude --version

# 3. tini as PID 1 reaps orphans (a Claude CLI whose worker was killed) and passes signals on.
FROM debian:bookworm-slim AS tini
RUN apt-get update && apt-get install -y --no-install-recommends tini && rm -rf /var/lib/apt/lists/*

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=tini /usr/bin/tini-static /usr/bin/tini
COPY --from=claude /claude /usr/local/bin/claude
COPY --from=build /src/ppr-worker /app/ppr-worker
ENV CLAUDE_CLI=/usr/local/bin/claude \
    HEALTH_PORT=8080 \
    LOG_FORMAT=json
EXPOSE 8080
# Distroless has no curl: the binary checks itself.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["/app/ppr-worker", "healthcheck"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--", "/app/ppr-worker"]
