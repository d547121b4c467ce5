"""Every public module declares ``__all__`` and every name in it exists (httpx's guard)."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import obs_tests

MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(obs_tests.__path__, "obs_tests.")
    if not m.name.rsplit(".", 1)[-1].startswith(("_", "test_")) and ".suite." not in m.name
)


def test_modules_found() -> None:
    assert "obs_tests.config.contract" in MODULES
    assert "obs_tests.stack.embedded" in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_public_module_declares_all(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    if exported is None:
        # packages and the command modules may be docstring-only
        assert module.__file__ is not None
        assert module.__file__.endswith("__init__.py") or name.startswith("obs_tests.commands"), name
        return
    missing = [n for n in exported if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ names missing members: {missing}"
