"""Small helpers shared by the entry points."""

from aelab.utils.errors import UserError, require

__all__ = ["UserError", "require"]
