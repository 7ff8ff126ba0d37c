# The project's image: the batch runner and the mock servers (`harness run`, `harness mock`).
# Used by docker-compose.yml ("mock", "runner") and docker-compose.celery.yml ("worker", "coordinator").
FROM python:3.11.9-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY harness ./harness
COPY mock_servers ./mock_servers
RUN pip install ".[celery]"
COPY scenarios ./scenarios

RUN useradd --create-home --uid 10001 harness && mkdir -p /data && chown harness /data
USER harness
VOLUME ["/data"]

ENTRYPOINT ["harness"]
CMD ["--help"]
