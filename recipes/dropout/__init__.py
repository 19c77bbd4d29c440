"""The dropout family: direct and inverted dropout, DropConnect, Gaussian, fast and structural dropout, Monte Carlo dropout, dropout as regularization."""
