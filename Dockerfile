# The mock trading system (gateway, agents, orchestrator, exchange, NATS exporter), the alert webhook sink
# and Locust, as one image for docker-compose.yml. Each service runs as
#   python -m obs_tests.demo <gateway|agent|orchestrator|exchange|sink|nats-exporter> --host 0.0.0.0 --port …
# and Locust as `locust -f load/locustfile.py …`. Dependencies are pinned by constraints.txt.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY obs_tests ./obs_tests
RUN pip install -c constraints.txt . \
    && useradd --system --uid 10001 --home-dir /app obs
COPY load ./load

USER obs
EXPOSE 8000
CMD ["python", "-m", "obs_tests.demo", "--help"]
