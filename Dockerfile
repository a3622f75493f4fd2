# The service image: `tasktrial serve` (the API) and `tasktrial worker` (a Celery
# worker) in compose.yaml. Python 3.11 from Debian bookworm, the project
# pip-installed into a virtualenv, run as the unprivileged user `tasktrial`
# (uid and gid 10001).
#
# This image never runs candidate code: the worker asks the host's Docker engine
# for a fresh, locked-down sandbox per run (runners/docker/), using the
# runtime images that `tasktrial images build` makes on each worker host.
#
# Docker socket and group id: the worker reaches the engine through the host's
# /var/run/docker.sock, which belongs to the host's `docker` group. That group's
# id differs from host to host (999, 998, 127, ...), so no id is baked in here:
# compose.yaml adds it at run time (`group_add: [DOCKER_GID]`); see docs/deploy.md.
#
# No `# syntax=` line on purpose: it would make the build pull a frontend image.

FROM debian:bookworm-slim AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      python3 python3-venv \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*
RUN python3 -m venv /opt/tasktrial/venv
# Wheels that scripts/wheelhouse downloaded on the host: where a build container
# cannot reach PyPI, pip installs from them alone; with none there, from PyPI.
COPY wheelhouse /wheelhouse
COPY pyproject.toml README.md /src/
COPY api /src/api
COPY cli /src/cli
COPY engine /src/engine
COPY graders /src/graders
COPY runners /src/runners
RUN if ls /wheelhouse/*.whl >/dev/null 2>&1; then offline="--no-index --find-links /wheelhouse"; else offline=""; fi \
 && /opt/tasktrial/venv/bin/pip install --no-cache-dir --disable-pip-version-check $offline /src

FROM debian:bookworm-slim
# ca-certificates: workers on other hosts reach the API over https.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      python3 ca-certificates \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*
# The data folder exists in the image, owned by tasktrial, so named volumes
# mounted on it (and on its packs/ sub-folder) start out writable by that user.
RUN groupadd --system --gid 10001 tasktrial \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/tasktrial --no-create-home \
      --shell /usr/sbin/nologin tasktrial \
 && mkdir -p /var/lib/tasktrial/packs \
 && chown -R 10001:10001 /var/lib/tasktrial
COPY --from=build /opt/tasktrial/venv /opt/tasktrial/venv
# The built-in catalogue is data, not part of the Python package.
COPY tasks /opt/tasktrial/tasks
ENV PATH=/opt/tasktrial/venv/bin:$PATH \
    LANG=C.UTF-8 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TASKTRIAL_DATA_DIR=/var/lib/tasktrial \
    TASKTRIAL_CATALOGUE_DIRS='["/opt/tasktrial/tasks"]'
USER 10001:10001
WORKDIR /var/lib/tasktrial
EXPOSE 8000
CMD ["tasktrial", "serve"]
