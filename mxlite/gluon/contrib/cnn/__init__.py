"""``gluon.contrib.cnn``: MXNet 1.x's home of the deformable convolutions, which GluonCV's
models still import from; the same classes as ``gluon.contrib.nn``'s."""
from ...nn.deformable_layers import DeformableConvolution, ModulatedDeformableConvolution

__all__ = ["DeformableConvolution", "ModulatedDeformableConvolution"]
