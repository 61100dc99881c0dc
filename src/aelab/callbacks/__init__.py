"""Callbacks: picture grids and the run record."""

from aelab.callbacks.generative import InterpolationGrid, LatentTraversal, SampleGrid
from aelab.callbacks.images import ImageGridCallback, ReconstructionGrid
from aelab.callbacks.progress import ProgressBar
from aelab.callbacks.record import CHECKPOINT_KEY, RunRecordCallback
from aelab.callbacks.series import SeriesAnomalyScores, SeriesReconstructionPlot

__all__ = [
    "CHECKPOINT_KEY",
    "ImageGridCallback",
    "InterpolationGrid",
    "LatentTraversal",
    "ProgressBar",
    "ReconstructionGrid",
    "RunRecordCallback",
    "SampleGrid",
    "SeriesAnomalyScores",
    "SeriesReconstructionPlot",
]
