"""User-facing errors: one sentence that says what is wrong and what to do."""

from __future__ import annotations


class UserError(Exception):
    """A mistake in the user's input, reported as one sentence without a traceback."""


def require(condition: bool, message: str) -> None:
    """Raise a UserError with `message` unless `condition` holds."""
    if not condition:
        raise UserError(message)
