"""Regularization by parameter penalties and its relatives: L2/L1/elastic net, closed forms, proximal L1, noise robustness, parameter tying and sharing, multitask learning."""
