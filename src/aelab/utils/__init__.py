"""Small helpers shared by the entry points."""

from aelab.utils.errors import UserError, find_user_error, require

__all__ = ["UserError", "find_user_error", "require"]
