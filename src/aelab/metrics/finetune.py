"""The finetune analysis: the model's encoder with a softmax layer on top, trained end to end on the training labels.

Beside it, the same network trained from scratch (the variant rebuilt from its options, so its net's own
initialisation) and a softmax layer on PCA codes of the same size; each is trained alike and scored by its error on
the test split. Training follows the Theano tutorials' early stopping (Vincent et al. 2010's SdA): minibatch SGD, the
validation error after every epoch, and a patience that starts at `patience` epochs and grows to `patience_increase`
times the epoch of every improvement by more than the factor `improvement`; the test error is that of the epoch with
the lowest validation error. Without a validation split the last epoch's weights are tested.
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import nn

from aelab.data.batches import to_float
from aelab.metrics.evaluation import Evaluation

DEFAULTS = {
    "lr": 0.1,
    "batch_size": 20,
    "max_epochs": 36,
    "patience": 10,
    "patience_increase": 2.0,
    "improvement": 0.995,
    "momentum": 0.0,
    "weight_decay": 0.0,
    "scratch": True,
    "pca": True,
}


class Classifier(nn.Module):
    """An encoder (any callable from inputs to codes) and a softmax layer over its flattened codes."""

    def __init__(self, encode: nn.Module, code_size: int, classes: int) -> None:
        super().__init__()
        self.encode = encode
        # Zeros, as the Theano tutorials' logistic layer starts: the encoder's features decide the first steps.
        self.head = nn.Linear(code_size, classes)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encode(x).flatten(1))


class Encoding(nn.Module):
    """A model's `encode` as a module: its parameters train with the classifier."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.encode(x)


class Projection(nn.Module):
    """Fixed PCA codes: (x - mean) projected on the principal directions."""

    def __init__(self, mean, basis) -> None:
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("basis", torch.as_tensor(basis, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x.flatten(1) - self.mean) @ self.basis.T


@torch.no_grad()
def error_rate(net: nn.Module, x: torch.Tensor, y: torch.Tensor, device: torch.device, batch: int = 1000) -> float:
    """The fraction of samples whose most probable class is not their label."""
    net.eval()
    batches = zip(x.split(batch), y.split(batch))
    wrong = sum(int((net(to_float(xb).to(device)).argmax(1).cpu() != yb).sum()) for xb, yb in batches)
    return wrong / max(len(y), 1)


def train_classifier(net: nn.Module, splits: dict, settings: dict, device: torch.device, seed: int) -> dict:
    """Train `net` by minibatch SGD with early stopping on the validation error; return its test error and epochs."""
    net.to(device)
    trainable = [p for p in net.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(
        trainable, lr=settings["lr"], momentum=settings["momentum"], weight_decay=settings["weight_decay"]
    )
    (train_x, train_y), (val_x, val_y), (test_x, test_y) = splits["train"], splits["val"], splits["test"]
    generator = torch.Generator().manual_seed(seed)
    patience, best_val, best_state, best_epoch, epoch = settings["patience"], math.inf, None, 0, 0
    while epoch < settings["max_epochs"] and epoch < patience:
        net.train()
        for index in torch.randperm(len(train_x), generator=generator).split(settings["batch_size"]):
            x, y = to_float(train_x[index]).to(device), train_y[index].to(device)
            loss = F.cross_entropy(net(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        epoch += 1
        if len(val_y) == 0:
            continue
        val_error = error_rate(net, val_x, val_y, device)
        if val_error < best_val:
            if val_error < best_val * settings["improvement"]:
                patience = max(patience, epoch * settings["patience_increase"])
            best_val, best_epoch = val_error, epoch
            best_state = copy.deepcopy(net.state_dict())
    if best_state is not None:
        net.load_state_dict(best_state)
    return {
        "error": error_rate(net, test_x, test_y, device),
        "val_error": best_val if best_state is not None else math.nan,
        "epochs": float(epoch),
        "best_epoch": float(best_epoch or epoch),
    }


def finetune(ev: Evaluation) -> dict[str, float]:
    """Test errors of the fine-tuned encoder, the same network from scratch and a softmax on PCA codes."""
    settings = {**DEFAULTS, **ev.settings("finetune")}
    data = ev.datamodule
    splits = {
        "train": (data.train_x.cpu(), data.train_y.cpu()),
        "val": (data.val_x.cpu(), data.val_y.cpu()),
        "test": (data.test_x.cpu(), data.test_y.cpu()),
    }
    classes = int(max(int(data.train_y.max()), int(data.test_y.max())) + 1)
    model = ev.model
    trained = type(model)(**model.hparams)  # a copy to fine-tune, leaving the evaluated model as it is
    trained.load_state_dict(model.state_dict())
    candidates = {"": trained}
    if settings["scratch"]:
        torch.manual_seed(ev.seed)  # the fresh network's initialisation is the net's own, from the run's seed
        candidates["scratch_"] = type(model)(**model.hparams)
    code_size = int(ev.test_codes[0].numel())
    metrics = {}
    for prefix, network in candidates.items():
        net = Classifier(Encoding(network), code_size, classes)
        found = train_classifier(net, splits, settings, ev.device, ev.seed)
        metrics |= {f"finetune/{prefix}{key}": value for key, value in found.items()}
    if settings["pca"]:
        net = Classifier(Projection(ev.pca.mean, ev.pca.basis), ev.pca.components, classes)
        found = train_classifier(net, splits, settings, ev.device, ev.seed)
        metrics |= {f"finetune/pca_{key}": value for key, value in found.items()}
    return metrics
