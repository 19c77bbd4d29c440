import keras
import numpy as np
import pytest

from recipes.ensembles.bagging import Bagging, bootstrap_counts, combine_predictions

RNG = np.random.default_rng(0)


def test_bootstrap_counts_are_resamples():
    c = bootstrap_counts(1000, 50, seed=0)
    assert c.shape == (50, 1000) and np.all(c.sum(axis=1) == 1000)
    # P(example out of bag) = (1 − 1/N)^N ≈ e⁻¹ = 0.368; SE over 50,000 draws ≈ 0.002 → tolerance 0.01
    assert abs((c == 0).mean() - (1 - 1 / 1000) ** 1000) < 0.01
    assert not np.array_equal(c[0], c[1])


def test_combine_rules():
    logits = np.log(np.array([[[0.7, 0.2, 0.1]], [[0.1, 0.6, 0.3]], [[0.2, 0.5, 0.3]]]))
    probs = np.exp(logits)
    np.testing.assert_allclose(combine_predictions(logits, "mean"), probs.mean(0))
    g = np.exp(logits.mean(0))
    np.testing.assert_allclose(combine_predictions(logits, "geometric"), g / g.sum(-1, keepdims=True))
    votes = combine_predictions(probs, "vote", output="probabilities")
    assert np.argmax(votes) == 1 and votes[0, 1] == pytest.approx(2 / 3, abs=0.05)
    tie = combine_predictions(probs[:2], "vote", output="probabilities")  # 1 vote each: mean prob decides
    assert np.argmax(tie) == 0
    np.testing.assert_allclose(combine_predictions(np.array([[[1.0]], [[4.0]]]), "geometric", "regression"), [[2.0]])
    with pytest.raises(ValueError, match="combine must be one of mean, geometric, got 'vote'"):
        Bagging(lambda k: None, combine="vote", output="regression")
    with pytest.raises(ValueError, match="combine must be one of mean, geometric, got 'vote'"):
        combine_predictions(np.ones((2, 1, 1)), "vote", "regression")
    with pytest.raises(ValueError, match=r"member_outputs must be in \(0, inf\) .*, got -1.0"):
        combine_predictions(np.array([[[1.0]], [[-1.0]]]), "geometric", "regression")
    with pytest.raises(ValueError, match="train_mode must be one of stacked, sequential, got 'parallel'"):
        Bagging(lambda k: None, train_mode="parallel")
    with pytest.raises(TypeError, match=r"seed must be an integer in \[0, 2147483647\], got None"):
        Bagging(lambda k: None, seed=None)


def _linear_zero_init(k):
    m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, kernel_initializer="zeros")])
    m.compile(keras.optimizers.SGD(0.1), "mse")
    return m


def test_stacked_training_weights_each_member_by_its_bootstrap_counts():
    """One full-batch SGD step of the stacked model equals, member by member, the step on the
    bootstrap-weighted risk (1/N) Σ_i c_ki (wᵀx_i + b − y_i)² (exact up to float32 rounding)."""
    x = RNG.normal(size=(40, 2)).astype("float32")
    y = (x @ np.array([1.5, -2.0]) + 0.3).astype("float32")
    bag = Bagging(_linear_zero_init, num_members=3, output="regression", seed=1).fit(x, y, epochs=1, batch_size=40)
    for member, c in zip(bag.members, bag.counts):
        resid = 0.0 - y  # the zero-initialized model predicts 0
        grad_w = 2.0 / 40 * (c * resid) @ x
        grad_b = 2.0 / 40 * np.sum(c * resid)
        np.testing.assert_allclose(np.asarray(member.layers[0].kernel).ravel(), -0.1 * grad_w, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(np.asarray(member.layers[0].bias), [-0.1 * grad_b], rtol=1e-4, atol=1e-6)
    assert len({tuple(np.round(np.asarray(m.layers[0].kernel).ravel(), 4)) for m in bag.members}) == 3


def test_bagging_reduces_prediction_variance():
    """Variance across 20 bootstrap members vs across 4 bagged ensembles of 5 of them, same problem."""
    x = RNG.uniform(-2, 2, size=(300, 1)).astype("float32")
    y = (np.sin(2 * x[:, 0]) + RNG.normal(scale=0.5, size=300)).astype("float32")

    def mlp(k):
        m = keras.Sequential([keras.Input((1,)), keras.layers.Dense(32, activation="tanh"), keras.layers.Dense(1)])
        m.compile(keras.optimizers.Adam(0.02), "mse")
        return m

    bag = Bagging(mlp, num_members=20, output="regression", seed=2).fit(x, y, epochs=6, batch_size=10)  # 180 steps
    grid = np.linspace(-2, 2, 50, dtype="float32")[:, None]
    preds = bag.member_predictions(grid)[..., 0]  # (20, 50)
    member_var = preds.var(axis=0, ddof=1).mean()
    ensemble_var = preds.reshape(4, 5, 50).mean(axis=1).var(axis=0, ddof=1).mean()
    assert member_var > 1e-3  # members really differ
    # independent members would give 1/5; correlated bootstrap members give ρ + (1 − ρ)/5 < 1
    print(f"member variance {member_var:.4f}, ensemble-of-5 variance {ensemble_var:.4f}")
    assert ensemble_var < 0.6 * member_var, (ensemble_var, member_var)
    res = bag.evaluate(grid, np.sin(2 * grid))
    assert res["ensemble_mse"] < np.mean(res["member_mse"])


def test_sequential_mode_and_classification_report():
    x = RNG.normal(size=(480, 2)).astype("float32")
    y = (x[:, 0] * x[:, 1] > 0).astype("int64")

    def clf(k):
        m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(2)])
        m.compile(keras.optimizers.Adam(0.03), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        return m

    bag = Bagging(clf, num_members=3, combine="vote", train_mode="sequential", seed=3).fit(x, y, epochs=3, batch_size=16)
    res = bag.evaluate(x, y)
    assert len(res["member_accuracy"]) == 3 and 0.0 <= res["ensemble_accuracy"] <= 1.0
    assert res["ensemble_accuracy"] > 0.7
