"""Invertible transformations with log-det-Jacobians, and maps from constraints to them."""
from .transformation import *  # noqa: F401,F403
from .transformation import __all__ as _transformation_all
from .domain_map import domain_map, biject_to, transform_to  # noqa: F401

__all__ = _transformation_all + ['domain_map', 'biject_to', 'transform_to']
