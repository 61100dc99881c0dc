"""The codes analysis: the test codes and labels as files for use outside aelab."""

from __future__ import annotations

import numpy as np

from aelab.metrics.evaluation import Evaluation


def codes(ev: Evaluation) -> dict[str, float]:
    """Write codes.npy [N, D] (flattened codes), labels.npy [N] and codes.csv (z0..z{D-1}, label)."""
    values = ev.test_codes.flatten(1).numpy()
    labels = ev.test_y.astype(np.int64)
    ev.out_dir.mkdir(parents=True, exist_ok=True)
    np.save(ev.path("codes.npy"), values)
    np.save(ev.path("labels.npy"), labels)
    header = ",".join([*(f"z{i}" for i in range(values.shape[1])), "label"])
    table = np.column_stack([values, labels]).astype(object)
    np.savetxt(
        ev.path("codes.csv"), table, delimiter=",", header=header, comments="", fmt=["%.7g"] * values.shape[1] + ["%d"]
    )
    return {"codes/count": float(len(values)), "codes/dim": float(values.shape[1])}
