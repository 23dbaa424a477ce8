"""VCVAL benchmark suite: data, protocol, metrics, harness and tracking for video corpus visual answer localization."""

__version__ = "0.1.0"
