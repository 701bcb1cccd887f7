"""Every compiled (numba) loop of the package; imported on first use, so ``import wavedil``
does not import numba.

- ``stream``: the passes between a stream's matrix products (store, activation, gather).
- ``levels``: depthwise dilated filters and the cascade of à trous levels.
"""
