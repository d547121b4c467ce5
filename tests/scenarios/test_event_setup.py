"""The trading-bot setup models."""

from __future__ import annotations

from pathlib import Path

from obs_tests.scenarios.event_setup import BotSetup, EventSetup, ExchangeSetup, ReplaySetup, output_path


def test_the_exchange_body_holds_only_what_the_scenario_gave() -> None:
    assert ExchangeSetup(scenario="flash_crash", initial_price=50_000.0).body() == {
        "scenario": "flash_crash",
        "initial_price": 50_000.0,
    }
    assert ExchangeSetup().body() == {}


def test_a_setup_drives_the_bot_with_a_bot_or_a_replay_and_finds_the_recording_beside_the_scenario() -> None:
    assert not EventSetup(exchange=ExchangeSetup()).drives_bot
    assert EventSetup(bot=BotSetup()).drives_bot
    replay = EventSetup(replay=ReplaySetup("recordings/x.json"), base=Path("scenarios/bot"))
    assert replay.drives_bot and replay.replay_path() == Path("scenarios/bot/recordings/x.json")
    assert EventSetup(bot=BotSetup()).replay_path() is None


def test_output_paths_take_a_file_safe_scenario_name() -> None:
    template = "reports/{scenario_name}.html"
    assert output_path(template, "Flash Crash Recovery Test") == Path("reports/flash_crash_recovery_test.html")
    assert output_path(template, "a/b: c", Path("/tmp/x")) == Path("/tmp/x/reports/a_b__c.html")
    assert output_path("fixed.json", "anything") == Path("fixed.json")
