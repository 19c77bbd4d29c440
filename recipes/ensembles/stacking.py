"""Stacking (stacked generalization, Wolpert 1992) of Keras models.

Lecture, "ensemble methods": "Stacking: train K models using all data, then train a combiner /
aggregator classifier to combine the K results, as well as possible."

To keep the combiner from learning on predictions the base models made for their own training
examples, it is trained on *out-of-fold* predictions: the N examples are split into F folds
(stratified by class); for every fold f and base learner j, a fresh model is trained on the other
folds and predicts fold f. The meta-features of example i are
``z_i = [log P̂_1(·|x_i), …, log P̂_J(·|x_i)]`` (log-probabilities, so a linear combiner is a
weighted geometric mean of the base models). The base learners are then refit on all N examples
and the meta-model ``g`` predicts ``g(z(x))`` at test time.
"""
import keras
import numpy as np

from augment.checks import check_choice, check_int, check_seed
from recipes.ensembles.combining import CLASSIFICATION_OUTPUTS, accuracy, predict_numpy, to_probabilities


def stratified_folds(y, num_folds=5, seed=0):
    """Fold index in ``{0..F−1}`` for every example, balanced within each class."""
    y = np.asarray(y).reshape(-1)
    num_folds = check_int("num_folds", num_folds, 2)
    rng = np.random.default_rng(seed)
    folds = np.empty(len(y), dtype=np.int64)
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        folds[idx] = (np.arange(len(idx)) + rng.integers(num_folds)) % num_folds
    return folds


def out_of_fold_predictions(build_fn, x, y, folds, fit_kwargs=None):
    """Predictions ``(N, D)`` where row i comes from a model trained without fold ``folds[i]``."""
    fit_kwargs = dict(fit_kwargs or {})
    x, y = np.asarray(x), np.asarray(y)
    oof = None
    for f in np.unique(folds):
        train, held = folds != f, folds == f
        model = build_fn()
        model.fit(x[train], y[train], **fit_kwargs)
        pred = predict_numpy(model, x[held])
        if oof is None:
            oof = np.zeros((len(x),) + pred.shape[1:])
        oof[held] = pred
    return oof


def default_meta_model(num_features, num_classes, learning_rate=0.01):
    """Multinomial logistic regression ``softmax(Vz + c)`` on the meta-features, compiled (Adam)."""
    model = keras.Sequential([keras.Input((num_features,)), keras.layers.Dense(num_classes)])
    model.compile(keras.optimizers.Adam(learning_rate),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    return model


class Stacking:
    """Base Keras classifiers combined by a meta-model trained on out-of-fold predictions.

    Args:
        build_fns: list of ``build_fn() -> compiled keras.Model`` (one per base learner j).
        num_classes: number of classes.
        meta_build_fn: ``meta_build_fn(num_features, num_classes) -> compiled model`` returning
            logits (default :func:`default_meta_model`).
        num_folds: F ≥ 2 (default 5).
        output: what base models return, ``"logits"`` (default) or ``"probabilities"``.
        seed: seeds the folds and Keras's initializers.
    """

    def __init__(self, build_fns, num_classes, meta_build_fn=None, num_folds=5, output="logits", seed=0):
        if not build_fns or not all(callable(b) for b in build_fns):
            raise TypeError(f"build_fns must be a non-empty list of callables returning compiled models, "
                            f"got {build_fns!r}")
        self.build_fns = list(build_fns)
        self.num_classes = check_int("num_classes", num_classes, 2)
        self.meta_build_fn = meta_build_fn or default_meta_model
        self.num_folds = check_int("num_folds", num_folds, 2)
        # Stacking here combines classifiers: the meta-model reads class probabilities.
        self.output = check_choice("output", output, CLASSIFICATION_OUTPUTS)
        self.seed = check_seed("seed", seed, optional=False)
        self.base_models, self.meta_model = [], None

    def meta_features(self, outputs):
        """``z = [log P̂_1, …, log P̂_J]`` from base outputs (list of ``(N, D)``)."""
        return np.concatenate([np.log(np.clip(to_probabilities(o, self.output), 1e-7, 1.0)) for o in outputs],
                              axis=-1).astype("float32")

    def fit(self, x, y, fit_kwargs=None, meta_fit_kwargs=None):
        """Out-of-fold predictions → meta-model; then refit the base learners on all data."""
        keras.utils.set_random_seed(self.seed)
        fit_kwargs = {"verbose": 0, **(fit_kwargs or {})}
        meta_fit_kwargs = {"epochs": 50, "batch_size": 256, "verbose": 0, **(meta_fit_kwargs or {})}
        y = np.asarray(y).reshape(-1)
        folds = stratified_folds(y, self.num_folds, self.seed)
        oof = [out_of_fold_predictions(b, x, y, folds, fit_kwargs) for b in self.build_fns]
        self.oof_features = self.meta_features(oof)
        self.meta_model = self.meta_build_fn(self.oof_features.shape[1], self.num_classes)
        self.meta_model.fit(self.oof_features, y, **meta_fit_kwargs)
        self.base_models = []
        for b in self.build_fns:
            model = b()
            model.fit(x, y, **fit_kwargs)
            self.base_models.append(model)
        return self

    def predict(self, x):
        """Stacked class scores ``g(z(x))``: ``(N, K)`` logits of the meta-model."""
        z = self.meta_features([predict_numpy(m, x) for m in self.base_models])
        return predict_numpy(self.meta_model, z)

    def evaluate(self, x, y):
        """Each base model's accuracy and the stacked ensemble's."""
        outs = [predict_numpy(m, x) for m in self.base_models]
        return {"member_accuracy": [accuracy(o, y) for o in outs],
                "ensemble_accuracy": accuracy(predict_numpy(self.meta_model, self.meta_features(outs)), y)}
