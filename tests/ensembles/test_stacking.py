import keras
import numpy as np
import pytest

from recipes.ensembles.stacking import Stacking, out_of_fold_predictions, stratified_folds

RNG = np.random.default_rng(0)


class Memorizer:
    """Predicts class 1 for rows it was trained on, class 0 otherwise: exposes any leakage."""

    def fit(self, x, y, **kwargs):
        self.seen = {tuple(r) for r in np.asarray(x)}

    def predict(self, x, batch_size=None, verbose=0):
        return np.array([[0.0, 1.0] if tuple(r) in self.seen else [1.0, 0.0] for r in np.asarray(x)])


def test_out_of_fold_predictions_never_see_their_own_rows():
    x = RNG.normal(size=(60, 3))
    y = RNG.integers(0, 2, size=60)
    folds = stratified_folds(y, 4, seed=0)
    oof = out_of_fold_predictions(Memorizer, x, y, folds)
    np.testing.assert_array_equal(oof[:, 1], 0.0)  # no row was predicted by a model that saw it
    m = Memorizer()
    m.fit(x, y)
    assert np.all(m.predict(x)[:, 1] == 1.0)  # (the memorizer does detect seen rows)


def test_stratified_folds_are_balanced():
    y = np.repeat(np.arange(3), [30, 45, 15])
    folds = stratified_folds(y, 5, seed=1)
    for c, n in zip(range(3), (30, 45, 15)):
        assert np.all(np.bincount(folds[y == c], minlength=5) == n // 5)
    with pytest.raises(ValueError, match=r"num_folds must be an integer in \[2, inf\), got 1"):
        stratified_folds(y, 1)
    with pytest.raises(ValueError, match="output must be one of logits, probabilities, got 'regression'"):
        Stacking([lambda: None], num_classes=2, output="regression")
    with pytest.raises(TypeError, match="build_fns must be a non-empty list of callables .*, got \\[\\]"):
        Stacking([], num_classes=2)


class Fixed:
    """A base learner with a fixed rule (ignores training): logits = scale · onehot(rule(x))."""

    def __init__(self, column, scale):
        self.column, self.scale = column, scale

    def fit(self, x, y, **kwargs):
        pass

    def predict(self, x, batch_size=None, verbose=0):
        return self.scale * np.eye(2)[(np.asarray(x)[:, self.column] > 0).astype(int)]


def test_meta_model_learns_to_trust_the_informative_base_model():
    x = RNG.normal(size=(600, 3)).astype("float32")
    y = (x[:, 0] + 0.3 * RNG.normal(size=600) > 0).astype("int64")  # column 0 is informative
    # base 0 reads the noise column 2 with large confident logits; base 1 reads column 0 with small ones
    stack = Stacking([lambda: Fixed(2, 4.0), lambda: Fixed(0, 1.0)], num_classes=2, num_folds=3, seed=0)
    stack.fit(x, y, meta_fit_kwargs={"epochs": 60, "batch_size": 600})
    assert stack.oof_features.shape == (600, 4)
    res = stack.evaluate(x, y)
    good = res["member_accuracy"][1]
    assert res["member_accuracy"][0] < 0.6 < good
    assert res["ensemble_accuracy"] >= good - 0.01  # the meta-model ignores the confident noise


def test_keras_base_learners_end_to_end():
    x = RNG.normal(size=(300, 2)).astype("float32")
    y = (x[:, 0] * x[:, 1] > 0).astype("int64")

    def mlp():
        m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(2)])
        m.compile(keras.optimizers.Adam(0.03), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        return m

    def linear():
        m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
        m.compile(keras.optimizers.Adam(0.03), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        return m

    stack = Stacking([mlp, linear], num_classes=2, num_folds=2, seed=0)
    stack.fit(x, y, fit_kwargs={"epochs": 8, "batch_size": 30}, meta_fit_kwargs={"epochs": 30, "batch_size": 300})
    res = stack.evaluate(x, y)
    assert res["member_accuracy"][0] > 0.8 and res["ensemble_accuracy"] > 0.8
    assert stack.predict(x[:5]).shape == (5, 2)
