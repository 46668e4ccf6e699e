"""jichitai: an open platform for Japanese local governments' online procedures and core systems."""

__version__ = "0.1.0"
