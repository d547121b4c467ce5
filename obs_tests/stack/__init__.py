"""The stack obs-tests validates: embedded (local processes), compose (containers) or external (URLs)."""

from __future__ import annotations

from obs_tests.stack.compose_stack import ComposeStack
from obs_tests.stack.embedded import ComponentStatus, EmbeddedStack
from obs_tests.stack.external import ExternalStack

__all__ = ["ComponentStatus", "ComposeStack", "EmbeddedStack", "ExternalStack", "Stack"]

Stack = EmbeddedStack | ExternalStack
