# One image recipe for all five Keel services (see docs/containers.md).
#
#   docker build --target runtime --build-arg SERVICE=router --build-arg PORT=8082 -t keel/router .
#   docker build --target tool-executor -t keel/tool-executor .
#
# Deliberately free of BuildKit-only syntax (RUN --mount, heredocs, COPY --parents,
# COPY --chmod) so docker-compose 1.29, which builds with the classic builder,
# can build it too. BuildKit is still faster: it skips stages a target does not need.

ARG NODE_IMAGE=node:22-bookworm-slim

# ---------------------------------------------------------------- manifests
# Only package.json files and the lockfile, so the `npm ci` layer below is
# reused until a dependency changes, not on every source edit. Copying the
# context and deleting the rest keeps new workspaces working without editing
# this file.
FROM ${NODE_IMAGE} AS manifests
WORKDIR /src
COPY . .
RUN find . -type f ! -name package.json ! -name package-lock.json -delete \
 && find . -mindepth 1 -type d -empty -delete

# -------------------------------------------------------------------- build
FROM ${NODE_IMAGE} AS build
WORKDIR /app
# nx: no daemon, no cloud, no interactive prompts inside a build.
ENV NX_DAEMON=false \
    NX_NO_CLOUD=true \
    NX_SKIP_NX_CACHE=true \
    CI=true \
    npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false
COPY --from=manifests /src/ ./
# Install scripts stay on: @swc/core, nx and @parcel/watcher pick their native
# binary in them. The root package.json has no lifecycle scripts of its own.
RUN npm ci
COPY . .
RUN npm run build \
 && npm prune --omit=dev
# Assemble exactly what runs: package.json files (workspace `main` fields),
# production node_modules (with the @keel/* workspace symlinks), every
# project's dist, and agents/ (created empty if absent so the layout is fixed).
RUN set -eu; \
    mkdir -p /out/app/agents; \
    cp -a package.json node_modules /out/app/; \
    for dir in apps/* libs/* tools/*; do \
      [ -f "$dir/package.json" ] || continue; \
      mkdir -p "/out/app/$dir"; \
      cp -a "$dir/package.json" "/out/app/$dir/"; \
      if [ -d "$dir/dist" ]; then cp -a "$dir/dist" "/out/app/$dir/"; fi; \
      for data in "$dir"/*.json; do case "$data" in */package.json) ;; *) [ -f "$data" ] && cp -a "$data" "/out/app/$dir/";; esac; done; \
    done; \
    if [ -d agents ]; then cp -a agents/. /out/app/agents/; fi; \
    for svc in orchestrator approval router guardrail tool-executor; do \
      test -f "/out/app/apps/$svc/dist/main.js" || { echo "missing apps/$svc/dist/main.js" >&2; exit 1; }; \
    done

# ------------------------------------------------------------- runtime-base
# OS layer shared by every service image: tini as PID 1 (forwards SIGTERM to
# node so graceful shutdown runs, and reaps orphaned children such as sandbox
# processes), a fixed non-root user, no package managers.
FROM ${NODE_IMAGE} AS runtime-base
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/* \
 && rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
           /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack \
           /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn-* \
 && groupadd --gid 10001 keel \
 && useradd --uid 10001 --gid 10001 --create-home --home-dir /home/keel --shell /usr/sbin/nologin keel
WORKDIR /app
ENV NODE_ENV=production
# Shell form would make sh PID 1 and swallow SIGTERM: tini execs sh, which execs node.
# SERVICE picks the entry point; extra arguments pass through (`... migrate`).
# KEEL_INSTANCE defaults to the container hostname so scaled replicas differ in
# logs, metrics and NATS connection names.
ENTRYPOINT ["/usr/bin/tini", "--", "/bin/sh", "-c", "export KEEL_INSTANCE=\"${KEEL_INSTANCE:-${HOSTNAME:-0}}\"; exec node \"/app/apps/${SERVICE:?SERVICE is not set}/dist/main.js\" \"$@\"", "keel"]
CMD []
# Slim images have no curl: node's fetch probes the service's own /healthz.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

# ------------------------------------------------------------ tool-executor
# The sandbox for run_code needs bubblewrap and an interpreter for python.
FROM runtime-base AS tool-executor
RUN apt-get update \
 && apt-get install -y --no-install-recommends bubblewrap python3 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/app /app
ARG SERVICE=tool-executor
ARG PORT=8084
ENV SERVICE=${SERVICE} \
    PORT=${PORT}
EXPOSE ${PORT}
USER 10001:10001

# ------------------------------------------------------------------ runtime
# Default target (last stage). Everything above ARG SERVICE is identical for
# the four services built from it, so their images share all large layers.
FROM runtime-base AS runtime
COPY --from=build /out/app /app
ARG SERVICE=orchestrator
ARG PORT=8080
ENV SERVICE=${SERVICE} \
    PORT=${PORT}
EXPOSE ${PORT}
USER 10001:10001
