"""aelab's OmegaConf resolvers, registered once when an entry point or `aelab.compose` is imported."""

from __future__ import annotations

import os
from typing import Any

from omegaconf import OmegaConf


def if_cpu(accelerator: str, on_cpu: Any, otherwise: Any) -> Any:
    """`on_cpu` for a trainer on the CPU, `otherwise` for GPUs (and `auto`, which picks a GPU when there is one)."""
    return on_cpu if str(accelerator) == "cpu" else otherwise


def rank_suffix() -> str:
    """`_rank<k>` for the DDP ranks SLURM starts after the first (each logs to a file of its own), else empty."""
    rank = int(os.environ.get("SLURM_PROCID") or 0)
    return f"_rank{rank}" if rank > 0 and int(os.environ.get("SLURM_NTASKS") or 1) > 1 else ""


def register() -> None:
    """Register the resolvers (again is harmless)."""
    OmegaConf.register_new_resolver("aelab.if_cpu", if_cpu, replace=True)
    OmegaConf.register_new_resolver("aelab.rank_suffix", rank_suffix, replace=True)


register()
