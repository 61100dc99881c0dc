"""User-facing errors: one sentence that says what is wrong and what to do."""

from __future__ import annotations

from omegaconf.errors import MissingMandatoryValue


class UserError(Exception):
    """A mistake in the user's input, reported as one sentence without a traceback."""


def require(condition: bool, message: str) -> None:
    """Raise a UserError with `message` unless `condition` holds."""
    if not condition:
        raise UserError(message)


def find_user_error(error: BaseException | None) -> UserError | None:
    """Return the UserError in an exception's chain (Hydra's instantiate wraps them), if any."""
    while error is not None:
        if isinstance(error, UserError):
            return error
        if isinstance(error, MissingMandatoryValue) and error.full_key:  # a `???` left unset in the config
            return UserError(f"{error.full_key} has no value: pass {error.full_key}=<value> on the command line.")
        error = error.__cause__ or error.__context__
    return None
