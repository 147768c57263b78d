# syntax=docker/dockerfile:1
# Build stage: install shadowlens and its dependencies into a virtualenv.
FROM python:3.13-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
RUN python -m venv /opt/shadowlens
COPY pyproject.toml README.md ./
COPY proxy ./proxy
COPY addons ./addons
COPY api ./api
RUN /opt/shadowlens/bin/pip install .

# Runtime stage: the virtualenv, the rules, and an unprivileged user.
FROM python:3.13-slim-bookworm
RUN useradd --system --uid 10001 --home-dir /var/lib/shadowlens --create-home shadowlens
COPY --from=build /opt/shadowlens /opt/shadowlens
COPY rules /opt/shadowlens/rules
ENV PATH=/opt/shadowlens/bin:$PATH \
    SHADOWLENS_DATA_DIR=/var/lib/shadowlens \
    SHADOWLENS_RULES_DIR=/opt/shadowlens/rules \
    SHADOWLENS_PROXY_HOST=0.0.0.0 \
    SHADOWLENS_API_HOST=0.0.0.0
USER shadowlens
VOLUME ["/var/lib/shadowlens"]
EXPOSE 8080 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"]
ENTRYPOINT ["shadowlens"]
CMD ["run"]
