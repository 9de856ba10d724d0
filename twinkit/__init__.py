"""twinkit: physics-based product twins. Case files, CLI, sampling, calibration, optimization."""

__version__ = "0.1.0"
__all__ = ["__version__"]
