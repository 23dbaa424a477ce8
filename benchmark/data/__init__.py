"""Data layer: readers, the Hugging Face builder, corpora, features, the synthetic generator."""

from benchmark.data.corpus import CorpusSetting
from benchmark.data.loader import Benchmark, load_benchmark
from benchmark.data.sources import SPLITS, canonical_split

__all__ = ["SPLITS", "Benchmark", "CorpusSetting", "canonical_split", "load_benchmark"]
