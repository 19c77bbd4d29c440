"""Analysis: the bias-variance decomposition and K replicas trained as one model."""
