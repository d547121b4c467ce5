"""The error tree: errors.py draws it as it is, and no module grows an exception class outside it."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import pytest

import obs_tests
from obs_tests import errors
from obs_tests.errors import (
    DataMissing,
    EndpointError,
    InputError,
    ObsTestsError,
    PayloadInvalid,
    PromQLSyntaxError,
    PublishError,
    RequestInvalid,
    SignalRejected,
)

#: exception classes that stay outside the tree on purpose (private ``_`` classes are allowed too: a
#: signal between functions of one module, never seen outside it)
OUTSIDE_THE_TREE = {
    "obs_tests.core.interrupts.Interrupted": "a KeyboardInterrupt, so `except Exception` / `except ObsTestsError` "
    "let it through and every teardown runs",
    "obs_tests.web.stream.StreamMessageInvalid": "a bug in the stream's own publisher, never the user's input: "
    "reporting it as an ObsTestsError would hide the bug behind a user error",
}

_TREE_LINE = re.compile(r"^    (?P<pad>(?:│   |    )*)(?P<branch>[├└]── )?(?P<name>[A-Z]\w+)")


def _drawn_tree() -> dict[str, str | None]:
    """Each class of the drawing in errors.py's docstring -> the class it hangs from."""
    doc = errors.__doc__ or ""
    drawing = doc.split("The tree::\n\n", 1)[1].split("\n\n", 1)[0]
    parents: dict[str, str | None] = {}
    path: list[str] = []
    for line in drawing.splitlines():
        match = _TREE_LINE.match(line)
        assert match, f"not a line of the tree: {line!r}"
        depth = len(match["pad"]) // 4 + 1 if match["branch"] else 0
        del path[depth:]
        parents[match["name"]] = path[-1] if path else None
        path.append(match["name"])
    return parents


def _error_classes() -> dict[str, str | None]:
    """Each exception class defined in errors.py -> its base (None for ObsTestsError)."""
    return {
        name: None if cls is ObsTestsError else cls.__bases__[0].__name__
        for name, cls in vars(errors).items()
        if inspect.isclass(cls) and issubclass(cls, BaseException) and cls.__module__ == errors.__name__
    }


def test_errors_docstring_draws_the_tree_as_defined() -> None:
    assert _drawn_tree() == _error_classes()


def test_errors_exports_every_error() -> None:
    assert sorted(errors.__all__) == sorted(_error_classes())


def _modules() -> list[str]:
    return sorted(
        m.name
        for m in pkgutil.walk_packages(obs_tests.__path__, "obs_tests.")
        if ".suite." not in m.name and not m.name.endswith("__main__")
    )


def test_no_exception_class_outside_the_tree() -> None:
    outside = []
    for name in _modules():
        module = importlib.import_module(name)
        for attr, cls in vars(module).items():
            if not (inspect.isclass(cls) and issubclass(cls, BaseException)) or cls.__module__ != name:
                continue
            qualified = f"{name}.{attr}"
            if issubclass(cls, ObsTestsError) or attr.startswith("_") or qualified in OUTSIDE_THE_TREE:
                continue
            outside.append(f"{qualified}({', '.join(base.__name__ for base in cls.__bases__)})")
    assert not outside, (
        f"exception classes outside the ObsTestsError tree: {outside} — define them in obs_tests/errors.py "
        "under the base that says what failed, and draw them in its docstring"
    )


@pytest.mark.parametrize(
    ("cls", "base"),
    [
        pytest.param(PromQLSyntaxError, InputError, id="promql"),
        pytest.param(RequestInvalid, InputError, id="serve-request"),
        pytest.param(SignalRejected, InputError, id="gateway-signal"),
        pytest.param(PayloadInvalid, InputError, id="sink-payload"),
        pytest.param(DataMissing, EndpointError, id="health-data"),
        pytest.param(PublishError, EndpointError, id="nats-publish"),
    ],
)
def test_errors_moved_into_the_tree_exit_as_usage_errors(cls: type[ObsTestsError], base: type[ObsTestsError]) -> None:
    assert issubclass(cls, base)
    assert cls.exit_code == 2


def test_signal_rejected_keeps_reason_and_message_apart() -> None:
    exc = SignalRejected("missing_field", "missing required field 'timestamp'")
    assert (exc.reason, exc.message) == ("missing_field", "missing required field 'timestamp'")
    assert str(exc) == "missing_field: missing required field 'timestamp'"


def test_request_invalid_is_a_400_unless_told() -> None:
    assert RequestInvalid("bad").status == 400
    too_large = RequestInvalid("request body over 65536 bytes", status=413)
    assert (too_large.status, str(too_large)) == (413, "request body over 65536 bytes")


def test_every_error_of_the_tree_is_defined_in_errors_py() -> None:
    """The tree is in one place: seven ObsTestsError subclasses of the serve API and the mock services were
    defined in their modules, missing from the drawing."""
    elsewhere = []
    for name in _modules():
        module = importlib.import_module(name)
        for attr, cls in vars(module).items():
            if inspect.isclass(cls) and issubclass(cls, ObsTestsError) and cls.__module__ == name != errors.__name__:
                elsewhere.append(f"{name}.{attr}")
    assert not elsewhere, f"define these in obs_tests/errors.py and draw them in its tree: {elsewhere}"
