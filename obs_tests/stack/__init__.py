"""The stack obs-tests validates: embedded (local processes), compose (containers) or external (URLs)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from obs_tests.stack.component_status import ComponentStatus
from obs_tests.stack.compose_stack import ComposeStack
from obs_tests.stack.embedded import EmbeddedStack
from obs_tests.stack.external import ExternalStack
from obs_tests.stack.protocol import Stack

__all__ = ["ComponentStatus", "ComposeStack", "EmbeddedStack", "ExternalStack", "Stack"]

if TYPE_CHECKING:  # mypy proves each stack is a Stack (a missing or mistyped member fails make lint)
    _EMBEDDED: type[Stack] = EmbeddedStack
    _COMPOSE: type[Stack] = ComposeStack
    _EXTERNAL: type[Stack] = ExternalStack
