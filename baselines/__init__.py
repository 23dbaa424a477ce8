"""Baselines for VCVAL: lexical and dense retrievers, span-only localizers, and two-stage systems that
combine them (see ``baselines.catalog.SYSTEMS`` for the named systems and docs/baselines.md)."""
