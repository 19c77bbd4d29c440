"""Curriculum learning: each epoch draws only from the ceil(p(e) N) easiest examples, the pool widens with the
pacing function, the order is reshuffled every epoch, and the dataset trains with model.fit."""
import math

import numpy as np
import pytest
import keras

from recipes.optimization.curriculum import CurriculumDataset, linear_pacing, loss_scores, step_pacing


def _data(n=200, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype("float32")
    y = np.arange(n, dtype="float32")  # y = example id, to see which examples are served
    scores = rng.permutation(n).astype(np.float64)  # difficulty rank, 0 = easiest
    return x, y, scores


def _served(dataset):
    return np.concatenate([dataset[i][1] for i in range(len(dataset))]).astype(int)


def test_pacing_functions():
    p = linear_pacing(start=0.2, epochs_to_full=4)
    assert [p(e) for e in range(6)] == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0, 1.0])
    q = step_pacing(start=0.1, increase=2.0, step_length=2)
    assert [q(e) for e in range(9)] == pytest.approx([0.1, 0.1, 0.2, 0.2, 0.4, 0.4, 0.8, 0.8, 1.0])


def test_epochs_draw_from_the_easiest_pool_and_widen():
    x, y, scores = _data()
    pacing = linear_pacing(start=0.25, epochs_to_full=3)
    data = CurriculumDataset(x, y, scores, batch_size=20, pacing=pacing, seed=0)
    assert len(data) == 10
    previous = None
    for epoch in range(5):
        served = _served(data)
        pool = math.ceil(pacing(epoch) * 200)
        assert data.pool_size(epoch) == pool
        assert len(served) == 200  # constant number of full batches per epoch
        assert scores[served].max() < pool  # only the easiest `pool` examples ...
        assert len(np.unique(served)) == pool  # ... and all of them (pool cycled, reshuffled)
        assert data.epoch == epoch
        if previous is not None and len(previous) == len(served):
            assert not np.array_equal(previous, served)
        previous = served
        data.on_epoch_end()


def test_plain_reshuffling_visits_every_example_once_in_a_new_order():
    x, y, _ = _data()
    data = CurriculumDataset(x, y, batch_size=40, seed=1)
    first = _served(data)
    data.on_epoch_end()
    second = _served(data)
    np.testing.assert_array_equal(np.sort(first), np.arange(200))
    np.testing.assert_array_equal(np.sort(second), np.arange(200))
    assert not np.array_equal(first, second)


def test_no_shuffle_keeps_easy_to_hard_order():
    x, y, scores = _data()
    data = CurriculumDataset(x, y, scores, batch_size=50, shuffle=False)
    np.testing.assert_array_equal(scores[_served(data)], np.arange(200))


def test_fit_sees_the_pacing(tmp_path):
    x, y, scores = _data(n=96)
    seen = {}

    class Recording(CurriculumDataset):
        def __getitem__(self, index):
            batch_x, batch_y = super().__getitem__(index)
            seen.setdefault(self.epoch, set()).update(batch_y.astype(int).tolist())
            return batch_x, np.zeros((len(batch_y), 1), "float32")

    data = Recording(x, y, scores, batch_size=16, pacing=linear_pacing(0.25, 2), seed=0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    model.fit(data, epochs=3, verbose=0)
    assert sorted(seen) == [0, 1, 2]
    for epoch, ids in seen.items():
        assert scores[sorted(ids)].max() < math.ceil(linear_pacing(0.25, 2)(epoch) * 96)
    assert len(seen[2]) == 96


def test_loss_scores_are_per_example_losses():
    x, _, _ = _data(n=32)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    target = np.zeros((32, 1), "float32")
    pred = model.predict(x, verbose=0)
    np.testing.assert_allclose(loss_scores(model, x, target, "mse"), (pred ** 2).ravel(), rtol=1e-5)


@pytest.mark.parametrize("kwargs,error,match", [
    ({"batch_size": 0}, ValueError, r"batch_size must be an integer in \[1, inf\), got 0"),
    ({"scores": np.zeros(3)}, ValueError, "scores must have shape"),
    ({"scores": np.full(200, np.nan)}, ValueError, r"scores must be finite \(no NaN or inf\), got nan"),
    ({"pacing": 0.5}, TypeError, "pacing must be callable"),
    ({"steps_per_epoch": 0}, ValueError, r"steps_per_epoch must be an integer in \[1, inf\), got 0"),
    ({"seed": -1}, ValueError, r"seed must be an integer in \[0, 2147483647\], got -1"),
    ({"x": np.zeros((0, 2))}, ValueError, "x must hold at least 1 example"),
    ({"y": np.zeros(5)}, ValueError, "same length"),
    ({"use_multiprocessing": True}, ValueError, "use_multiprocessing"),
])
def test_bad_arguments_raise_by_name(kwargs, error, match):
    x, y, _ = _data()
    args = {"x": x, "y": y, **kwargs}
    if "x" in kwargs:
        args["y"] = None
    with pytest.raises(error, match=match):
        CurriculumDataset(**args)


@pytest.mark.parametrize("factory,kwargs,error,match", [
    (linear_pacing, {"start": 0.0}, ValueError, r"start must be a finite number in \(0, 1\], got 0.0"),
    (linear_pacing, {"epochs_to_full": 0}, ValueError, r"epochs_to_full must be an integer in \[1, inf\), got 0"),
    (step_pacing, {"increase": 1.0}, ValueError, r"increase must be a finite number in \(1, inf\), got 1.0"),
    (step_pacing, {"step_length": 1.0}, TypeError, r"step_length must be an integer in \[1, inf\), got 1.0"),
])
def test_pacing_bad_arguments(factory, kwargs, error, match):
    with pytest.raises(error, match=match):
        factory(**kwargs)
