# syntax=docker/dockerfile:1
# One image for every role, chosen by command: `run` (proxy + API), `proxy`, `api`,
# `db upgrade` (migrations). See docs/deployment.md.
#
# BASE_IMAGE: any Debian-like image with python3 (3.12 or later) and python3-venv; both
# stages use it, so the virtualenv's interpreter is the same. Where no registry image can be
# pulled, a debootstrap'd Debian imported into podman serves (tests/e2e/test_image.py).
ARG BASE_IMAGE=python:3.13-slim-bookworm

# Build stage: shadowlens and its dependencies in a virtualenv.
FROM ${BASE_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
RUN python3 -m venv /opt/shadowlens
COPY pyproject.toml README.md ./
COPY proxy ./proxy
COPY addons ./addons
COPY api ./api
# shadowlens/ links the three folders in: the wheel installs them as one name, shadowlens.
COPY shadowlens ./shadowlens
RUN /opt/shadowlens/bin/pip install . && find /opt/shadowlens -name __pycache__ -prune -exec rm -rf {} +

# Runtime stage: the virtualenv, the rules, and an unprivileged user (uid 10001).
FROM ${BASE_IMAGE}
# The data dir and the CA's dir are owner-only: a fresh named volume mounted on either takes
# the mode of what it covers, so the CA key is never readable by others in a shared volume.
RUN useradd --uid 10001 --user-group --home-dir /var/lib/shadowlens --create-home shadowlens \
    && install -d -m 0700 -o 10001 -g 10001 /var/lib/shadowlens/mitmproxy \
    && chmod 0700 /var/lib/shadowlens
COPY --from=build /opt/shadowlens /opt/shadowlens
COPY rules /opt/shadowlens/rules
# The proxy listens on every address of the container, so it refuses to start unless it is
# told who may use it: SHADOWLENS_PROXY_ALLOWED_CLIENTS (CIDRs), or proxy authentication
# (`--set proxyauth=@/run/secrets/htpasswd`). Never an open proxy.
ENV PATH=/opt/shadowlens/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    SHADOWLENS_DATA_DIR=/var/lib/shadowlens \
    SHADOWLENS_RULES_DIR=/opt/shadowlens/rules \
    SHADOWLENS_PROXY_HOST=0.0.0.0 \
    SHADOWLENS_API_HOST=0.0.0.0
USER 10001:10001
WORKDIR /var/lib/shadowlens
# The CA, the coaching key and the spool live here: keep it on a volume.
VOLUME ["/var/lib/shadowlens"]
EXPOSE 8080 8000 9464
# Healthy when the API answers /healthz or, on a proxy-only node, the proxy accepts a
# connection. Build with `podman build --format docker` to keep it (OCI drops HEALTHCHECK).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["/opt/shadowlens/bin/python", "-c", "import os, socket, urllib.request\nenv = os.environ.get\ntry:\n    urllib.request.urlopen(f\"http://127.0.0.1:{env('SHADOWLENS_API_PORT', '8000')}/healthz\", timeout=4)\nexcept OSError:\n    socket.create_connection(('127.0.0.1', int(env('SHADOWLENS_PROXY_PORT', '8080'))), timeout=4).close()\n"]
ENTRYPOINT ["shadowlens"]
CMD ["run"]
