"""Architectures: each builds an encoder and a decoder from the data's shape."""

from aelab.nets.base import Net
from aelab.nets.conv import Conv
from aelab.nets.conv1d import TemporalConv
from aelab.nets.lenet import LeNet
from aelab.nets.mlp import MLP
from aelab.nets.recurrent import GRU, LSTM, Recurrent, SeriesNet

__all__ = ["Conv", "GRU", "LSTM", "LeNet", "MLP", "Net", "Recurrent", "SeriesNet", "TemporalConv"]
