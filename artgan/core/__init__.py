"""artgan's core: the interfaces every component implements, devices, trainer, checkpoints.

The core never imports a plugin. Names are loaded lazily so that ``artgan --help`` and
``artgan list`` (which only need :mod:`artgan.core.registry` and
:mod:`artgan.core.options`) do not import torch.
"""

from importlib import import_module

_EXPORTS = {
    "Generator": "networks", "Discriminator": "networks", "ComponentShapeError": "networks",
    "Loss": "loss", "Phase": "loss", "PhaseInputs": "loss", "OptimizerSettings": "loss",
    "DataSource": "data", "InMemoryDataSource": "data", "DataSourceError": "data",
    "SkipReport": "data", "Batch": "data",
    "Metric": "metric",
    "resolve_device": "device", "resolve_precision": "device", "Precision": "device",
    "DeviceError": "device", "seed_everything": "device",
    "option": "options", "NoOptions": "options", "OptionError": "options",
    "ArtganError": "errors", "ConfigError": "errors", "PluginError": "errors",
    "MetricError": "errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
