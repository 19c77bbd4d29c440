"""Data: where datasets live, CIFAR-10 loading, the training/validation/test split and channel statistics."""
