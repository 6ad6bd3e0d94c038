"""newretail: recreate and stress-test the AI figures of Alibaba's 2017 Singles' Day on synthetic data."""

from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("newretail")  # one source: ``version`` in pyproject.toml
except _metadata.PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"
