"""Cycles: the catalogue of resumable cycles, the engine that keeps their stages, the Papermill pipeline runs and
their reports."""
