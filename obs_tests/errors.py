"""Every user-facing failure of obs-tests is a subclass of :class:`ObsTestsError`.

The tree::

    ObsTestsError                 base; ``exit_code`` says how the CLI exits
    ├── InputError                exit 2: the user gave us something we cannot use
    │   ├── UsageError            a bad command-line option or combination
    │   ├── ContractInvalid       obs.yaml does not match the contract schema
    │   ├── ConfigInvalid         a Prometheus/Alertmanager/dashboard file is unusable
    │   ├── ScenarioInvalid       a scenario file is unusable
    │   ├── PromQLSyntaxError     a PromQL expression (rule, dashboard, scenario) does not parse
    │   ├── RequestInvalid        a request to the ``serve`` API is unusable; ``status`` is its 4xx answer
    │   ├── SignalRejected        mock gateway: a webhook body is not a valid signal; ``reason`` says why
    │   ├── PayloadInvalid        mock sink: a webhook payload is not an Alertmanager payload
    │   ├── FaultsInvalid         mock services: a fault document does not match faults.schema.json
    │   ├── AdminRequestInvalid   mock services: an admin body (candle feed, bot, event chaos) is unusable
    │   ├── UnknownRun            ``serve``: no run with that test id (404)
    │   ├── BadScenarioName       ``serve``: not a plain file name of the scenario directory (400)
    │   └── UnknownScenario       ``serve``: no scenario file of that name (404)
    ├── EndpointError             exit 2: a server we were pointed at cannot be used
    │   ├── EndpointUnreachable   connection refused, DNS, TLS, timeout
    │   │   ├── PrometheusUnreachable
    │   │   ├── AlertmanagerUnreachable
    │   │   └── GrafanaUnreachable
    │   ├── EndpointAuthError     401/403
    │   ├── ApiError              the server answered, but not with what its API promises
    │   ├── DataMissing           health: a value a check needs could not be fetched
    │   └── PublishError          mock services: NATS JetStream did not take a publish
    ├── StackError                exit 2: the embedded stack could not do what was asked
    │   ├── StackStartError       a component did not start or did not become ready
    │   ├── StackNotRunning       no stack to talk to (status/down with no state file)
    │   ├── UnknownComponent      a component name that the stack does not have
    │   └── ControlUnavailable    process control asked of a stack we do not own
    ├── ToolError                 exit 2: promtool/amtool/locust missing or crashed
    ├── RunInProgress             ``serve``: a run is going on this stack already (409)
    ├── RunFinished               ``serve``: the run is over, nothing to stop (409)
    ├── ReportNotReady            ``serve``: the run has no such report (yet) (404 / 409)
    └── WaitTimeout               exit 1: a condition did not hold before its deadline

Messages say what is wrong, where, and how to fix it; the CLI prints ``ErrorType: message`` and
exits with ``exit_code``. Third-party exceptions are wrapped at the boundary where they occur.
"""

from __future__ import annotations

__all__ = [
    "AdminRequestInvalid",
    "AlertmanagerUnreachable",
    "ApiError",
    "BadScenarioName",
    "ConfigInvalid",
    "ContractInvalid",
    "ControlUnavailable",
    "DataMissing",
    "EndpointAuthError",
    "EndpointError",
    "EndpointUnreachable",
    "FaultsInvalid",
    "GrafanaUnreachable",
    "InputError",
    "ObsTestsError",
    "PayloadInvalid",
    "PromQLSyntaxError",
    "PrometheusUnreachable",
    "PublishError",
    "ReportNotReady",
    "RequestInvalid",
    "RunFinished",
    "RunInProgress",
    "ScenarioInvalid",
    "SignalRejected",
    "StackError",
    "StackNotRunning",
    "StackStartError",
    "ToolError",
    "UnknownComponent",
    "UnknownRun",
    "UnknownScenario",
    "UsageError",
    "WaitTimeout",
]


class ObsTestsError(Exception):
    """Base of every error obs-tests reports to a user."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InputError(ObsTestsError):
    """Something the user handed us (option, file, field) is unusable."""


class UsageError(InputError):
    """A bad command-line option, value or combination."""


class ContractInvalid(InputError):
    """The contract file (obs.yaml) is missing, malformed or does not match its schema."""


class ConfigInvalid(InputError):
    """A Prometheus, Alertmanager or dashboard file cannot be used."""


class ScenarioInvalid(InputError):
    """A scenario file is malformed or refers to unknown alerts, components or faults."""


class PromQLSyntaxError(InputError):
    """A PromQL expression (of a rule, a dashboard panel, a scenario) does not parse; the message is the
    parser's."""


class RequestInvalid(InputError):
    """A request to the ``obs-tests serve`` API is unusable; ``status`` is the HTTP status it is answered
    with (400, 413 too large, 415 not JSON)."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class SignalRejected(InputError):
    """A webhook body sent to the mock gateway is not a valid trading signal.

    ``reason`` is one of ``obs_tests.demo.signals.REASONS`` (the ``reason`` label of
    ``gateway_validation_errors_total``), ``message`` names the field; ``str()`` is ``reason: message``.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.reason}: {self.message}"


class PayloadInvalid(InputError):
    """A webhook payload posted to the mock sink is not an Alertmanager payload (the message names the field)."""


class FaultsInvalid(InputError):
    """A fault document does not match ``faults.schema.json``; the message names the field."""


class AdminRequestInvalid(InputError):
    """An admin request body of a mock service (the exchange's candle feed, the bot, its event chaos) is
    unusable; the message names the field and the values it may take (HTTP 400)."""


class UnknownRun(InputError):
    """No run with that test id (HTTP 404)."""


class BadScenarioName(InputError):
    """A scenario name that is not a plain file name of the scenario directory (HTTP 400)."""


class UnknownScenario(InputError):
    """No scenario file of that name in the scenario directory (HTTP 404)."""


class RunInProgress(ObsTestsError):
    """A run is going on this stack already (HTTP 409)."""


class RunFinished(ObsTestsError):
    """The run is over: nothing to stop (HTTP 409)."""


class ReportNotReady(ObsTestsError):
    """The run has no such report (yet) (HTTP 404 / 409)."""

    def __init__(self, message: str, *, running: bool) -> None:
        super().__init__(message)
        self.running = running


class EndpointError(ObsTestsError):
    """A server we were pointed at cannot be used."""


class EndpointUnreachable(EndpointError):
    """Connection refused, name not resolved, TLS failure or timeout."""


class PrometheusUnreachable(EndpointUnreachable):
    """The Prometheus URL does not answer."""


class AlertmanagerUnreachable(EndpointUnreachable):
    """The Alertmanager URL does not answer."""


class GrafanaUnreachable(EndpointUnreachable):
    """The Grafana URL does not answer."""


class EndpointAuthError(EndpointError):
    """The server refused our credentials (HTTP 401/403)."""


class ApiError(EndpointError):
    """The server answered, but not the way its API is documented to answer."""


class DataMissing(EndpointError):
    """A value a health check needs could not be fetched (its request failed); that check is UNKNOWN."""


class PublishError(EndpointError):
    """A mock service could not publish to NATS JetStream (not connected, no ack in time, an error reply,
    or an injected failure)."""


class StackError(ObsTestsError):
    """The embedded stack could not do what was asked."""


class StackStartError(StackError):
    """A component of the embedded stack did not start or did not become ready in time."""


class StackNotRunning(StackError):
    """There is no running stack to talk to."""


class UnknownComponent(StackError):
    """A component name the stack does not have."""


class ControlUnavailable(StackError):
    """Process control (kill/stop/pause/...) asked of a stack obs-tests does not own."""


class ToolError(ObsTestsError):
    """A real tool we drive (promtool, amtool, locust) is missing or failed to run."""


class WaitTimeout(ObsTestsError):
    """A condition did not hold before its deadline.

    The message always carries what was expected, what was seen last and the theoretical bound.
    """

    exit_code = 1

    def __init__(self, message: str, *, expected: str = "", last_seen: str = "", bound: str = "") -> None:
        super().__init__(message)
        self.expected = expected
        self.last_seen = last_seen
        self.bound = bound
