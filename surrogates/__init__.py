"""surrogates: PyTorch surrogates of FE sweeps. Per output a Gaussian process, a deep ensemble of
MLPs or their blend (chosen by cross-validation); POD for sensors and fields.

Pure torch/numpy/xarray/scipy; never imports dolfinx, ``physics`` or ``twinkit``, so a saved
surrogate loads and predicts on a machine without the FE stack.
"""

from twinkit.surrogates.data import TrainingData, from_dataset, split
from twinkit.surrogates.fit import FitConfig, fit_surrogate
from twinkit.surrogates.model import Prediction, Surrogate, SurrogateRangeWarning, load_surrogate
from twinkit.surrogates.training import TrainConfig

__all__ = [
    "FitConfig",
    "Prediction",
    "Surrogate",
    "SurrogateRangeWarning",
    "TrainConfig",
    "TrainingData",
    "fit_surrogate",
    "from_dataset",
    "load_surrogate",
    "split",
]
