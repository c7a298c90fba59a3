"""Numerical kernels on numpy arrays: elementwise statistics, SVD routes and spectra, NMF,
power-law fits, low-rank updates. Pure numerics: nothing here knows checkpoints or reports."""
