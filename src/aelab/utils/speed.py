"""Per-step costs that aelab removes from Lightning's training loop."""

from __future__ import annotations

import contextlib

from pytorch_lightning.profilers import Profiler

_NO_CONTEXT = contextlib.nullcontext()


class NoProfiler(Profiler):
    """Lightning's default when no profiler is asked for, without a generator context per hook call.

    Lightning wraps every hook of every callback in `profiler.profile(...)`; its pass-through profiler
    builds a `contextlib.contextmanager` generator each time, several microseconds on each of ~80 calls a step.
    """

    def start(self, action_name: str) -> None:
        """Record nothing."""

    def stop(self, action_name: str) -> None:
        """Record nothing."""

    def profile(self, action_name: str) -> contextlib.nullcontext:
        """Return a shared do-nothing context."""
        return _NO_CONTEXT
