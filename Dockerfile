# One image for every newsflow service; the command picks the role (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    NEWSFLOW_DATA_DIR=/data

WORKDIR /app
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY services ./services
COPY newsflow ./newsflow
RUN pip install . \
    && useradd --system --uid 10001 --home /data newsflow \
    && mkdir -p /data/artifacts && chown -R newsflow /data

USER newsflow
EXPOSE 8001 8002
CMD ["newsflow", "--help"]
