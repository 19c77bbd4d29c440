"""Training: the one engine behind the training commands, its configuration, the run folder, data-parallel
strategies and test-time augmentation.

``from recipes.training import TrainConfig, run_training`` keeps working as it did in version 0.1 (the names are
loaded on first use, so importing the command-line module stays light).
"""
_ENGINE_NAMES = ("TrainConfig", "UsageError", "WorkerFailure", "run_training", "validate_config", "config_for")


def __getattr__(name):
    if name in _ENGINE_NAMES:
        from recipes.training import engine

        return getattr(engine, name)
    raise AttributeError(f"module 'recipes.training' has no attribute {name!r}")
