"""The test-set ELBO curve logged while training (Kingma & Welling 2014, Figure 2)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from aelab.utils.errors import UserError

CURVE = "+callbacks.test_curve._target_=aelab.callbacks.curves.ELBOCurve"


def test_the_curve_is_logged_every_epoch_and_leaves_training_alone(compose, tmp_path):
    import aelab

    common = ["model=vae", "model.latent_dim=8", "net.hidden_dims=[64]", "trainer.max_epochs=3"]
    aelab.train(compose(*common, CURVE, run="curve"))
    aelab.train(compose(*common, run="plain"))
    rows = pd.read_csv(tmp_path / "curve" / "csv" / "metrics.csv")
    curve = rows.dropna(subset=["test_curve/elbo"])
    elbo = curve["test_curve/elbo"].tolist()
    assert len(elbo) == 3 and elbo[0] < elbo[1] < elbo[2] < 0  # the bound rises as the model learns
    assert curve["test_curve/samples_seen"].tolist() == [4 * 128 * e for e in (1, 2, 3)]  # 4 batches an epoch
    with_curve, without = (json.loads((tmp_path / run / "metrics.json").read_text()) for run in ("curve", "plain"))
    assert with_curve["test/loss"] == without["test/loss"]  # the curve's own noise never moves the run's stream


def test_the_curve_refuses_a_model_without_an_elbo(compose):
    import aelab

    with pytest.raises(UserError, match="needs a model with an ELBO"):
        aelab.train(compose("model=ae", CURVE))
