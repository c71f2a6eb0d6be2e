# One image for the web server and the workers; the codec stack is an install extra, so a
# web-only image can drop it with --build-arg EXTRAS=.
FROM python:3.11-slim AS base
ARG EXTRAS=codecs
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm webp libjpeg-turbo-progs \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY backend backend
COPY workers workers
COPY migrations migrations
COPY frontend frontend
RUN pip install --no-cache-dir ".[${EXTRAS}]" && cd frontend && npm ci --no-audit --no-fund
ENV SCLIC_DATA_DIR=/data SCLIC_HOST=0.0.0.0
EXPOSE 8000
CMD ["sclic", "serve"]
