"""GroupedSGD against PyTorch's SGD with parameter groups, written out by hand in NumPy."""
import keras
import numpy as np
import pytest

from recipes.optimization.param_groups import GroupedSGD, param_group
from recipes.optimization.warmup_schedule import WarmupLinearDecay


def _torch_sgd_by_hand(params, grads_per_step, lrs, groups, momentum, nesterov):
    """PyTorch's SGD step (torch/optim/sgd.py, foreach=False) for each parameter, groups as {name: (lr factor,
    weight_decay)} with the group's lr = factor · ε_k:  d = g + wd·p;  b = μ b + d (b = d at the first step);
    p -= lr · (d + μ b) (Nesterov) or lr · b."""
    p = {k: v.astype(np.float64).copy() for k, v in params.items()}
    buf = {k: None for k in params}
    for k, grads in enumerate(grads_per_step):
        for name in p:
            factor, wd, until = groups[name]
            if until is not None and k >= until:
                continue  # requires_grad = False: no grad, no step
            d = grads[name] + wd * p[name]
            if momentum:
                buf[name] = d.copy() if buf[name] is None else momentum * buf[name] + d
                d = d + momentum * buf[name] if nesterov else buf[name]
            p[name] -= factor * lrs[k] * d
    return p


def _variables(rng):
    return {name: keras.Variable(rng.normal(size=shape).astype("float32"), name=name)
            for name, shape in (("conv_kernel", (3, 4)), ("bn_beta", (4,)), ("whiten_bias", (2,)))}


@pytest.mark.parametrize("nesterov", [True, False])
def test_matches_pytorch_param_groups_by_hand(nesterov):
    """airbench's groups: biases at c·ε with decay λ/c, the rest at ε with decay λ; one group stops at step 3;
    a warm-up + decay schedule (where Keras' SGD and PyTorch's SGD differ)."""
    rng = np.random.default_rng(0)
    variables = _variables(rng)
    init = {k: np.array(v) for k, v in variables.items()}
    steps, mu, lam, c = 7, 0.85, 0.02, 64.0
    schedule = WarmupLinearDecay(0.3, 0.3 * 0.07, total_steps=steps, warmup_steps=2)
    opt = GroupedSGD(schedule, momentum=mu, nesterov=nesterov, coupled_weight_decay=lam,
                     groups=[param_group("beta", lr_scale=c), param_group("whiten_bias", train_steps=3)])
    grads = [{k: rng.normal(size=v.shape) for k, v in init.items()} for _ in range(steps)]
    order = list(variables)
    for g in grads:
        opt.apply([keras.ops.convert_to_tensor(g[k].astype("float32")) for k in order], [variables[k] for k in order])
    lrs = [float(keras.ops.convert_to_numpy(schedule(k))) for k in range(steps)]
    ref = _torch_sgd_by_hand(init, grads, lrs, {"conv_kernel": (1.0, lam, None), "bn_beta": (c, lam / c, None),
                                                "whiten_bias": (1.0, lam, 3)}, mu, nesterov)
    for k in order:
        np.testing.assert_allclose(np.array(variables[k]), ref[k], rtol=2e-5, atol=1e-5, err_msg=k)
    # the frozen group really froze (and moved before): steps 3…6 left it where step 2 put it
    ref3 = _torch_sgd_by_hand(init, grads[:3], lrs, {"conv_kernel": (1.0, lam, None), "bn_beta": (c, lam / c, None),
                                                     "whiten_bias": (1.0, lam, 3)}, mu, nesterov)
    np.testing.assert_allclose(np.array(variables["whiten_bias"]), ref3["whiten_bias"], rtol=2e-5, atol=1e-6)
    assert np.abs(ref3["whiten_bias"] - init["whiten_bias"]).max() > 1e-3


def test_equals_keras_sgd_at_a_constant_rate_and_differs_under_a_schedule():
    """With c = 1, λ = 0: identical to keras.optimizers.SGD(nesterov=True) at a constant ε (ε b = −v); under a
    changing ε_k PyTorch's form (ε outside the buffer) gives another trajectory, which is why the class exists."""
    rng = np.random.default_rng(1)
    grads = [rng.normal(size=(5,)).astype("float32") for _ in range(6)]

    def run(opt):
        v = keras.Variable(np.linspace(-1, 1, 5).astype("float32"), name="w")
        for g in grads:
            opt.apply([keras.ops.convert_to_tensor(g)], [v])
        return np.array(v)

    np.testing.assert_allclose(run(GroupedSGD(0.1, momentum=0.9, nesterov=True)),
                               run(keras.optimizers.SGD(0.1, momentum=0.9, nesterov=True)), rtol=1e-6, atol=1e-7)
    sched = lambda: WarmupLinearDecay(0.5, 0.0, total_steps=6, warmup_steps=3)  # noqa: E731
    a = run(GroupedSGD(sched(), momentum=0.9, nesterov=True))
    b = run(keras.optimizers.SGD(sched(), momentum=0.9, nesterov=True))
    assert np.abs(a - b).max() > 1e-2


def test_scaling_the_gradient_is_scaling_the_learning_rate():
    """Without decay, c·g at ε is g at c·ε for every step of momentum SGD."""
    rng = np.random.default_rng(2)
    grads = [rng.normal(size=(4,)).astype("float32") for _ in range(5)]

    def run(opt):
        v = keras.Variable(np.ones(4, "float32"), name="beta")
        for g in grads:
            opt.apply([keras.ops.convert_to_tensor(g)], [v])
        return np.array(v)

    a = run(GroupedSGD(0.01, momentum=0.85, nesterov=True, groups=[param_group("beta", lr_scale=8.0)]))
    b = run(GroupedSGD(0.08, momentum=0.85, nesterov=True))
    np.testing.assert_allclose(a, b, rtol=1e-5)


def test_groups_match_by_path_first_wins_and_config_round_trips():
    inp = keras.Input((3,))
    model = keras.Model(inp, keras.layers.BatchNormalization(name="bn")(keras.layers.Dense(2, name="fc")(inp)))
    opt = GroupedSGD(0.1, momentum=0.5, coupled_weight_decay=1e-3,
                     groups=[{"pattern": "bn/beta$", "lr_scale": 4.0, "weight_decay": 0.0},
                             {"pattern": "bn/", "lr_scale": 2.0}])
    opt.build(model.trainable_variables)
    rules = {v.path: opt._rules[opt._get_variable_index(v)] for v in model.trainable_variables}
    assert rules == {"fc/kernel": (1.0, 1e-3, None), "fc/bias": (1.0, 1e-3, None), "bn/gamma": (2.0, 1e-3, None),
                     "bn/beta": (4.0, 0.0, None)}
    again = GroupedSGD.from_config(opt.get_config())
    assert again.get_config() == opt.get_config()


@pytest.mark.parametrize("kwargs, word", [
    ({"momentum": 1.0}, r"momentum must be a finite number in \[0, 1\), got 1.0"),
    ({"coupled_weight_decay": -1.0}, r"coupled_weight_decay must be a finite number in \[0, inf\), got -1.0"),
    ({"weight_decay": 0.1}, "pass coupled_weight_decay"),
    ({"groups": [{"pattern": "("}]}, r"pattern must be a valid regular expression, got '\('"),
    ({"groups": [{"pattern": "b", "lr_scale": 0}]}, r"lr_scale must be a finite number in \(0, inf\), got 0"),
    ({"groups": [{"pattern": "b", "train_steps": -1}]}, r"train_steps must be an integer in \[0, inf\), got -1"),
    ({"groups": [{"pattern": "b", "lr": 2}]}, r"groups\[0\] has unknown keys \['lr'\]"),
    ({"learning_rate": -1.0}, "learning_rate"),
])
def test_bad_args_raise_by_name(kwargs, word):
    with pytest.raises((ValueError, TypeError), match=word):
        GroupedSGD(**{"learning_rate": 0.1, **kwargs})
