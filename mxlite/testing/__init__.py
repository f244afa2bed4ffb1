"""Test tooling for mxlite's CUDA kernels on machines without a GPU.

``cudasim`` runs CUDA C on the CPU; ``nvrtc_check`` compiles every kernel with NVRTC and
fails on compile errors and register spills.
"""
