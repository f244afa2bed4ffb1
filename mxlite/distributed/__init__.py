"""Running data-parallel jobs: ``python -m mxlite.distributed.launch -n N -- cmd``."""
