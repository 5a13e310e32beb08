# One image for every newsflow role; the command picks the role (docker-compose.yml).
#
# Two stages: the first builds a virtualenv with the pinned dependencies (constraints.txt, the
# same pins CI and ./run install from), the second copies only that virtualenv onto a clean
# slim base: no pip cache, no wheel build, no compiler in what runs.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
WORKDIR /src
# The runtime dependencies first (pyproject.toml's list, not the test extra), at their pinned
# versions, so a source change does not reinstall them.
COPY pyproject.toml constraints.txt ./
RUN /opt/venv/bin/python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > runtime.txt \
    && /opt/venv/bin/pip install --constraint constraints.txt --requirement runtime.txt
COPY README.md ./
COPY shared ./shared
COPY services ./services
COPY newsflow ./newsflow
# Not editable, not the test extra: the package's own files into the virtualenv.
RUN /opt/venv/bin/pip install --no-deps --constraint constraints.txt . \
    && /opt/venv/bin/pip check

FROM ${PYTHON_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    NEWSFLOW_DATA_DIR=/data
RUN useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin newsflow \
    && mkdir -p /data && chown newsflow /data
COPY --from=build /opt/venv /opt/venv
USER 10001
WORKDIR /data
EXPOSE 8001 8002 5555
# Any role: its configuration reaches the store and the broker. docker-compose.yml gives
# each service the check of its own role (newsflow health ingest|feed|worker|relay|flower).
HEALTHCHECK --interval=15s --timeout=10s --start-period=30s --retries=3 \
    CMD ["newsflow", "health", "deps"]
CMD ["newsflow", "--help"]
