"""Unicorn glue: the thin C binding, the per-arch data and the engine core."""
