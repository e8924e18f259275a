"""artgan's version: shown by ``artgan --version`` and recorded in every checkpoint."""

__version__ = "0.1.0"
