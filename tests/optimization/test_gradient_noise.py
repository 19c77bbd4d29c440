"""GradientNoise: the empirical variance of the added noise follows sigma_t^2 = eta / (1 + t)^gamma, the mean
is the wrapped optimizer's update, it trains in model.fit, round-trips through .keras, rejects bad arguments."""
import numpy as np
import pytest
import keras

from recipes.optimization.gradient_noise import GradientNoise


def test_noise_variance_follows_schedule():
    eta, gamma, n = 0.5, 0.55, 20000
    var = keras.Variable(np.zeros(n, "float32"))
    opt = GradientNoise(keras.optimizers.SGD(learning_rate=1.0), eta=eta, gamma=gamma, seed=3)
    zero = keras.ops.zeros((n,))
    for t in range(6):
        before = keras.ops.convert_to_numpy(var).astype(np.float64)
        opt.apply([zero], [var])
        noise = before - keras.ops.convert_to_numpy(var).astype(np.float64)  # SGD lr 1: step = -(0 + noise)
        expected = eta / (1 + t) ** gamma
        # sample variance of n Gaussians has relative standard error sqrt(2/n) = 1 %; allow 5 %
        assert np.var(noise) == pytest.approx(expected, rel=0.05)
        assert abs(np.mean(noise)) < 5 * np.sqrt(expected / n)
        assert float(keras.ops.convert_to_numpy(opt.noise_variance(t))) == pytest.approx(expected, rel=1e-6)
    assert int(keras.ops.convert_to_numpy(opt.iterations)) == 6


def test_mean_update_is_inner_optimizer_update():
    # Adam inside: with a tiny eta the update equals plain Adam's to within the noise
    rng = np.random.default_rng(0)
    g = rng.normal(size=(50,)).astype("float32")
    plain, noisy = (keras.Variable(np.ones(50, "float32")) for _ in range(2))
    adam = keras.optimizers.Adam(0.1)
    wrapped = GradientNoise(keras.optimizers.Adam(0.1), eta=1e-12, seed=0)
    for _ in range(3):
        adam.apply([keras.ops.convert_to_tensor(g)], [plain])
        wrapped.apply([keras.ops.convert_to_tensor(g)], [noisy])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(noisy), keras.ops.convert_to_numpy(plain), atol=1e-5)


def test_same_seed_same_noise_different_seed_different_noise():
    def run(seed):
        var = keras.Variable(np.zeros(100, "float32"))
        GradientNoise(keras.optimizers.SGD(1.0), eta=1.0, seed=seed).apply([keras.ops.zeros((100,))], [var])
        return keras.ops.convert_to_numpy(var)

    np.testing.assert_array_equal(run(1), run(1))
    assert not np.allclose(run(1), run(2))


def test_fit_and_keras_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(128, 3)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5]]) + 0.3).astype("float32")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    opt = GradientNoise(keras.optimizers.SGD(0.05, momentum=0.9, global_clipnorm=5.0), eta=0.01, seed=7)
    model.compile(opt, "mse")
    seed_state = keras.ops.convert_to_numpy(opt._seed_generator.state).copy()
    history = model.fit(x, y, epochs=5, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < 0.05 * history.history["loss"][0]
    assert int(keras.ops.convert_to_numpy(opt.iterations)) == 40
    # the noise stream advanced inside the compiled train step (fresh noise each step)
    assert not np.array_equal(keras.ops.convert_to_numpy(opt._seed_generator.state), seed_state)
    path = tmp_path / "noise.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded.optimizer, GradientNoise)
    assert loaded.optimizer.get_config() == opt.get_config()
    assert isinstance(loaded.optimizer.inner_optimizer, keras.optimizers.SGD)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    for a, b in zip(opt.variables, loaded.optimizer.variables):  # incl. the noise RNG state
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))


@pytest.mark.parametrize("kwargs,error,match", [
    ({"eta": 0.0}, ValueError, r"eta must be a finite number in \(0, inf\), got 0.0"),
    ({"eta": "big"}, TypeError, r"eta must be a number in \(0, inf\), got 'big'"),
    ({"gamma": -0.5}, ValueError, r"gamma must be a finite number in \[0, inf\), got -0.5"),
    ({"seed": 1.5}, TypeError, r"seed must be an integer in \[0, 2147483647\], got 1.5"),
    ({"clipnorm": 1.0}, ValueError, r"clipnorm must be set on inner_optimizer .*, got 1.0"),
])
def test_bad_arguments_raise_by_name(kwargs, error, match):
    with pytest.raises(error, match=match):
        GradientNoise(keras.optimizers.SGD(), **kwargs)


def test_inner_optimizer_must_be_an_optimizer():
    with pytest.raises(TypeError, match="inner_optimizer"):
        GradientNoise("sgd")
