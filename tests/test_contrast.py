"""Global contrast normalisation and min-max scaling (Ruff et al. 2018's preprocessing) as data options."""

from __future__ import annotations

import pytest
import torch

from aelab.data.contrast import ImagePreprocessing, global_contrast_normalize
from aelab.utils.errors import find_user_error


@pytest.mark.parametrize("norm", ["l1", "l2"])
def test_each_image_has_zero_mean_and_unit_norm_after_contrast_normalisation(norm):
    images = torch.randint(0, 256, (50, 1, 28, 28), dtype=torch.uint8)
    normalised = global_contrast_normalize(images, norm).flatten(1)
    assert normalised.mean(1).abs().max() < 1e-6
    norms = normalised.abs().sum(1) if norm == "l1" else normalised.norm(dim=1)
    torch.testing.assert_close(norms, torch.ones(50))
    assert torch.isfinite(global_contrast_normalize(torch.zeros(2, 1, 4, 4), norm)).all()  # blank images stay finite


def build(compose, *overrides):
    from aelab.train import build_datamodule

    return build_datamodule(compose("data=digits", *overrides).data)


def test_scaling_uses_the_normal_training_images_only(compose):
    data = build(compose, "data.contrast_norm=l1", "data.minmax_scale=true", "data.normal_classes=[3]")
    training = torch.cat([data.train_x, data.val_x])
    assert set(torch.cat([data.train_y, data.val_y]).tolist()) == {3}
    assert float(training.min()) == pytest.approx(0.0, abs=1e-6) and float(training.max()) == pytest.approx(1.0)
    # The test images are mapped by the training images' extremes: the other digits leave [0, 1].
    assert float(data.test_x.min()) < 0 or float(data.test_x.max()) > 1
    raw_test = data.arrays.test_x
    low, high = data.preprocessing.low, data.preprocessing.high
    torch.testing.assert_close(data.test_x, (global_contrast_normalize(raw_test, "l1") - low) / (high - low))
    # Other test images would not move the scaling: it is fitted on the training split alone.
    again = ImagePreprocessing("l1", True).fit(torch.cat([data.arrays.train_x[data.arrays.train_y == 3]]))
    assert (again.low, again.high) == pytest.approx((low, high))
    torch.testing.assert_close(data.preprocessed(raw_test), data.test_x)


def test_minmax_alone_and_no_validation_split_with_normal_classes(compose):
    data = build(compose, "data.minmax_scale=true", "data.val_fraction=0", "data.normal_classes=[0]")
    assert len(data.val_x) == 0 and float(data.train_x.max()) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (("data.contrast_norm=l1",), "add data.minmax_scale=true"),
        (("data.contrast_norm=l1", "data.minmax_scale=true", "data.binarize=static"), "choose one"),
        (("data.contrast_norm=l3",), "must be l1, l2 or null"),
    ],
)
def test_impossible_preprocessing_is_refused_in_one_sentence(compose, overrides, message):
    with pytest.raises(Exception) as caught:
        build(compose, *overrides)
    assert message in str(find_user_error(caught.value))
