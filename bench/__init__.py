"""mxlite's benchmark suite against PyTorch and MXNet 1.x (see bench/README.md)."""
