"""Shipped protocols, one YAML file each (see benchmark.protocol)."""
