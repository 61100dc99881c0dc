"""Per-step costs that aelab removes from Lightning's training loop, and the allocator setting for CPU runs."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import sys

from pytorch_lightning.profilers import Profiler

_NO_CONTEXT = contextlib.nullcontext()
# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


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


def keep_freed_memory(mmap_bytes: int = 256 << 20, trim_bytes: int = 1 << 30) -> bool:
    """Let glibc reuse freed tensor memory instead of returning it to the system after every step.

    By default each step's megabyte-sized gradients and activations are mapped and unmapped again, and the
    page faults cost a CPU run 5-20 % of its time and make its speed vary from run to run. Returns
    whether the setting took (glibc only).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and other C libraries have no mallopt
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, mmap_bytes)) and bool(mallopt(_M_TRIM_THRESHOLD, trim_bytes))
