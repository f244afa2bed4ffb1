"""Deformable convolution layers."""
__all__ = []
