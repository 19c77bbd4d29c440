"""Curriculum learning (Bengio et al. 2009) with pacing functions (Hacohen and Weinshall 2019), and the
lecture's "random shuffle training data after every epoch", for ``model.fit``.

The lecture's additional strategies for SGD: *sort data (easy to hard)* and *reshuffle after every epoch*.
A curriculum needs two functions:

* a **scoring** function giving each example a difficulty :math:`s_i` (lower = easier), e.g. the loss of a
  reference ("teacher") model, :func:`loss_scores`;
* a **pacing** function :math:`p(e) \\in (0, 1]`: in epoch :math:`e` minibatches are drawn only from the
  :math:`\\lceil p(e) N\\rceil` easiest examples, a pool that widens over the epochs until it is the whole set.

:class:`CurriculumDataset` is a ``keras.utils.PyDataset``: every epoch it takes the current pool, shuffles
it (a new permutation each epoch, seeded) and serves ``steps_per_epoch`` minibatches, cycling through
reshuffled passes of the pool when the pool is smaller than an epoch. With ``pacing=None`` (the full set from
the first epoch) it is plain per-epoch reshuffling.

Usage::

    scores = loss_scores(teacher, x, y, "sparse_categorical_crossentropy")
    data = CurriculumDataset(x, y, scores, batch_size=128, pacing=linear_pacing(0.2, 5), seed=0)
    model.fit(data, epochs=10)
"""
import math

import numpy as np
import keras

from augment.checks import check_finite_array, check_number, check_positive_int, check_seed


class _Pacing:
    """Base of the pacing functions: ``pacing(epoch) -> fraction in (0, 1]``."""

    def __call__(self, epoch):
        raise NotImplementedError


class linear_pacing(_Pacing):
    """Linear pacing :math:`p(e) = \\min\\{1, p_0 + (1-p_0)\\,e/E\\}`: starts with the easiest fraction
    :math:`p_0` = ``start`` and reaches the full set at epoch :math:`E` = ``epochs_to_full``."""

    def __init__(self, start=0.2, epochs_to_full=5):
        self.start = check_number("start", start, 0.0, 1.0, low_open=True)
        self.epochs_to_full = check_positive_int("epochs_to_full", epochs_to_full)

    def __call__(self, epoch):
        return min(1.0, self.start + (1.0 - self.start) * epoch / self.epochs_to_full)


class step_pacing(_Pacing):
    """Fixed exponential pacing of Hacohen and Weinshall (2019): :math:`p(e) = \\min\\{1, p_0\\,r^{\\lfloor e/L\\rfloor}\\}`
    with starting fraction :math:`p_0` = ``start``, growth :math:`r` = ``increase`` > 1 and step length
    :math:`L` = ``step_length`` epochs."""

    def __init__(self, start=0.1, increase=2.0, step_length=1):
        self.start = check_number("start", start, 0.0, 1.0, low_open=True)
        self.increase = check_number("increase", increase, 1.0, low_open=True)
        self.step_length = check_positive_int("step_length", step_length)

    def __call__(self, epoch):
        return min(1.0, self.start * self.increase ** (epoch // self.step_length))


def loss_scores(model, x, y, loss, batch_size=256):
    """Difficulty :math:`s_i = L(f(x^{(i)}), y^{(i)})`, the per-example loss of a reference model (transfer
    scoring, Hacohen and Weinshall 2019); lower is easier. ``loss`` is a Keras loss name or function
    returning per-example values."""
    loss_fn = keras.losses.get(loss) if isinstance(loss, str) else loss
    predictions = model.predict(x, batch_size=batch_size, verbose=0)
    values = keras.ops.convert_to_numpy(loss_fn(keras.ops.convert_to_tensor(y), predictions))
    values = np.asarray(values, dtype=np.float64)
    return values.reshape(len(x), -1).mean(axis=1)


class CurriculumDataset(keras.utils.PyDataset):
    """Minibatches from the :math:`\\lceil p(e) N\\rceil` easiest examples (by ``scores``, ascending) in epoch
    :math:`e`, reshuffled every epoch.

    Args:
        x, y: arrays with the same first dimension :math:`N` (``y`` may be None).
        scores: difficulty per example, shape (N,), lower = easier; None = no ordering (plain reshuffling).
        batch_size: minibatch size :math:`m \\ge 1`.
        pacing: callable ``epoch -> fraction in (0, 1]`` (e.g. :class:`linear_pacing`); None = always 1.
        steps_per_epoch: minibatches per epoch (default :math:`\\lceil N/m\\rceil`, constant over the epochs
            as Keras requires; a small pool is cycled through, reshuffled on each pass).
        shuffle: reshuffle the pool every epoch (and every pass); False keeps easy → hard order.
        seed: seed of the permutations.
        **kwargs: ``workers``, ``max_queue_size`` of ``PyDataset`` (threads; ``use_multiprocessing=True`` is
            refused: the epoch counter lives in this process).

    The curriculum epoch :math:`e` (attribute ``epoch``) advances in ``on_epoch_end`` after an epoch in which
    all ``steps_per_epoch`` minibatches were served (Keras's spec-inferring peek before training does not
    count). Keras's ``fit(shuffle=True)`` additionally permutes the order of the minibatches within an epoch.
    """

    def __init__(self, x, y=None, scores=None, batch_size=32, pacing=None, steps_per_epoch=None,
                 shuffle=True, seed=None, **kwargs):
        if kwargs.get("use_multiprocessing"):
            raise ValueError("use_multiprocessing must be False for CurriculumDataset (the epoch counter "
                             "must see every __getitem__ call); use workers > 1 for threads")
        super().__init__(**kwargs)
        self.x = np.asarray(x)
        self.y = None if y is None else np.asarray(y)
        n = len(self.x)
        if n == 0:
            raise ValueError(f"x must hold at least 1 example, got shape {self.x.shape}")
        if self.y is not None and len(self.y) != n:
            raise ValueError(f"x and y must have the same length, got {n} and {len(self.y)}")
        batch_size = check_positive_int("batch_size", batch_size)
        seed = check_seed("seed", seed)
        if scores is None:
            self.order = np.arange(n)
        else:
            scores = np.asarray(scores, dtype=np.float64).reshape(-1)
            if scores.shape != (n,):
                raise ValueError(f"scores must have shape ({n},), got {scores.shape}")
            check_finite_array("scores", scores)
            self.order = np.argsort(scores, kind="stable")  # easiest first
        if pacing is not None and not callable(pacing):
            raise TypeError(f"pacing must be callable(epoch) -> fraction or None, got {type(pacing).__name__}")
        if steps_per_epoch is None:
            steps_per_epoch = math.ceil(n / batch_size)
        self.batch_size = batch_size
        self.pacing = pacing
        self.steps_per_epoch = check_positive_int("steps_per_epoch", steps_per_epoch)
        self.shuffle = bool(shuffle)
        self._rng = np.random.default_rng(seed)
        self.epoch = 0
        self._served = 0
        self._build_epoch()

    def pool_size(self, epoch):
        """:math:`\\lceil p(e) N \\rceil` (at least one minibatch or the whole set)."""
        n = len(self.x)
        if self.pacing is None:
            return n
        fraction = float(self.pacing(epoch))
        if not 0 < fraction <= 1:
            raise ValueError(f"pacing({epoch}) must be in (0, 1], got {fraction}")
        return min(n, max(math.ceil(fraction * n), min(self.batch_size, n)))

    def _build_epoch(self):
        pool = self.order[: self.pool_size(self.epoch)]
        needed = self.steps_per_epoch * self.batch_size
        passes = []
        total = 0
        while total < needed:
            passes.append(self._rng.permutation(pool) if self.shuffle else pool)
            total += len(pool)
        self.epoch_indices = np.concatenate(passes)[:needed]

    def __len__(self):
        return self.steps_per_epoch

    def __getitem__(self, index):
        if not 0 <= index < self.steps_per_epoch:
            raise IndexError(f"index must be in [0, {self.steps_per_epoch}), got {index}")
        self._served += 1
        batch = self.epoch_indices[index * self.batch_size:(index + 1) * self.batch_size]
        if self.y is None:
            return (self.x[batch],)
        return self.x[batch], self.y[batch]

    def on_epoch_end(self):
        # Keras reads a batch or two to infer the data spec and then signals an epoch end before training;
        # only an epoch in which every minibatch was served advances the curriculum.
        if self._served >= self.steps_per_epoch:
            self.epoch += 1
            self._build_epoch()
        self._served = 0
