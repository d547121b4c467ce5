"""Client of a mock service's admin API (``/admin/faults``, the exchange's ``/admin/scenario``).

Example::

    gateway = ServiceClient(stack.url("gateway"))
    with gateway.faults_applied({"latency": {"distribution": "fixed", "value_ms": 100}}):
        ...  # the previous faults are restored on every exit path
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from obs_tests.clients.base import HttpApi
from obs_tests.errors import ApiError

__all__ = ["ServiceClient"]


class ServiceClient(HttpApi):
    """Admin and metrics endpoints of one mock service."""

    server = "mock service"

    def _admin(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        resp = self.request(method, path, json=body, expect=(200, 400))
        doc = self.decode(resp, path)
        if resp.status_code == 400:
            raise ApiError(f"{self.base_url}{path} refused {body!r}: {doc.get('error', doc)}")
        result: dict[str, Any] = doc
        return result

    def faults(self) -> dict[str, Any]:
        """The faults set now."""
        return self._admin("GET", "/admin/faults")

    def set_faults(self, faults: dict[str, Any]) -> dict[str, Any]:
        """Replace the whole fault set."""
        return self._admin("PUT", "/admin/faults", faults)

    def patch_faults(self, faults: dict[str, Any]) -> dict[str, Any]:
        """Merge into the fault set (``None`` removes a field)."""
        return self._admin("PATCH", "/admin/faults", faults)

    def clear_faults(self) -> None:
        """Remove every fault."""
        self._admin("DELETE", "/admin/faults")

    @contextmanager
    def faults_applied(self, faults: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Merge ``faults`` in for the duration of the block; the previous fault set is restored on every
        exit path (faults set by someone else before the block survive it)."""
        previous = self.faults()
        applied = self.patch_faults(faults)
        try:
            yield applied
        finally:
            self.set_faults(previous)

    def scenario(self) -> dict[str, Any]:
        """The exchange's current market scenario."""
        return self._admin("GET", "/admin/scenario")

    def set_scenario(self, name: str, seed: int | None = None) -> dict[str, Any]:
        """Switch the exchange's market scenario."""
        body: dict[str, Any] = {"scenario": name}
        if seed is not None:
            body["seed"] = seed
        return self._admin("PUT", "/admin/scenario", body)

    def event_rules(self) -> dict[str, Any]:
        """A bot's event-chaos rules and what they did: ``{"rules": {...}, "stats": {...}}``."""
        return self._admin("GET", "/admin/events")

    def patch_event_rules(self, rules: dict[str, Any]) -> dict[str, Any]:
        """Merge event-chaos rules in by name (``None`` removes one)."""
        return self._admin("PATCH", "/admin/events", rules)

    def clear_event_rules(self) -> None:
        """Remove every event-chaos rule."""
        self._admin("DELETE", "/admin/events")

    def bot(self) -> dict[str, Any]:
        """A bot's state."""
        return self._admin("GET", "/admin/bot")

    def reset_bot(self, config: dict[str, Any] | None = None) -> dict[str, Any]:
        """Reset a bot to ``config`` (PUT), or to its process defaults (DELETE) when None."""
        if config is None:
            return self._admin("DELETE", "/admin/bot")
        return self._admin("PUT", "/admin/bot", config)

    def candles(self) -> dict[str, Any]:
        """The exchange's candle feed: its config and what it played."""
        return self._admin("GET", "/admin/candles")

    def set_candles(self, config: dict[str, Any] | None = None) -> dict[str, Any]:
        """Restart the exchange's candle feed with ``config`` (PUT), or with its defaults (DELETE)."""
        if config is None:
            return self._admin("DELETE", "/admin/candles")
        return self._admin("PUT", "/admin/candles", config)

    def metrics_text(self) -> str:
        """The raw ``/metrics`` exposition."""
        return self.request("GET", "/metrics").text
