"""newretail: recreate and stress-test the AI figures of Alibaba's 2017 Singles' Day on synthetic data."""

__version__ = "0.1.0"
