# The mock trading system (gateway, agents, orchestrator, exchange, NATS exporter), the alert webhook sink
# and Locust, as one image for docker-compose.yml (target `app`). Each service runs as
#   python -m obs_tests.demo <gateway|agent|orchestrator|exchange|sink|nats-exporter> --host 0.0.0.0 --port …
# and Locust as `locust -f load/locustfile.py …`. Dependencies are pinned by constraints.txt.
# Target `test-runner` (docker-compose.test.yml) adds promtool and amtool, from the pinned Prometheus and
# Alertmanager images, to run `obs-tests check` against the compose stack.
FROM prom/prometheus:v2.42.0 AS prometheus
FROM prom/alertmanager:v0.25.0 AS alertmanager

FROM python:3.11-slim-bookworm AS app

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

FROM app AS test-runner
COPY --from=prometheus /bin/promtool /usr/local/bin/promtool
COPY --from=alertmanager /bin/amtool /usr/local/bin/amtool
CMD ["obs-tests", "check"]
