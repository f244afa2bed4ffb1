"""Where MXNet's model zoo fetches pretrained weights; mxlite downloads nothing."""

__all__ = ["check_untrained"]


def check_untrained(name, pretrained=False, device=None, ctx=None, root=None):
    """Accept a model-zoo constructor's download keywords as MXNet does. ``device`` (``ctx``
    is its deprecated name) and ``root`` only say where MXNet would load pretrained weights;
    untrained models ignore them, as MXNet's do (parameters are placed by ``initialize``).
    ``pretrained=True`` raises: there is nothing to load."""
    if pretrained:
        raise ValueError(f"pretrained=True: mxlite does not download MXNet's pretrained "
                         f"weights. Build {name} with pretrained=False and load a parameter "
                         f"file you have with net.load_parameters(path).")
