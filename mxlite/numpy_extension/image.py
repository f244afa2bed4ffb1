"""``mx.npx.image``: MXNet 2.x's image operators (``_npx__image_*``) on (H, W, C) images and
(N, H, W, C) batches: ``to_tensor``, ``normalize``, the flips, brightness / contrast /
saturation / hue jitter, ``random_color_jitter``, ``adjust_lighting`` / ``random_lighting``,
``resize``, ``crop``, ``random_crop`` and ``random_resized_crop``. See ``mxlite.ops.image``
for the semantics, gradients and where they differ from MXNet's."""
from ..ops.image import *  # noqa: F401,F403
from ..ops.image import __all__  # noqa: F401
