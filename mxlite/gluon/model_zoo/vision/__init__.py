"""``gluon.model_zoo.vision``: MXNet's image-classification architectures, by constructor
(``resnet18_v1(classes=10)``) or by name (``get_model('resnet18_v1')``).

Models are built untrained: there are no downloads here, so ``pretrained=True`` raises.
"""
from .alexnet import *  # noqa: F401,F403
from .densenet import *  # noqa: F401,F403
from .inception import *  # noqa: F401,F403
from .mobilenet import *  # noqa: F401,F403
from .resnet import *  # noqa: F401,F403
from .squeezenet import *  # noqa: F401,F403
from .vgg import *  # noqa: F401,F403

def _constructors():
    """MXNet's model names -> constructors (the names with '.' are MXNet's spellings)."""
    found = globals()
    names = ([f"resnet{n}_v{v}" for v in (1, 2) for n in (18, 34, 50, 101, 152)]
             + [f"vgg{n}{bn}" for n in (11, 13, 16, 19) for bn in ("", "_bn")]
             + ["alexnet", "inception_v3"] + [f"densenet{n}" for n in (121, 161, 169, 201)])
    models = {name: found[name] for name in names}
    models.update({"squeezenet1.0": found["squeezenet1_0"], "squeezenet1.1": found["squeezenet1_1"],
                   "inceptionv3": found["inception_v3"]})
    for width in ("1.0", "0.75", "0.5", "0.25"):
        suffix = width.replace(".", "_")
        models[f"mobilenet{width}"] = found[f"mobilenet{suffix}"]
        models[f"mobilenetv2_{width}"] = found[f"mobilenet_v2_{suffix}"]
    return models


_MODELS = _constructors()


def get_model(name, pretrained=False, **kwargs):
    """The model called ``name`` (MXNet's names: 'resnet50_v1', 'vgg16_bn', 'mobilenetv2_1.0',
    'squeezenet1.1', ...; the constructor spellings such as 'mobilenet_v2_1_0' work too),
    built with ``kwargs`` such as ``classes``
    (and MXNet's download keywords ``device``, ``root``: ``model_store.check_untrained``)."""
    key = name.lower()
    if key not in _MODELS:
        by_function = {fn.__name__: fn for fn in _MODELS.values()}
        if key not in by_function:
            raise ValueError(f"Model {name!r} is not supported. Available options are\n\t"
                             + "\n\t".join(sorted(_MODELS)))
        build = by_function[key]
    else:
        build = _MODELS[key]
    return build(pretrained=pretrained, **kwargs)
