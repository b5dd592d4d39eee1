# One image for both services; the command chooses:
#   python -m services.inbox serve|worker|migrate    python -m services.triage serve|worker|migrate
# (also installed as the console scripts ecoute-inbox and ecoute-triage)
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/ecoute
COPY pyproject.toml README.md LICENSE NOTICE ./
COPY ecoute ecoute
COPY services services
RUN /opt/ecoute/bin/pip install --no-compile . \
 && find /opt/ecoute -name '__pycache__' -prune -exec rm -rf {} + \
 && /opt/ecoute/bin/pip uninstall -y pip setuptools

FROM python:3.11-slim-bookworm
# ecoute_build_info's revision label: docker build --build-arg ECOUTE_REVISION=$(git rev-parse HEAD)
ARG ECOUTE_REVISION=unknown
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
