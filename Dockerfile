# ppr-worker: the compiled binary, the Claude CLI and tini on a distroless base (no shell, no curl).
#
# The final stage takes its four parts from images named by build arguments. The defaults build
# them here from public images (production: `docker compose build`, `docker build .`). `deno task
# image` passes stand-ins that scripts/image.ts assembles FROM scratch from local files instead; the
# final stage is the same for both. Needs BuildKit (Docker's default builder), which skips the
# stages the final one does not use, so a build with stand-ins pulls nothing.
ARG BASE_IMAGE=gcr.io/distroless/cc-debian12:nonroot
ARG APP_IMAGE=app-compiled
ARG CLAUDE_IMAGE=claude-npm
ARG TINI_IMAGE=tini-debian
ARG DENO_VERSION=2.9.6

# The app: /app/ppr-worker, compiled with the permission set and V8 flags of `deno task compile`.
# The build context is the source main.ts loads (.dockerignore leaves out tests and the rest).
FROM denoland/deno:bin-${DENO_VERSION} AS deno
FROM debian:bookworm-slim AS app-compiled
COPY --from=deno /deno /usr/local/bin/deno
WORKDIR /src
COPY . .
RUN deno install --frozen --entrypoint main.ts \
 && deno task compile \
 && mkdir /app && mv ppr-worker /app/ppr-worker \
 && /app/ppr-worker --version

# The Claude CLI: the native binary in the npm package of each platform, and an empty folder that
# becomes its configuration folder (CLAUDE_CONFIG_DIR, the login volume).
FROM node:22-bookworm-slim AS claude-npm
ARG CLAUDE_CODE_VERSION=2.1.332
RUN npm install -g --ignore-scripts "@anthropic-ai/claude-code@${CLAUDE_CODE_VERSION}" \
 && cp "$(find /usr/local/lib/node_modules/@anthropic-ai -path '*claude-code-linux-*' ! -path '*musl*' -type f -name claude | head -n 1)" /claude \
 && /claude --version \
 && mkdir /claude-config

# tini, static: PID 1 reaps orphans (a Claude CLI whose worker was killed) and passes signals on.
FROM debian:bookworm-slim AS tini-debian
RUN apt-get update && apt-get install -y --no-install-recommends tini && rm -rf /var/lib/apt/lists/*

FROM ${APP_IMAGE} AS app
FROM ${CLAUDE_IMAGE} AS claude
FROM ${TINI_IMAGE} AS tini

# The image: user nonroot (65532), /tmp (mode 1777) and /home/nonroot come with the base.
FROM ${BASE_IMAGE}
COPY --from=tini /usr/bin/tini-static /usr/bin/tini
COPY --from=claude /claude /usr/local/bin/claude
COPY --from=claude --chown=65532:65532 /claude-config/ /home/nonroot/.claude/
COPY --from=app /app/ /app/
USER 65532:65532
WORKDIR /home/nonroot
# CLAUDE_CONFIG_DIR keeps the CLI's whole login (also .claude.json, which it otherwise writes
# beside ~/.claude) in the one folder that compose mounts as a volume.
ENV HOME=/home/nonroot \
    CLAUDE_CONFIG_DIR=/home/nonroot/.claude \
    CLAUDE_CLI=/usr/local/bin/claude \
    HEALTH_PORT=8080 \
    LOG_FORMAT=json
EXPOSE 8080
# Distroless has no curl: the binary checks itself.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["/app/ppr-worker", "healthcheck"]
STOPSIGNAL SIGTERM
# tini is PID 1 (so compose must not add `init: true`, which would put another init above it).
ENTRYPOINT ["/usr/bin/tini", "--", "/app/ppr-worker"]
