"""recipes.regularizers.proximal_sgd: a Keras linear model trained with the L1 proximal step reaches the lecture's
soft-threshold solution, exact zeros included; plain subgradient L1 does not produce exact zeros."""
import numpy as np
import pytest

import keras

from recipes.regularizers import closed_forms
from recipes.regularizers.proximal_sgd import ProximalSGD


def _orthogonal_design(n=32, p=6, seed=0):
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(n, p)))
    x = q * np.sqrt(n)  # XᵀX = N·I  ⇒  Hessian of (1/N)‖Xw − y‖² is H = 2I (diagonal)
    w_true = np.array([1.5, -0.8, 0.05, -0.02, 0.6, 0.0])
    y = x @ w_true + 0.05 * rng.normal(size=n)
    return x.astype("float32"), y.astype("float32")


def _fit_linear(x, y, optimizer, steps, regularizer=None):
    n, p = x.shape
    model = keras.Sequential(
        [keras.Input((p,)), keras.layers.Dense(1, kernel_initializer="ones", kernel_regularizer=regularizer,
                                               bias_initializer="zeros")]
    )
    model.compile(optimizer=optimizer, loss="mse")
    model.fit(np.tile(x, (steps, 1)), np.tile(y, steps), batch_size=n, epochs=1, shuffle=False, verbose=0)
    return model


def test_proximal_sgd_with_unpenalized_bias_matches_float64_ista():
    x, y = _orthogonal_design()
    n = x.shape[0]
    lam = 0.1
    model = _fit_linear(x, y, ProximalSGD(learning_rate=0.25, l1=lam), steps=200)
    w = keras.ops.convert_to_numpy(model.layers[0].kernel)[:, 0].astype(np.float64)
    b = float(keras.ops.convert_to_numpy(model.layers[0].bias)[0])
    # Reference: minimize (1/N)‖Xw + b − y‖² + λ‖w‖₁ with b unpenalized. Profiling out b centres
    # the data; a long float64 ISTA run in NumPy on the centred problem is the reference.
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    xc, yc = x64 - x64.mean(0), y64 - y64.mean()
    w_ref = np.zeros(6)
    for _ in range(5000):
        g = 2.0 / n * xc.T @ (xc @ w_ref - yc)
        w_ref = closed_forms.soft_threshold(w_ref - 0.25 * g, 0.25 * lam)
    zeros = w_ref == 0.0
    assert zeros.sum() >= 2, w_ref  # the problem is built so that small true weights are cut to 0
    # float32 training: nonzero coordinates to 1e-5; the zero set must match EXACTLY.
    np.testing.assert_array_equal(w == 0.0, zeros)
    np.testing.assert_allclose(w, w_ref, atol=1e-5)
    np.testing.assert_allclose(b, y64.mean() - x64.mean(0) @ w_ref, atol=1e-5)
    assert b != 0.0  # the bias is excluded from the proximal step


def test_proximal_sgd_matches_lecture_closed_form_on_diagonal_hessian():
    # no bias, XᵀX = N·I exactly ⇒ H = 2I: w = sign(w*) max(|w*| − λ/2, 0) (lecture's L1 slide)
    x, y = _orthogonal_design(seed=3)
    n, p = x.shape
    lam = 0.1
    model = keras.Sequential([keras.Input((p,)), keras.layers.Dense(1, use_bias=False, kernel_initializer="ones")])
    model.compile(optimizer=ProximalSGD(0.25, l1=lam), loss="mse")
    model.fit(np.tile(x, (100, 1)), np.tile(y, 100), batch_size=n, epochs=1, shuffle=False, verbose=0)
    w = keras.ops.convert_to_numpy(model.layers[0].kernel)[:, 0]
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    H = 2.0 / n * x64.T @ x64
    w_star = np.linalg.solve(x64.T @ x64, x64.T @ y64)
    w_closed = closed_forms.l1_regularized_optimum(w_star, np.diag(H), lam)
    assert (w_closed == 0).sum() >= 2
    np.testing.assert_array_equal(w == 0.0, w_closed == 0.0)
    # float32 design (H off-diagonal ~1e-7) and float32 steps: 1e-5 absolute
    np.testing.assert_allclose(w, w_closed, atol=1e-5)

    # The subgradient scheme w ← w − ε(λ sign(w) + ∇J) with the L1 penalty in the loss hovers
    # around 0 (|w| ≲ ελ) instead of reaching it.
    sub = keras.Sequential([keras.Input((p,)), keras.layers.Dense(1, use_bias=False, kernel_initializer="ones",
                                                                   kernel_regularizer=keras.regularizers.L1(lam))])
    sub.compile(optimizer=keras.optimizers.SGD(0.25), loss="mse")
    sub.fit(np.tile(x, (100, 1)), np.tile(y, 100), batch_size=n, epochs=1, shuffle=False, verbose=0)
    ws = keras.ops.convert_to_numpy(sub.layers[0].kernel)[:, 0]
    assert np.count_nonzero(ws[w_closed == 0]) > 0
    assert np.all(np.abs(ws[w_closed == 0]) <= 0.25 * lam + 1e-6)


def test_round_trip_and_arguments(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer=ProximalSGD(0.1, l1=0.01, exclude_names=("bias",)), loss="mse")
    model.train_on_batch(np.ones((4, 3), "float32"), np.zeros((4, 2), "float32"))
    model.save(tmp_path / "p.keras")
    loaded = keras.models.load_model(tmp_path / "p.keras")
    assert isinstance(loaded.optimizer, ProximalSGD)
    assert loaded.optimizer.l1 == 0.01 and loaded.optimizer.exclude_names == ("bias",)
    x = np.random.default_rng(0).normal(size=(3, 3)).astype("float32")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(model(x)), keras.ops.convert_to_numpy(loaded(x)))
    with pytest.raises(ValueError, match=r"l1 must be a finite number in \[0, inf\), got -1.0"):
        ProximalSGD(0.1, l1=-1.0)
    with pytest.raises(ValueError, match=r"momentum must be a finite number in \[0, 1\), got 1.0"):
        ProximalSGD(0.1, momentum=1.0)
    with pytest.raises(TypeError, match=r"learning_rate must be a number in \(0, inf\) or a schedule"):
        ProximalSGD("fast")
    with pytest.raises(ValueError, match="exclude_names"):
        ProximalSGD(0.1, l1=0.1, exclude_names=("(",))
