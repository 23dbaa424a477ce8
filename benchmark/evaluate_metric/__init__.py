"""The vcval metrics as a Hugging Face ``evaluate`` module: ``evaluate.load(str(METRIC_PATH))``."""

from pathlib import Path

METRIC_PATH = Path(__file__).resolve().parent

__all__ = ["METRIC_PATH"]
