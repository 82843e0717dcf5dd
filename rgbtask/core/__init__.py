"""Numba kernels, one module per task family, each beside its plain NumPy reference.

Private: codecs call these on arrays they have already validated and made C-contiguous. The NumPy
reference functions (``*_reference``) are the specification; the tests check kernel == reference.
"""
