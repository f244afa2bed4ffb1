"""The deformable convolutions under ``gluon.contrib.nn`` (the classes of ``gluon.nn``)."""
from ...nn.deformable_layers import DeformableConvolution, ModulatedDeformableConvolution

__all__ = ["DeformableConvolution", "ModulatedDeformableConvolution"]
