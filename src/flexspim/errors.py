"""Error types shared by every part of flexspim.

Every error a user can cause is a :class:`FlexspimError`: a one-line message that says what is
wrong, where (file, layer, field, byte offset) and how to fix it. The CLI prints it on one line and
exits with code 2 (a traceback only with ``--debug``).
"""

from __future__ import annotations


class FlexspimError(ValueError):
    """Base class of every user-facing error. ``str(err)`` is a single line."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


class ConfigError(FlexspimError):
    """A configuration value (hardware file, sweep file, CLI option) is invalid."""


class FormatError(FlexspimError):
    """A file is not in the expected format, is truncated, or has another format version."""


class OperandError(FlexspimError):
    """An operand does not fit its width, its shape or the macro."""


class NetworkError(FlexspimError):
    """An integer network is invalid (shapes that do not chain, values that do not fit)."""


class MappingError(FlexspimError):
    """A network cannot be mapped onto the hardware; names the rule, the layer and what is short."""

    def __init__(self, rule: str, message: str) -> None:
        self.rule = rule
        super().__init__(f"[{rule}] {message}")
