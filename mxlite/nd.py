"""``mx.nd``, MXNet's legacy NDArray API, is not part of mxlite: importing it says what to use."""
raise ImportError(
    "mxlite has no mx.nd (MXNet's legacy NDArray API): use mx.np for arrays and numpy-style "
    "ops and mx.npx for neural-network ops (e.g. mx.nd.array -> mx.np.array, "
    "mx.nd.softmax -> mx.npx.softmax), as MXNet 2.x recommends")
