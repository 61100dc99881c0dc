"""Training metrics for two tensor operations a step: epoch means from one running sum.

`LightningModule.log` costs about half a millisecond a call on CPU, as much as a small model's whole step.
Training values are therefore summed here and handed to the loggers and the monitors once an epoch
(`aelab.internals.lightning.write_train_metrics`), and step values once every `trainer.log_every_n_steps`;
validation and test keep `self.log`, whose cost is paid once an epoch.
"""

from __future__ import annotations

import torch


class RunningSums:
    """Batch-size-weighted sums of named scalar tensors, kept as one tensor."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.sums: torch.Tensor | None = None
        self.count = 0

    def add(self, values: dict[str, torch.Tensor], weight: int) -> None:
        """Add one batch's values, weighted by its size."""
        stacked = torch.stack(list(values.values())).detach()
        stacked = stacked.to(torch.promote_types(stacked.dtype, torch.float32))  # bf16 sums in float32, float64 stays
        if self.sums is None:
            self.names, self.sums = list(values), stacked * weight
        else:
            self.sums.add_(stacked, alpha=weight)
        self.count += weight

    def means(self, strategy) -> dict[str, torch.Tensor]:
        """Return the means over every sample seen, on all ranks together."""
        if self.sums is None:
            return {}
        totals = strategy.reduce(torch.cat([self.sums, self.sums.new_tensor([self.count])]), reduce_op="sum")
        return dict(zip(self.names, totals[:-1] / totals[-1]))
