"""Suite-wide fixtures: the chaos scenarios start in the background on stacks of their own.

With ``stack.scenario_stacks`` >= 2 (``--obs-scenario-stacks``) and the embedded stack, the
selected chaos scenarios start at the beginning of the session on that many extra embedded stacks, each
scenario on a stack of its own, while every other check runs on the session's stack; the chaos module
runs last and judges the results. When only chaos scenarios are selected, the session's stack is one of
the pool. However the session ends (failure, SIGINT, SIGTERM), running scenarios are stopped, their
faults reverted and the pool's stacks stopped before the session's stack.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from obs_tests.scenarios.lanes import Background, LentStack, StackPool
from obs_tests.scenarios.model import Scenario
from obs_tests.scenarios.standalone import RunOutput
from obs_tests.stack import EmbeddedStack
from obs_tests.suite.session_settings import run_settings
from obs_tests.suite.terminal_progress import session_progress

CHAOS_MODULE = "test_chaos.py"
_LENT = pytest.StashKey[LentStack]()
_SESSION_STACK = pytest.StashKey[EmbeddedStack]()


def _is_chaos(item: pytest.Item) -> bool:
    return item.path.name == CHAOS_MODULE


def _uses_stack(item: pytest.Item) -> bool:
    return "stack" in getattr(item, "fixturenames", ())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The checks that use the session's stack run first, then those that do not (promtool, amtool,
    lint), then the chaos module: the other checks run while its scenarios run in the background, and
    once the session's stack is no longer needed it takes waiting scenarios too (see
    :func:`pytest_runtest_teardown`) while the stack-free checks run."""
    items.sort(key=lambda item: 2 if _is_chaos(item) else 0 if _uses_stack(item) else 1)  # stable


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """After the last check that uses the session's stack (its fixtures torn down, its load stopped, its
    faults reverted), lend that stack to the scenario pool as one more lane."""
    result = yield
    last = nextitem is None or _is_chaos(nextitem) or not _uses_stack(nextitem)
    if last and _uses_stack(item) and not _is_chaos(item):
        _lend_session_stack(item.config)
    return result


_AREA = pytest.StashKey[str]()


def _area(item: pytest.Item) -> str:
    return item.path.stem.removeprefix("test_")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Say when the checks of another area (module) begin, and how many there are: a log shows what the
    run is busy with, between the dots."""
    area = _area(item)
    if item.config.stash.get(_AREA, None) == area:
        return
    item.config.stash[_AREA] = area
    items = item.session.items
    start = items.index(item) if item in items else len(items)
    count = next((n for n, other in enumerate(items[start:]) if _area(other) != area), len(items) - start)
    session_progress(item.config).line(f"{area}: {max(count, 1)} check(s) …")


def _lend_session_stack(config: pytest.Config) -> None:
    lent = config.stash.get(_LENT, None)
    stack = config.stash.get(_SESSION_STACK, None)
    if lent is not None and stack is not None:
        lent.lend(stack)


def selected_scenarios(session: pytest.Session) -> list[Scenario]:
    """The scenarios of the selected ``test_scenario`` items, in their order."""
    return [
        item.callspec.params["contract_scenario"]
        for item in session.items
        if getattr(item, "originalname", "") == "test_scenario"
        and hasattr(item, "callspec")
        and item.get_closest_marker("skip") is None  # an HA scenario on a single stack
    ]


@pytest.fixture(scope="session", autouse=True)
def scenario_pool(request: pytest.FixtureRequest) -> Iterator[Background | None]:
    """The chaos scenarios running in the background on a pool of stacks (None: they run one by one, in
    their tests)."""
    config = request.config
    session = request.session
    selected = selected_scenarios(session)
    try:
        settings = run_settings(config)
    except pytest.UsageError:
        yield None  # the stack fixture reports it
        return
    if len(selected) < 2 or settings.scenario_stacks < 2 or not settings.embedded:
        yield None  # (on a stack of yours test_scenario skips: scenarios need the embedded system)
        return
    stacks, contract, logs = settings.scenario_stacks, settings.contract, settings.log_dir
    # the command line's time scale, else the one the scenarios declare, else the contract's; the session's
    # stack joins the pool only when it runs at that scale too
    scale = settings.scenario_time_scale(s.time_scale for s in selected)
    shared = scale == settings.time_scale
    made: list[int] = []

    def make() -> EmbeddedStack:
        made.append(len(made) + 2)
        where = logs / f"scenario-stack-{made[-1]}" if logs else None
        return EmbeddedStack(contract, time_scale=scale, log_dir=where, origin="scenario")

    # Other checks selected: the session's stack is theirs and the scenarios' stacks start meanwhile, the
    # session's stack is lent once they are done with it; only scenarios: the session's stack is one of
    # the pool.
    others = any(not _is_chaos(item) for item in session.items)
    lent = LentStack() if others and shared else None
    first = None if others or not shared else request.getfixturevalue("stack")
    output = RunOutput(directory=settings.report_dir / "scenarios")  # recordings and reports of bot scenarios
    scenarios = Background(selected, StackPool(make, stacks=stacks, first=first, lent=lent), output=output)
    scenarios.start()
    own = stacks - (0 if first is None else 1)
    session_progress(config).line(
        f"chaos: {len(selected)} scenarios run in the background on {own} stack(s) of their own"
        + (", and on the session's stack once the other checks are done with it" if lent is not None else "")
    )
    try:
        stack = request.getfixturevalue("stack")
        if isinstance(stack, EmbeddedStack) and lent is not None:
            config.stash[_SESSION_STACK] = stack
            config.stash[_LENT] = lent
            if not any(_uses_stack(item) and not _is_chaos(item) for item in session.items):
                _lend_session_stack(config)  # no check needs it: a lane from the start
        yield scenarios
    finally:
        if _LENT in config.stash:
            del config.stash[_LENT]
        scenarios.close()


#: how long a load check waits for a turn (a load-driven scenario takes ~20-40 s) before it goes ahead
LOAD_TURN_WAIT = 120.0


@pytest.fixture
def load_turn(scenario_pool: Background | None) -> Iterator[None]:
    """For a check that drives load itself (Locust, the 1,000-webhook burst): one of the turns of the
    background scenarios' per-core limit on load, so the CPU never carries more load at once than that
    (see :mod:`~obs_tests.scenarios.load_turns`)."""
    if scenario_pool is None:
        yield
        return
    with scenario_pool.load_turn(timeout=LOAD_TURN_WAIT):
        yield
