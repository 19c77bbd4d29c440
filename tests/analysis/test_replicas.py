"""Tests of recipes.analysis.replicas: K batched replicas == K separately trained Keras models."""
import numpy as np
import pytest

import keras

from recipes.analysis.bias_variance import analytic_ols_bias_variance, squared_error_decomposition
from recipes.analysis.replicas import (
    ReplicaDense,
    ReplicaLoss,
    build_replica_mlp,
    build_single_mlp,
    stack_replicas,
    unstack_replicas,
)


def _data(k, n, d, seed=0):
    rng = np.random.default_rng(seed)
    xs = [rng.normal(size=(n, d)).astype("float32") for _ in range(k)]
    ys = [np.sin(x.sum(1, keepdims=True)).astype("float32") for x in xs]
    return xs, ys


def test_replicas_equal_separately_trained_models():
    k, n, d, epochs = 3, 16, 2, 25
    seeds = [11, 12, 13]
    xs, ys = _data(k, n, d)
    model = build_replica_mlp(d, (8, 4), 1, seeds, bias_initializer="random_normal")
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss=ReplicaLoss("mean_squared_error"))
    init = [w.copy() for w in model.get_weights()]
    # full batch, no shuffling: each replica sees exactly its own data in the same order
    # full-batch GD for `epochs` steps in one fit call (data tiled: Keras' per-epoch overhead once)
    model.fit(np.tile(stack_replicas(xs), (epochs, 1, 1)), np.tile(stack_replicas(ys), (epochs, 1, 1)),
              batch_size=n, epochs=1, shuffle=False, verbose=0)
    x_grid = np.linspace(-2, 2, 50, dtype="float32")[:, None].repeat(d, 1)
    preds = unstack_replicas(model.predict(stack_replicas([x_grid] * k), verbose=0))
    trained = model.get_weights()
    for r in range(k):
        single = build_single_mlp(d, (8, 4), 1, seeds[r], bias_initializer="random_normal")
        for w_single, w_rep in zip(single.get_weights(), init):
            np.testing.assert_array_equal(w_single, w_rep[r])           # identical init
        single.compile(optimizer=keras.optimizers.SGD(0.05), loss="mean_squared_error")
        single.fit(np.tile(xs[r], (epochs, 1)), np.tile(ys[r], (epochs, 1)), batch_size=n,
                   epochs=1, shuffle=False, verbose=0)
        # float32 round-off of einsum vs matmul over 25 steps: 1e-5 absolute (outputs are O(1))
        np.testing.assert_allclose(single.predict(x_grid, verbose=0), preds[r], atol=1e-5)
        for w_single, w_rep in zip(single.get_weights(), trained):
            np.testing.assert_allclose(w_single, w_rep[r], atol=1e-5)
    # replicas moved apart from their init and from each other (the test can fail)
    assert np.abs(preds[0] - preds[1]).max() > 1e-2


def test_replica_loss_gradients_do_not_mix():
    # ∂L/∂θ_k of the summed loss equals the gradient of replica k's own mean loss: perturbing
    # replica 1's targets must leave replica 0's update unchanged.
    xs, ys = _data(2, 8, 3, seed=1)
    outs = []
    for shift in (0.0, 5.0):
        model = build_replica_mlp(3, (5,), 1, [1, 2])
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss=ReplicaLoss())
        y = stack_replicas([ys[0], ys[1] + shift])
        model.fit(stack_replicas(xs), y, batch_size=8, epochs=3, shuffle=False, verbose=0)
        outs.append(model.get_weights())
    np.testing.assert_allclose(outs[0][0][0], outs[1][0][0], atol=1e-6)
    assert np.abs(outs[0][0][1] - outs[1][0][1]).max() > 1e-3


def test_replicas_recover_analytic_ols_variance():
    # 1000 linear models (no hidden layer) by 60 steps of full-batch GD (lr 0.3; the GD error
    # contracts by ≥ 15 % per step, so 60 steps reach OLS to ~1e-4), each on its own
    # training set of n = 40 points: GD converges to OLS, so the decomposition must match the
    # closed form Var = (σ² + c²)·d/(n−d−1), Bias² = c² (see analytic_ols_bias_variance).
    k, n, d, sigma, c = 1000, 40, 4, 0.5, 0.7
    rng = np.random.default_rng(2)
    w = rng.normal(size=d)
    x = rng.normal(size=(n, k, d)).astype("float32")
    y = (x @ w + c + sigma * rng.normal(size=(n, k)))[..., None].astype("float32")
    # no intercept: the model is misspecified by c, which is the bias
    model = build_replica_mlp(d, (), 1, list(range(k)), use_bias=False)
    model.compile(optimizer=keras.optimizers.SGD(0.3), loss=ReplicaLoss())
    model.fit(np.tile(x, (60, 1, 1)), np.tile(y, (60, 1, 1)), batch_size=n, epochs=1,
              shuffle=False, verbose=0)
    x_test = rng.normal(size=(1000, d)).astype("float32")
    shared = build_replica_mlp(d, (), 1, list(range(k)), use_bias=False, shared_input=True)
    shared.set_weights(model.get_weights())
    preds = unstack_replicas(shared.predict(x_test, verbose=0))           # (K, n_test, 1)
    f_test = (x_test @ w + c)[:, None]
    y_test = f_test + sigma * rng.normal(size=(1000, 1))
    res = squared_error_decomposition(preds, y_test, f_true=f_test)
    ref = analytic_ols_bias_variance(d, n, sigma, c)
    # 1000 trials: relative SE of the variance ≈ 2.5 % (plus test-sample noise) → 12 %
    assert res.variance == pytest.approx(ref["variance"], rel=0.12)
    assert res.details["bias2_direct"] == pytest.approx(ref["bias2"], abs=0.05)


def test_replica_dense_save_load_and_validation(tmp_path):
    model = build_replica_mlp(2, (6,), 3, [5, 6, 7], activation="tanh")
    x = np.random.default_rng(0).normal(size=(4, 3, 2)).astype("float32")
    path = tmp_path / "replicas.keras"
    model.compile(optimizer="sgd", loss=ReplicaLoss("mean_squared_error"))
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert isinstance(loaded.loss, ReplicaLoss)
    with pytest.raises(ValueError, match=r"units must be an integer in \[1, inf\), got 0"):
        ReplicaDense(0, 3)
    with pytest.raises(ValueError, match=r"replicas must be an integer in \[1, inf\), got 0"):
        ReplicaDense(4, 0)
    with pytest.raises(ValueError, match="kernel_seeds must have length replicas=3, got 2"):
        ReplicaDense(4, 3, kernel_seeds=[1, 2])
    with pytest.raises(TypeError, match=r"bias_seeds\[0\] must be an integer"):
        ReplicaDense(4, 1, bias_seeds=[0.5])
    with pytest.raises(ValueError, match="arrays must all have the same number of examples"):
        stack_replicas([np.zeros((3, 1)), np.zeros((4, 1))])
    with pytest.raises(ValueError, match=r"hidden_units\[1\] must be an integer in \[1, inf\), got 0"):
        build_replica_mlp(3, (4, 0), 1, seeds=[0, 1])
    with pytest.raises(ValueError, match="seeds must be a sequence of integers .* with at least 1 entry, got \\[\\]"):
        build_replica_mlp(3, (4,), 1, seeds=[])
    with pytest.raises(TypeError, match=r"seed must be an integer in \(-inf, inf\), got None"):
        build_single_mlp(3, (4,), 1, seed=None)
