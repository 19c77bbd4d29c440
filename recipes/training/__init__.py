"""Training: the one engine behind the training commands, data-parallel strategies, test-time augmentation.

``from recipes.training import TrainConfig, run_training`` keeps working as it did in version 0.1.
"""
from recipes.training.engine import TrainConfig, UsageError, WorkerFailure, run_training, validate_config  # noqa: F401
