"""Qianbao: an open-source wallet, payment and consumer-credit platform."""

__version__ = "0.1.0"
