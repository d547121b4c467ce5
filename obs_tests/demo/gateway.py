"""The gateway: receives TradingView signal webhooks, validates them and publishes them to JetStream.

``POST /webhook/tradingview`` with a JSON signal (``obs_tests/schemas/signal.schema.json``):

- valid → published on ``routing.subject_for(action)`` → 200
  ``{"status": "accepted", "correlation_id": …, "subject": …}``;
- invalid → 400 ``{"status": "rejected", "reason": …, "error": …}`` (never a 5xx for bad input);
- injected ``error_rate`` → 500; publish failure (NATS down or paused, timeout, injected) → 503.

Every request to the webhook is counted exactly once in ``gateway_webhooks_total{status}``
(accepted | invalid | error) and observed in ``gateway_processing_duration_seconds``.
``X-Correlation-ID`` is honoured when well-formed (else a uuid4 hex is generated) and echoed.
Each accepted signal is logged (INFO, with its correlation id) through a :class:`BufferedJsonLogger`.

``--no-instrumentation`` (``Gateway(instrumentation=False)``) keeps all of that behaviour but leaves
the gateway's own metrics untouched (their series stay at 0; the process metrics still work): the
baseline of ``benchmarks/gateway_throughput.py``, which measures what instrumentation costs.
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Final

import orjson
from prometheus_client import Counter, Gauge, Histogram

from obs_tests.demo.bus import NatsLink
from obs_tests.demo.http import App
from obs_tests.demo.http_messages import Request, Response, json_response
from obs_tests.demo.runtime import BufferedJsonLogger, CommonOptions, Service
from obs_tests.demo.service_metrics import DURATION_BUCKETS, NOOP, NoOpMetric, preinit
from obs_tests.demo.signal_routing import (
    HEADER_CORRELATION_ID,
    HEADER_MSG_ID,
    HEADER_RECEIVED_AT,
    SIGNALS_STREAM,
    msg_id,
    subject_for,
)
from obs_tests.demo.signals import REASONS, correlation_id_from, parse_signal
from obs_tests.errors import PublishError, SignalRejected

__all__ = ["WEBHOOK_PATH", "WEBHOOK_STATUSES", "Gateway"]

WEBHOOK_PATH: Final = "/webhook/tradingview"
WEBHOOK_STATUSES: Final = ("accepted", "invalid", "error")
_SOURCE: Final = "tradingview"
_MAX_BODY: Final = 64 * 1024


class Gateway(Service):
    """The signal gateway service (``python -m obs_tests.demo gateway``)."""

    component = "gateway"
    log_class = BufferedJsonLogger

    def __init__(self, options: CommonOptions, *, publish_timeout: float = 2.0, instrumentation: bool = True) -> None:
        super().__init__(options)
        self.publish_timeout = publish_timeout
        self.instrumentation = instrumentation
        self.link = NatsLink(
            options.nats_url, name="gateway", log=self.log, faults=self.faults, streams=(SIGNALS_STREAM,)
        )
        registry = self.registry
        webhooks = Counter(
            "gateway_webhooks_total",
            "Webhook requests received, by source and outcome (accepted, invalid, error).",
            ["source", "status"],
            registry=registry,
        )
        preinit(webhooks, "status", WEBHOOK_STATUSES, source=_SOURCE)
        errors = Counter(
            "gateway_validation_errors_total",
            "Webhook bodies rejected by validation, by reason.",
            ["reason"],
            registry=registry,
        )
        preinit(errors, "reason", REASONS)
        duration = Histogram(
            "gateway_processing_duration_seconds",
            "Time to handle one webhook request, from receipt to response.",
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        publish_failures = Counter(
            "gateway_nats_publish_failures_total",
            "JetStream publishes that failed (error, timeout, NATS unavailable or injected).",
            registry=registry,
        )
        duplicates = Counter(
            "gateway_nats_duplicate_publishes_total",
            "Publishes JetStream acknowledged as duplicates of an earlier correlation id (not re-delivered).",
            registry=registry,
        )
        inflight = Gauge("gateway_inflight_requests", "Webhook requests being handled now.", registry=registry)
        # The hot path updates these children; without instrumentation they are no-ops.
        self._accepted: Counter | NoOpMetric = NOOP
        self._invalid: Counter | NoOpMetric = NOOP
        self._error: Counter | NoOpMetric = NOOP
        self._reasons: dict[str, Counter | NoOpMetric] = dict.fromkeys(REASONS, NOOP)
        self._duration: Histogram | NoOpMetric = NOOP
        self._publish_failures: Counter | NoOpMetric = NOOP
        self._duplicates: Counter | NoOpMetric = NOOP
        self._inflight: Gauge | NoOpMetric = NOOP
        if instrumentation:
            self._accepted = webhooks.labels(source=_SOURCE, status="accepted")
            self._invalid = webhooks.labels(source=_SOURCE, status="invalid")
            self._error = webhooks.labels(source=_SOURCE, status="error")
            self._reasons = {reason: errors.labels(reason=reason) for reason in REASONS}
            self._duration = duration
            self._publish_failures = publish_failures
            self._duplicates = duplicates
            self._inflight = inflight
        self.router.add("POST", WEBHOOK_PATH, self.webhook)

    def app(self) -> App:
        """The ASGI app; oversized webhook bodies are answered 413 and counted as invalid (``too_large``)."""
        return App(
            self.router,
            log=self.log,
            on_startup=self.start,
            on_shutdown=self.stop,
            max_body=_MAX_BODY,
            on_too_large=self._too_large,
        )

    async def start(self) -> None:
        """Connect to NATS in the background."""
        await super().start()
        self.spawn(self.link.run(), "nats-connect")

    async def stop(self) -> None:
        """Stop and close NATS."""
        await super().stop()
        await self.link.close()

    def health(self) -> tuple[bool, dict[str, Any]]:
        """Healthy when NATS is connected and the SIGNALS stream exists."""
        return self.link.ready, {"nats": self.link.state()}

    async def _too_large(self, request: Request) -> Response:
        if request.path != WEBHOOK_PATH:
            return json_response({"status": "rejected", "error": "request body too large"}, 413)
        self._invalid.inc()
        self._reasons["too_large"].inc()
        self._duration.observe(0.0)
        return json_response(
            {
                "status": "rejected",
                "reason": "too_large",
                "error": f"request body exceeds {_MAX_BODY} bytes",
            },
            413,
        )

    async def webhook(self, request: Request) -> Response:
        """``POST /webhook/tradingview``."""
        started = time.perf_counter()
        received_at = time.time()
        self._inflight.inc()
        correlation_id = correlation_id_from(request.header(b"x-correlation-id")) or uuid.uuid4().hex
        echo = [(b"x-correlation-id", correlation_id.encode())]
        try:
            if self.faults.holding:
                await self.faults.hold()
            try:
                signal = parse_signal(request.body)
            except SignalRejected as exc:
                return self._rejected(exc, correlation_id, echo)
            if self.faults.should_fail():
                self._error.inc()
                return json_response(
                    {"status": "error", "error": "injected failure", "correlation_id": correlation_id},
                    500,
                    echo,
                )
            subject = subject_for(signal["action"])
            signal["correlation_id"] = correlation_id
            signal["received_at"] = received_at
            headers = {
                HEADER_CORRELATION_ID: correlation_id,
                HEADER_RECEIVED_AT: repr(received_at),
                HEADER_MSG_ID: msg_id(correlation_id, "gateway"),
            }
            try:
                duplicate = await self.link.publish(subject, orjson.dumps(signal), headers, self.publish_timeout)
            except PublishError as exc:
                return self._publish_failed(exc, correlation_id, echo)
            self._accepted.inc()
            if duplicate:
                self._duplicates.inc()
            self.log.info(
                "signal accepted",
                correlation_id=correlation_id,
                subject=subject,
                instrument=signal["instrument"],
                action=signal["action"],
            )
            doc: dict[str, Any] = {"status": "accepted", "correlation_id": correlation_id, "subject": subject}
            if duplicate:
                doc["duplicate"] = True
            return json_response(doc, 200, echo)
        finally:
            self._duration.observe(time.perf_counter() - started)
            self._inflight.dec()

    def _rejected(self, exc: SignalRejected, correlation_id: str, echo: list[tuple[bytes, bytes]]) -> Response:
        """400: the body is not a valid signal (counted as invalid, by reason)."""
        self._invalid.inc()
        self._reasons[exc.reason].inc()
        self.log.debug("signal rejected", correlation_id=correlation_id, reason=exc.reason)
        return json_response(
            {
                "status": "rejected",
                "reason": exc.reason,
                "error": exc.message,
                "correlation_id": correlation_id,
            },
            400,
            echo,
        )

    def _publish_failed(self, exc: PublishError, correlation_id: str, echo: list[tuple[bytes, bytes]]) -> Response:
        """503: JetStream did not take the signal (counted as an error and a publish failure)."""
        self._publish_failures.inc()
        self._error.inc()
        self.log.warning("publish failed", correlation_id=correlation_id, error=str(exc))
        return json_response(
            {
                "status": "error",
                "error": f"could not publish: {exc}",
                "correlation_id": correlation_id,
            },
            503,
            echo,
        )
