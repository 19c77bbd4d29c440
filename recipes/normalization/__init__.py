"""Normalization: min-max and z-score scaling, batch-norm statistics, reference formulas, weight normalization, weight standardization."""
