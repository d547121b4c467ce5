"""The trading-bot part of a scenario's ``setup`` as typed models: the exchange's candle feed, the bot, the
recording, the report and a replay (:class:`EventSetup`; :mod:`obs_tests.scenarios.event_session` sets
them up for a run). Built from a file by the scenario loader, or in code::

    setup = EventSetup(exchange=ExchangeSetup(scenario="flash_crash"), bot=BotSetup(poll_interval=10))
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "BotSetup",
    "EventSetup",
    "ExchangeSetup",
    "RecordingSetup",
    "ReplaySetup",
    "ReportSetup",
    "output_path",
]


@dataclass(frozen=True)
class ExchangeSetup:
    """``setup.exchange``: the candle feed the bot reads (None: the exchange's default)."""

    scenario: str | None = None
    initial_price: float | None = None
    pair: str | None = None
    volatility_multiplier: float | None = None
    spread_bps: float | None = None
    seed: int | None = None
    warmup_candles: int | None = None

    def body(self) -> dict[str, Any]:
        """The ``PUT /admin/candles`` body (the fields given)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


@dataclass(frozen=True)
class BotSetup:
    """``setup.bot``: capital, pools, poll interval (seconds, scaled by the time scale) and strategy."""

    initial_capital: float = 10_000.0
    pool_count: int = 5
    poll_interval: float = 60.0
    strategy: str = "trend"


@dataclass(frozen=True)
class RecordingSetup:
    """``setup.recording``: write every event of the run to ``output`` (``{scenario_name}`` substituted)."""

    enabled: bool = True
    output: str = "recordings/{scenario_name}.json"


@dataclass(frozen=True)
class ReportSetup:
    """``setup.report``: the run's report (``html``, ``json`` or ``markdown``) written to ``output``."""

    format: str = "html"
    output: str = "reports/{scenario_name}.html"
    include_events: bool = True
    include_statistics: bool = True


@dataclass(frozen=True)
class ReplaySetup:
    """``setup.replay``: run against a recording instead of the live bot."""

    recording: str
    speed_multiplier: float = 1.0


@dataclass(frozen=True)
class EventSetup:
    """The bot-language parts of ``setup``; ``base`` is the scenario file's directory (a replay's recording
    is found relative to it; recordings and reports are written relative to the run's output directory)."""

    exchange: ExchangeSetup | None = None
    bot: BotSetup | None = None
    recording: RecordingSetup | None = None
    report: ReportSetup | None = None
    replay: ReplaySetup | None = None
    base: Path = Path()

    @property
    def drives_bot(self) -> bool:
        """Whether the run has bot events to record (a live bot or a replay)."""
        return self.bot is not None or self.replay is not None

    def replay_path(self) -> Path | None:
        """The recording to replay, relative to the scenario's directory."""
        return None if self.replay is None else self.base / self.replay.recording


def output_path(template: str, scenario_name: str, base: Path = Path()) -> Path:
    """``template`` with ``{scenario_name}`` filled in (a file-safe form of the name), relative to ``base``."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in scenario_name.lower().replace(" ", "_"))
    return base / template.replace("{scenario_name}", safe)
