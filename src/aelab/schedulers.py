"""Learning-rate schedules that torch does not ship."""

from __future__ import annotations

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from aelab.utils.errors import require


class StagedDecayLR(LRScheduler):
    """Stage i (0 .. stages-1) lasts growth**i epochs at lr * 10**(-i / stages_per_decade); the last rate then stays.

    The defaults are Burda et al. 2016's schedule: 3^i passes at 1e-3 * 10^(-i/7) for i = 0..7, 3,280 passes
    in all. Step it once an epoch (`interval: epoch`).
    """

    def __init__(
        self,
        optimizer: Optimizer,
        stages: int = 8,
        growth: int = 3,
        stages_per_decade: float = 7.0,
        last_epoch: int = -1,
    ) -> None:
        require(stages >= 1, f"scheduler.stages must be >= 1, not {stages}.")
        require(growth >= 1, f"scheduler.growth must be >= 1, not {growth}.")
        require(stages_per_decade > 0, f"scheduler.stages_per_decade must be positive, not {stages_per_decade}.")
        self.stages, self.growth, self.stages_per_decade = stages, growth, stages_per_decade
        super().__init__(optimizer, last_epoch)

    @property
    def total_epochs(self) -> int:
        """The epochs of all stages together."""
        return sum(self.growth**i for i in range(self.stages))

    def stage(self, epoch: int) -> int:
        """The stage that the epoch (counted from 0) belongs to."""
        end = 0
        for i in range(self.stages):
            end += self.growth**i
            if epoch < end:
                return i
        return self.stages - 1

    def get_lr(self) -> list[float]:
        factor = 10 ** (-self.stage(self.last_epoch) / self.stages_per_decade)
        return [base * factor for base in self.base_lrs]
