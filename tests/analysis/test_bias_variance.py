"""Tests of recipes.analysis.bias_variance: closed forms, exact sample identities, protocols."""
import numpy as np
import pytest

from recipes.analysis.bias_variance import (
    analytic_ols_bias_variance,
    cross_entropy_decomposition,
    decompose,
    draw_training_sets,
    estimate_bias_variance,
    squared_error_decomposition,
    zero_one_decomposition,
)

D, N, SIGMA, C = 4, 40, 0.5, 0.7


def _ols_problem(trials, n_test, seed):
    """Linear regression y = xᵀw + c + ε, x ~ N(0, I_d), fitted by OLS without intercept."""
    rng = np.random.default_rng(seed)
    w = rng.normal(size=D)
    pool_x = rng.normal(size=(trials * N, D))
    pool_y = pool_x @ w + C + SIGMA * rng.normal(size=trials * N)
    x_test = rng.normal(size=(n_test, D))
    f_test = x_test @ w + C
    y_test = f_test + SIGMA * rng.normal(size=n_test)
    return pool_x, pool_y, x_test, f_test, y_test


def test_ols_recovers_analytic_bias_variance_noise():
    trials, n_test = 2000, 2000
    pool_x, pool_y, x_test, f_test, y_test = _ols_problem(trials, n_test, seed=0)
    (group,) = draw_training_sets(len(pool_x), "split", trials=trials, seed=1)
    preds = np.stack([x_test @ np.linalg.lstsq(pool_x[i], pool_y[i], rcond=None)[0]
                      for i in group])
    res = squared_error_decomposition(preds[..., None], y_test[:, None], f_true=f_test[:, None])
    ref = analytic_ols_bias_variance(D, N, SIGMA, C)
    # Tolerances: the variance estimate over 2000 trials has a relative standard error of about
    # 2.5 % (measured over 50 repetitions); 10 % is 4 standard errors. Noise: SE = σ²·sqrt(2/2000)
    # ≈ 3 % → 10 %. Bias² = c² = 0.49: its direct estimate has SE ≈ 0.01 from the test sample.
    assert res.variance == pytest.approx(ref["variance"], rel=0.10)
    assert res.noise == pytest.approx(ref["noise"], rel=0.10)
    assert res.details["bias2_direct"] == pytest.approx(ref["bias2"], abs=0.04)
    # Bias² + Variance + Noise (each estimated on its own) equals the measured risk, within the
    # sampling error of the cross term 2·mean(h̄−ȳ)(ȳ−y), SE ≈ 2·0.7·0.5/sqrt(2000) ≈ 0.016.
    total = res.details["bias2_direct"] + res.variance + res.noise
    assert total == pytest.approx(res.risk, abs=0.05)
    assert res.risk == pytest.approx(ref["risk"], rel=0.08)


def test_exact_identity_and_unbiased_correction():
    rng = np.random.default_rng(3)
    for trials in (2, 5):
        preds = rng.normal(size=(trials, 30, 3))
        y = rng.normal(size=(30, 3))
        res = squared_error_decomposition(preds, y, correction=True)
        plain = squared_error_decomposition(preds, y, correction=False)
        h_bar = preds.mean(0)
        var_plugin = ((preds - h_bar) ** 2).sum(-1).mean()
        # the unbiased sample variance over trials (ddof=1), summed over outputs, mean over points
        assert res.variance == pytest.approx(preds.var(axis=0, ddof=1).sum(-1).mean(), rel=1e-12)
        assert res.variance == pytest.approx(var_plugin * trials / (trials - 1), rel=1e-12)
        assert plain.variance == pytest.approx(var_plugin, rel=1e-12)
        # sample identity: Risk = mean‖h̄ − y‖² + plug-in variance, exactly
        assert res.risk == pytest.approx(((h_bar - y) ** 2).sum(-1).mean() + var_plugin,
                                         rel=1e-12)
        assert res.bias2 + res.variance == pytest.approx(res.risk, rel=1e-12)
    # T = 2 by hand: h = (0, 2) at one point, y = 1: Var_plugin = 1, corrected = 2, risk = 1.
    res = squared_error_decomposition(np.array([[[0.0]], [[2.0]]]), np.array([[1.0]]))
    assert (res.risk, res.variance, res.bias2) == pytest.approx((1.0, 2.0, -1.0))


def test_multi_output_not_flattened_and_one_hot_targets():
    rng = np.random.default_rng(4)
    probs = rng.dirichlet(np.ones(3), size=(4, 10))       # (T, n, C)
    labels = rng.integers(0, 3, size=10)
    res = decompose(probs, labels, "squared_error")
    onehot = np.eye(3)[labels]
    # Yang et al.: risk = E‖y − f(x)‖² with the norm over the 3 classes (not a mean over 30 values)
    assert res.risk == pytest.approx(((probs - onehot) ** 2).sum(-1).mean(), rel=1e-12)
    # (n, 2, 3) outputs: the loss of a point sums over both output axes
    p = rng.normal(size=(3, 5, 2, 3))
    y = rng.normal(size=(5, 2, 3))
    res = squared_error_decomposition(p, y)
    assert res.risk == pytest.approx(((p - y) ** 2).sum((2, 3)).mean(), rel=1e-12)
    with pytest.raises(ValueError, match="y must have shape"):
        squared_error_decomposition(p, y[:, 0])


def test_bootstrap_with_no_correction_matches_mlxtend_formulas():
    # mlxtend.evaluate.bias_variance_decomp (loss="mse"): avg_expected_loss = mean over rounds of
    # mean((pred − y)²), avg_bias = mean((mean_pred − y)²), avg_var = mean((mean_pred − pred)²).
    rng = np.random.default_rng(5)
    x = rng.normal(size=(60, 2))
    y = x @ np.array([1.0, -2.0]) + 0.3 * rng.normal(size=60)
    x_test = rng.normal(size=(25, 2))
    y_test = x_test @ np.array([1.0, -2.0]) + 0.3 * rng.normal(size=25)
    (group,) = draw_training_sets(60, "bootstrap", trials=30, seed=0)
    assert all(len(i) == 60 for i in group)
    assert any(len(np.unique(i)) < 60 for i in group)          # drawn with replacement
    preds = np.stack([x_test @ np.linalg.lstsq(x[i], y[i], rcond=None)[0] for i in group])
    res = squared_error_decomposition(preds[..., None], y_test[:, None], correction=False)
    main = preds.mean(0)
    assert res.risk == pytest.approx(np.mean([((p - y_test) ** 2).mean() for p in preds]))
    assert res.bias2 == pytest.approx(((main - y_test) ** 2).mean())
    assert res.variance == pytest.approx(((main - preds) ** 2).mean())


def test_draw_training_sets_split_is_disjoint_and_validated():
    groups = draw_training_sets(100, "split", trials=3, repeats=2, seed=0)
    assert len(groups) == 2
    for g in groups:
        assert [len(i) for i in g] == [33, 33, 33]
        allidx = np.concatenate(g)
        assert len(np.unique(allidx)) == 99
    assert not np.array_equal(groups[0][0], groups[1][0])       # fresh permutation per repeat
    with pytest.raises(ValueError, match=r"trials must be an integer in \[2, inf\), got 1"):
        draw_training_sets(10, "split", trials=1)
    with pytest.raises(ValueError, match=r"trials must be an integer in \[2, n=10\] for disjoint splits, got 11"):
        draw_training_sets(10, "split", trials=11)
    with pytest.raises(ValueError, match=r"train_size must be an integer in \[1, 5\], got 6"):
        draw_training_sets(10, "split", trials=2, train_size=6)
    with pytest.raises(ValueError, match=r"train_size must be an integer in \[1, inf\), got 0"):
        draw_training_sets(10, "bootstrap", trials=2, train_size=0)
    with pytest.raises(ValueError, match="protocol must be one of split, bootstrap, got 'jackknife'"):
        draw_training_sets(10, "jackknife", trials=2)
    with pytest.raises(ValueError, match=r"repeats must be an integer in \[1, inf\), got 0"):
        draw_training_sets(10, "split", trials=2, repeats=0)
    with pytest.raises(ValueError, match=r"predictions must have shape \(trials, n, ...\) with trials in \[2, inf\)"):
        squared_error_decomposition(np.zeros((1, 4)), np.zeros(4))
    with pytest.raises(ValueError, match=r"n must be an integer in \[5, inf\), got 4"):
        analytic_ols_bias_variance(3, 4, 1.0)


def test_domingos_zero_one_identity_and_hand_example():
    rng = np.random.default_rng(6)
    h = rng.integers(0, 3, size=(7, 200))
    probs = rng.dirichlet(np.ones(3), size=200)
    labels = rng.integers(0, 3, size=200)
    res = zero_one_decomposition(h, labels, class_probs=probs)
    # exact expected loss under t ~ p(·|x), averaged over the 7 trials
    direct = np.mean([1.0 - probs[np.arange(200), hk] for hk in h])
    assert res.risk == pytest.approx(direct, rel=1e-12)
    assert res.bias2 + res.variance + res.noise == pytest.approx(res.risk, rel=1e-12)
    noisefree = zero_one_decomposition(h, labels)
    assert noisefree.risk == pytest.approx((h != labels).mean(), rel=1e-12)
    assert noisefree.bias2 + noisefree.variance == pytest.approx(noisefree.risk, rel=1e-12)
    # Hand example, label 0. Point A: predictions (0,0,1): y_m = 0, B = 0, V = 1/3 → loss 1/3.
    # Point B: (1,1,0): y_m = 1, B = 1, V = 1/3, c₂ = −P(h=0 | h≠1) = −1 → loss 1 − 1/3 = 2/3.
    res = zero_one_decomposition(np.array([[0, 1], [0, 1], [1, 0]]), np.array([0, 0]))
    assert res.bias2 == pytest.approx(0.5)
    assert res.details["variance_total"] == pytest.approx(1 / 3)
    assert res.variance == pytest.approx((1 / 3 - 1 / 3) / 2)
    assert res.risk == pytest.approx(0.5)
    with pytest.raises(TypeError, match="pred_labels"):
        zero_one_decomposition(np.zeros((2, 3)), np.zeros(3, int))


def test_cross_entropy_bregman_decomposition():
    rng = np.random.default_rng(7)
    logits = rng.normal(size=(5, 40, 4))
    labels = rng.integers(0, 4, size=40)
    res = cross_entropy_decomposition(logits, labels, correction=False)
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    pbar = np.exp(logp.mean(0))
    pbar /= pbar.sum(-1, keepdims=True)
    # brute force: Variance = E_D KL(π̄ ‖ π_D), Bias² = CE(y, π̄)
    kl = (pbar[None] * (np.log(pbar)[None] - logp)).sum(-1).mean()
    ce_bar = -np.log(pbar[np.arange(40), labels]).mean()
    assert res.variance == pytest.approx(kl, rel=1e-10)
    assert res.details["bias2_direct"] == pytest.approx(ce_bar, rel=1e-10)
    assert res.risk == pytest.approx(-logp[:, np.arange(40), labels].mean(), rel=1e-10)
    assert res.risk == pytest.approx(ce_bar + kl, rel=1e-10)
    # true class probabilities: Noise = H(p), Bias² = KL(p ‖ π̄)
    p = rng.dirichlet(np.ones(4), size=40)
    res = cross_entropy_decomposition(logits, class_probs=p, correction=True)
    ent = -(p * np.log(p)).sum(-1).mean()
    kl_p = (p * (np.log(p) - np.log(pbar))).sum(-1).mean()
    assert res.noise == pytest.approx(ent, rel=1e-10)
    assert res.variance == pytest.approx(kl * 5 / 4, rel=1e-10)
    assert res.bias2 == pytest.approx(kl_p + kl - kl * 5 / 4, rel=1e-9)


def test_estimator_with_keras_multi_output_model():
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(8)
    x = rng.normal(size=(120, 3)).astype("float32")
    y = np.stack([x @ [1.0, 0.0, -1.0], x @ [0.5, 0.5, 0.5]], axis=1) + rng.normal(size=(120, 2))
    x_test = rng.normal(size=(30, 3)).astype("float32")
    y_test = rng.normal(size=(30, 2))

    def build():
        inp = keras.Input((3,))
        return keras.Model(inp, {"a": keras.layers.Dense(2, use_bias=False, name="a")(inp),
                                 "b": keras.layers.Dense(1, use_bias=False, name="b")(inp)})

    def train(model, xt, yt):          # exact OLS instead of SGD: deterministic and fast
        wa = np.linalg.lstsq(xt, yt, rcond=None)[0]
        model.get_layer("a").set_weights([wa.astype("float32")])
        model.get_layer("b").set_weights([wa[:, :1].astype("float32")])

    res, preds = estimate_bias_variance(
        build, x, y, x_test, {"a": y_test, "b": y_test[:, :1]}, trials=3, repeats=2,
        train_fn=train, return_predictions=True)
    groups = draw_training_sets(120, "split", trials=3, repeats=2, seed=0)
    ref = [squared_error_decomposition(
        np.stack([x_test @ np.linalg.lstsq(x[i], y[i], rcond=None)[0] for i in g]), y_test)
        for g in groups]
    # float32 Keras predict vs float64 NumPy: 1e-5 relative
    assert res["a"].variance == pytest.approx(np.mean([r.variance for r in ref]), rel=1e-5)
    assert res["a"].risk == pytest.approx(np.mean([r.risk for r in ref]), rel=1e-5)
    assert preds[0][0]["a"].shape == (30, 2)
    ref_b = [squared_error_decomposition(
        np.stack([x_test @ np.linalg.lstsq(x[i], y[i], rcond=None)[0][:, :1] for i in g]),
        y_test[:, :1]) for g in groups]
    assert res["b"].variance == pytest.approx(np.mean([r.variance for r in ref_b]), rel=1e-5)
    with pytest.raises(ValueError, match="loss must be one of .*, got 'hinge'"):
        estimate_bias_variance(build, x, y, x_test, y_test, loss="hinge")
