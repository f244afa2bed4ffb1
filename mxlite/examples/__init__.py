"""Runnable examples: ``python -m mxlite.examples.train``."""
