"""Recurrent sequence-to-sequence encoders and decoders (LSTM, GRU) for series shaped [window, channels]."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from aelab.nets.base import Net
from aelab.utils.errors import require

DECODER_INPUTS = ("latent", "reverse")


class SeriesNet(Net):
    """A net for series shaped [window, channels]; any other shape ends in one sentence."""

    name = "series"

    def __init__(self, input_shape: Sequence[int]) -> None:
        super().__init__(input_shape)
        require(
            len(self.input_shape) == 2,
            f"net={self.name} needs series shaped [window, channels], not {list(input_shape)}; "
            "use net=mlp or net=conv for images.",
        )
        self.window, self.channels = self.input_shape


class TeacherInput:
    """The encoder's latest training batch, kept for a decoder teacher-forced on it (EncDec-AD)."""

    x: torch.Tensor | None = None


def last_hidden(state: torch.Tensor | tuple[torch.Tensor, torch.Tensor], directions: int) -> torch.Tensor:
    """Return the final layer's last hidden state [batch, directions * hidden] of an RNN's state."""
    h = state[0] if isinstance(state, tuple) else state  # [layers * directions, batch, hidden]
    return h[-directions:].transpose(0, 1).flatten(1)


class RecurrentEncoder(nn.Module):
    """Runs an RNN over the window and maps its last hidden state to the code."""

    def __init__(self, rnn: nn.RNNBase, out_dim: int, teacher: TeacherInput | None) -> None:
        super().__init__()
        self.rnn, self.teacher = rnn, teacher
        self.directions = 2 if rnn.bidirectional else 1
        self.out = nn.Linear(rnn.hidden_size * self.directions, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.teacher is not None:
            self.teacher.x = x if self.training else None
        _, state = self.rnn(x)
        return self.out(last_hidden(state, self.directions))


class RecurrentDecoder(nn.Module):
    """Starts an RNN from the code and emits one value per step.

    `latent`: every step is fed the code. `reverse` (EncDec-AD, Malhotra et al. 2016): the window
    is rebuilt backwards, each step fed the previous value: the true one in training (teacher
    forcing), the decoder's own prediction otherwise.
    """

    def __init__(
        self, rnn: nn.RNNBase, in_dim: int, window: int, channels: int, mode: str, teacher: TeacherInput | None
    ) -> None:
        super().__init__()
        self.rnn, self.window, self.channels, self.mode, self.teacher = rnn, window, channels, mode, teacher
        self.init = nn.Linear(in_dim, rnn.num_layers * rnn.hidden_size)
        self.out = nn.Linear(rnn.hidden_size, channels)

    def initial_state(self, z: torch.Tensor):
        """Return the RNN's initial state computed from the code."""
        h = torch.tanh(self.init(z)).view(len(z), self.rnn.num_layers, -1).transpose(0, 1).contiguous()
        return (h, torch.zeros_like(h)) if isinstance(self.rnn, nn.LSTM) else h

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        state = self.initial_state(z)
        if self.mode == "latent":
            steps, _ = self.rnn(z[:, None].expand(-1, self.window, -1), state)
            return self.out(steps)
        teacher = self.teacher.x if self.teacher is not None else None
        if self.training and teacher is not None and teacher.shape[0] == len(z):
            self.teacher.x = None
            backwards = teacher.flip(1)
            inputs = torch.cat([backwards.new_zeros(len(z), 1, self.channels), backwards[:, :-1]], 1)
            steps, _ = self.rnn(inputs, state)
            return self.out(steps).flip(1)
        value, outputs = z.new_zeros(len(z), 1, self.channels), []
        for _ in range(self.window):
            step, state = self.rnn(value, state)
            value = self.out(step)
            outputs.append(value)
        return torch.cat(outputs, 1).flip(1)


class Recurrent(SeriesNet):
    """A recurrent encoder and decoder with `num_layers` layers of `hidden_size` units."""

    name = "lstm"
    rnn_class: type[nn.RNNBase] = nn.LSTM

    def __init__(
        self,
        input_shape: Sequence[int],
        hidden_size: int = 64,
        num_layers: int = 1,
        bidirectional: bool = False,
        decoder_input: str = "latent",
        dropout: float = 0.0,
    ) -> None:
        super().__init__(input_shape)
        require(hidden_size > 0 and num_layers > 0, "net.hidden_size and net.num_layers must be positive.")
        require(decoder_input in DECODER_INPUTS, f"net.decoder_input is latent or reverse, not {decoder_input!r}.")
        require(0 <= dropout < 1, f"net.dropout must be in [0, 1), not {dropout}.")
        self.hidden_size, self.num_layers, self.bidirectional = hidden_size, num_layers, bidirectional
        self.decoder_input, self.dropout = decoder_input, dropout
        # Shared by the encoder and decoder this net builds, so the decoder can see the encoder's input.
        self.teacher = TeacherInput() if decoder_input == "reverse" else None

    def _rnn(self, input_size: int, bidirectional: bool = False) -> nn.RNNBase:
        dropout = self.dropout if self.num_layers > 1 else 0.0  # torch applies it between layers only
        return self.rnn_class(
            input_size,
            self.hidden_size,
            self.num_layers,
            batch_first=True,
            bidirectional=bidirectional,
            dropout=dropout,
        )

    def encoder(self, out_dim: int) -> nn.Module:
        return RecurrentEncoder(self._rnn(self.channels, self.bidirectional), out_dim, self.teacher)

    def decoder(self, in_dim: int) -> nn.Module:
        input_size = in_dim if self.decoder_input == "latent" else self.channels
        return RecurrentDecoder(
            self._rnn(input_size), in_dim, self.window, self.channels, self.decoder_input, self.teacher
        )


class LSTM(Recurrent):
    """Long short-term memory encoder and decoder."""

    name, rnn_class = "lstm", nn.LSTM


class GRU(Recurrent):
    """Gated recurrent unit encoder and decoder."""

    name, rnn_class = "gru", nn.GRU
