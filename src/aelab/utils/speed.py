"""Per-step costs that aelab removes from Lightning's training loop."""

from __future__ import annotations

import contextlib
import os

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


def skip_gpu_probe_on_cpu(trainer) -> None:
    """On a CPU run, let torch answer `cuda.is_available()` from its cached count instead of probing NVML.

    Lightning sets PYTORCH_NVML_BASED_CUDA_CHECK=1 at import, so that forking stays safe before CUDA starts.
    Until CUDA starts, that check loads the NVML library on every call (about 30 µs), and torch's Adam and
    AdamW make it on every step: 10 % of a small model's step. A CPU run never starts CUDA.
    """
    if trainer.strategy.root_device.type == "cpu":
        os.environ.pop("PYTORCH_NVML_BASED_CUDA_CHECK", None)
