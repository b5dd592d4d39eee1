# One image for both services; the command chooses:
#   python -m services.inbox serve|worker|migrate    python -m services.triage serve|worker|migrate
# (also installed as the console scripts ecoute-inbox and ecoute-triage)
# Reproducible: the Python dependencies come from requirements/image.txt (`make lock`: every
# version pinned and every wheel's SHA-256 checked, wheels only), the project is installed
# without resolving anything, and nothing in a layer depends on the build's date. Pin the base
# by digest too where the registry is reachable (`python:3.14-slim-trixie@sha256:…`).
FROM python:3.14-slim-trixie AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/ecoute
COPY requirements/image.txt requirements/image.txt
RUN /opt/ecoute/bin/pip install --no-compile --require-hashes --only-binary=:all: \
    -r requirements/image.txt
COPY pyproject.toml README.md LICENSE NOTICE ./
COPY ecoute ecoute
COPY services services
RUN /opt/ecoute/bin/pip install --no-compile --no-deps . \
 && find /opt/ecoute -name '__pycache__' -prune -exec rm -rf {} + \
 && /opt/ecoute/bin/pip uninstall -y pip setuptools

FROM python:3.14-slim-trixie
# ecoute_build_info's revision label: docker build --build-arg ECOUTE_REVISION=$(git rev-parse HEAD)
ARG ECOUTE_REVISION=unknown
ARG ECOUTE_VERSION=0.1.0
LABEL org.opencontainers.image.title="Écoute" \
      org.opencontainers.image.description="Open-source customer-care social inbox: the inbox and triage services" \
      org.opencontainers.image.version=$ECOUTE_VERSION \
      org.opencontainers.image.revision=$ECOUTE_REVISION \
      org.opencontainers.image.source="https://github.com/ecoute/ecoute" \
      org.opencontainers.image.url="https://github.com/ecoute/ecoute" \
      org.opencontainers.image.documentation="https://github.com/ecoute/ecoute#readme" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="docker.io/library/python:3.14-slim-trixie"
RUN groupadd --system --gid 10001 ecoute \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin ecoute
COPY --from=build /opt/ecoute /opt/ecoute
ENV PATH=/opt/ecoute/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ECOUTE_REVISION=$ECOUTE_REVISION \
    INBOX_HOST=0.0.0.0 \
    TRIAGE_HOST=0.0.0.0
USER 10001:10001
EXPOSE 8080 8081
ENTRYPOINT ["python", "-m"]
CMD ["services.triage", "serve"]
