import math

import keras
import numpy as np
import pytest

from recipes.ensembles.boosting import AdaBoostSAMME, samme_update

Y = np.array([0, 1, 2, 0])  # 4 examples, K = 3 classes


def test_samme_update_scripted_case():
    # round 1: learner misses example 3 only → err = 1/4, α = log(3) + log(2) = log 6
    w, alpha, err = samme_update(np.full(4, 0.25), np.array([0, 0, 0, 1], bool), num_classes=3)
    assert err == pytest.approx(0.25) and alpha == pytest.approx(math.log(6))
    np.testing.assert_allclose(w, np.array([1, 1, 1, 6]) / 9)  # missed weight × e^α = × 6
    # round 2: misses examples 0 and 1 → err = 2/9, α = log(3.5) + log 2 = log 7
    w, alpha, err = samme_update(w, np.array([1, 1, 0, 0], bool), num_classes=3)
    assert err == pytest.approx(2 / 9) and alpha == pytest.approx(math.log(7))
    np.testing.assert_allclose(w, np.array([7, 7, 1, 6]) / 21)
    # learning rate scales α
    _, a_half, _ = samme_update(np.full(4, 0.25), np.array([0, 0, 0, 1], bool), 3, learning_rate=0.5)
    assert a_half == pytest.approx(0.5 * math.log(6))
    with pytest.raises(ValueError, match="err"):
        samme_update(np.full(4, 0.25), np.array([1, 1, 1, 0], bool), 3)  # err = 3/4 ≥ 1 − 1/K
    with pytest.raises(ValueError, match=r"num_classes must be an integer in \[2, inf\), got 1"):
        samme_update(np.full(4, 0.25), np.array([1, 0, 0, 0], bool), 1)


class ScriptedLearner:
    """A weak learner whose training predictions are scripted; it records the sample_weight it got."""

    def __init__(self, predictions):
        self.predictions = np.asarray(predictions)
        self.sample_weight = None

    def fit(self, x, y, sample_weight=None, **kwargs):
        self.sample_weight = np.asarray(sample_weight)

    def predict(self, x, batch_size=None, verbose=0):
        return np.eye(3)[self.predictions[: len(x)]]


def test_adaboost_passes_samme_weights_to_sample_weight():
    scripts = [[0, 1, 2, 2], [1, 0, 2, 0], [0, 1, 1, 0]]  # miss {3}, {0, 1}, {2}
    learners = [ScriptedLearner(s) for s in scripts]
    boost = AdaBoostSAMME(lambda m: learners[m], num_classes=3, num_rounds=3).fit(np.zeros((4, 1)), Y)
    # Keras sample_weight = N · w (mean 1)
    np.testing.assert_allclose(learners[0].sample_weight, np.ones(4))
    np.testing.assert_allclose(learners[1].sample_weight, 4 * np.array([1, 1, 1, 6]) / 9, rtol=1e-6)
    np.testing.assert_allclose(learners[2].sample_weight, 4 * np.array([7, 7, 1, 6]) / 21, rtol=1e-6)
    # round 3: err = 1/21 → α = log(20) + log(2) = log 40
    np.testing.assert_allclose(boost.alphas, [math.log(6), math.log(7), math.log(40)])
    # vote: example 3 gets class 0 from learners 2 and 3 (log 7 + log 40) > class 2 from learner 1 (log 6)
    scores = boost.decision_function(np.zeros((4, 1)))
    np.testing.assert_allclose(scores[3], [math.log(7) + math.log(40), 0, math.log(6)])
    np.testing.assert_array_equal(boost.predict(np.zeros((4, 1))), Y)
    res = boost.evaluate(np.zeros((4, 1)), Y)
    assert res["member_accuracy"] == [0.75, 0.5, 0.75] and res["ensemble_accuracy"] == 1.0


def test_stops_on_perfect_or_chance_learner():
    boost = AdaBoostSAMME(lambda m: ScriptedLearner(Y), num_classes=3, num_rounds=5).fit(np.zeros((4, 1)), Y)
    assert len(boost.learners) == 1 and boost.alphas == [1.0]
    scripts = [[0, 1, 2, 2], [1, 2, 0, 1]]  # the second misses everything
    boost = AdaBoostSAMME(lambda m: ScriptedLearner(scripts[m]), num_classes=3, num_rounds=2).fit(np.zeros((4, 1)), Y)
    assert len(boost.learners) == 1
    with pytest.raises(ValueError, match="chance"):
        AdaBoostSAMME(lambda m: ScriptedLearner([1, 2, 0, 1]), num_classes=3).fit(np.zeros((4, 1)), Y)
    with pytest.raises(ValueError, match=r"num_classes must be an integer in \[2, inf\), got 1"):
        AdaBoostSAMME(lambda m: None, num_classes=1)
    with pytest.raises(ValueError, match=r"learning_rate must be a finite number in \(0, inf\), got 0"):
        AdaBoostSAMME(lambda m: None, num_classes=3, learning_rate=0)


# The issue's example: K = 3, N = 20; the first learner misses 9 examples (err = 0.45), the second is perfect.
Y20 = np.arange(20) % 3
FIRST20 = np.where(np.arange(20) < 9, (Y20 + 1) % 3, Y20)  # wrong on examples 0..8


class _FirstWrongThenPerfect:
    """A deterministic weak learner for both libraries: fitted with uniform sample weights (round 1) it predicts
    FIRST20 (45 % wrong), with any other weights the truth; a lookup on x[:, 0] = example index."""

    def fit(self, x, y, sample_weight=None, **kwargs):
        w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, np.float64)
        uniform = np.allclose(w, w[0])
        self.table_ = dict(zip(np.asarray(x)[:, 0].tolist(), (FIRST20 if uniform else np.asarray(y)).tolist()))
        self.classes_ = np.unique(y)
        return self

    def labels(self, x):
        return np.array([self.table_[v] for v in np.asarray(x)[:, 0].tolist()])

    def predict(self, x, batch_size=None, verbose=0):  # Keras-style: class scores
        return np.eye(3)[self.labels(x)]


def test_perfect_learner_after_the_first_is_kept_with_weight_one():
    """Before: the perfect second learner was dropped (1 learner, training accuracy 0.55)."""
    x = np.arange(20, dtype=np.float64)[:, None]
    boost = AdaBoostSAMME(lambda m: _FirstWrongThenPerfect(), num_classes=3, num_rounds=5).fit(x, Y20)
    assert len(boost.learners) == 2
    np.testing.assert_allclose(boost.alphas, [math.log(0.55 / 0.45) + math.log(2), 1.0], rtol=1e-12)
    assert boost.alphas[0] == pytest.approx(0.894, abs=5e-4)
    np.testing.assert_allclose(boost.errors, [0.45, 0.0], rtol=1e-12)
    np.testing.assert_array_equal(boost.predict(x), Y20)  # 1.0 > 0.894: the perfect learner wins every tie-break
    assert boost.evaluate(x, Y20)["staged_accuracy"] == [0.55, 1.0]


def test_perfect_learner_weight_is_one_whatever_the_learning_rate_and_ends_boosting():
    scripts = [[0, 1, 2, 2], [1, 0, 2, 0], list(Y)]  # miss {3}, {0, 1}, nothing
    built = []

    def build(m):
        built.append(m)
        return ScriptedLearner(scripts[m])

    boost = AdaBoostSAMME(build, num_classes=3, num_rounds=10, learning_rate=0.5).fit(np.zeros((4, 1)), Y)
    assert built == [0, 1, 2]  # stopped after the perfect learner
    err2 = 2 / (3 + math.sqrt(6))  # w ∝ [1, 1, 1, e^(0.5 log 6)] after round 1; round 2 misses examples 0 and 1
    alpha2 = 0.5 * (math.log((1 - err2) / err2) + math.log(2))
    np.testing.assert_allclose(boost.alphas, [0.5 * math.log(6), alpha2, 1.0], rtol=1e-12)
    assert boost.errors[-1] == 0.0


def test_overflowing_weights_stop_boosting_and_keep_the_learner():
    # η = 1000: α = 1000 log 6 and e^α overflows float64; scikit-learn warns and stops, keeping the learner
    scripts = [[0, 1, 2, 2], [1, 0, 2, 0]]
    with pytest.warns(RuntimeWarning, match="overflowed at round 0"):
        boost = AdaBoostSAMME(lambda m: ScriptedLearner(scripts[m]), num_classes=3, num_rounds=2,
                              learning_rate=1000.0).fit(np.zeros((4, 1)), Y)
    assert len(boost.learners) == 1 and boost.alphas == [pytest.approx(1000 * math.log(6))]


def test_matches_scikit_learn_samme_on_the_issue_example_and_on_stumps():
    from sklearn.ensemble import AdaBoostClassifier
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.tree import DecisionTreeClassifier

    class SkFirstWrongThenPerfect(ClassifierMixin, BaseEstimator):
        def fit(self, X, y, sample_weight=None):
            self.inner_ = _FirstWrongThenPerfect().fit(X, y, sample_weight)
            self.classes_ = self.inner_.classes_
            return self

        def predict(self, X):
            return self.inner_.labels(X)

    x = np.arange(20, dtype=np.float64)[:, None]
    sk = AdaBoostClassifier(SkFirstWrongThenPerfect(), n_estimators=5).fit(x, Y20)
    ours = AdaBoostSAMME(lambda m: _FirstWrongThenPerfect(), num_classes=3, num_rounds=5).fit(x, Y20)
    assert len(sk.estimators_) == len(ours.learners) == 2
    np.testing.assert_allclose(sk.estimator_weights_[:2], ours.alphas, rtol=1e-12)
    np.testing.assert_allclose(sk.estimator_errors_[:2], ours.errors, rtol=1e-12)
    np.testing.assert_array_equal(sk.predict(x), ours.predict(x))
    assert sk.score(x, Y20) == 1.0

    # depth-1 trees on three overlapping blobs: same learners (same splits), same weights and errors
    rng = np.random.default_rng(0)
    centers = np.array([[0.0, 0.0], [2.0, 0.5], [0.5, 2.0]])
    y = np.repeat(np.arange(3), 30)
    xb = centers[y] + rng.normal(scale=0.9, size=(90, 2))
    rounds = 8
    sk = AdaBoostClassifier(DecisionTreeClassifier(max_depth=1), n_estimators=rounds, random_state=0).fit(xb, y)

    class Stump:
        def __init__(self):
            self.tree = DecisionTreeClassifier(max_depth=1, random_state=0)

        def fit(self, x, y, sample_weight=None, **kwargs):
            self.tree.fit(x, y, sample_weight=np.asarray(sample_weight, np.float64))

        def predict(self, x, batch_size=None, verbose=0):
            return np.eye(3)[self.tree.predict(x)]

    ours = AdaBoostSAMME(lambda m: Stump(), num_classes=3, num_rounds=rounds).fit(xb, y)
    k = len(ours.learners)
    assert k == len(sk.estimators_) >= 3
    np.testing.assert_allclose(ours.alphas, sk.estimator_weights_[:k], rtol=1e-10)
    np.testing.assert_allclose(ours.errors, sk.estimator_errors_[:k], rtol=1e-10)
    np.testing.assert_array_equal(ours.predict(xb), sk.predict(xb))
    # scikit-learn votes +α_m for the predicted class and −α_m/(K − 1) for the others, divided by Σ α_m:
    # the same argmax as ours, Σ_m α_m 1[G_m(x) = k], which it equals after (K/(K−1)·ours − Σα/(K−1)) / Σα
    total = np.sum(ours.alphas)
    np.testing.assert_allclose((1.5 * ours.decision_function(xb) - total / 2) / total, sk.decision_function(xb),
                               rtol=1e-10, atol=1e-12)


def test_keras_weak_learners_are_trained_with_the_samme_weights():
    """Real Keras learners: round 2 is fitted with sample_weight = N·w from round 1's misses, and it
    is then better than chance *under those weights* while making different mistakes."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=(400, 2)).astype("float32")
    y = (np.abs(x[:, 0] + x[:, 1]) < 0.6).astype("int64")  # a band: no linear classifier solves it
    fitted = []

    def weak(m):
        model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
        model.compile(keras.optimizers.Adam(0.1), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        fitted.append(model)
        return model

    boost = AdaBoostSAMME(weak, num_classes=2, num_rounds=2, seed=0).fit(x, y, epochs=3, batch_size=50)
    assert len(boost.learners) == 2
    miss1 = np.argmax(np.asarray(fitted[0].predict(x, verbose=0)), -1) != y
    w1 = np.full(400, 1 / 400)
    w2, alpha1, err1 = samme_update(w1, miss1, 2)
    assert alpha1 == pytest.approx(boost.alphas[0]) and err1 == pytest.approx(boost.errors[0])
    np.testing.assert_allclose(boost.weight_history[1], w2)
    miss2 = np.argmax(np.asarray(fitted[1].predict(x, verbose=0)), -1) != y
    assert np.sum(w2[miss2]) < 0.5  # better than chance on the reweighted problem
    assert np.any(miss1 != miss2)
    res = boost.evaluate(x, y)
    assert res["ensemble_accuracy"] >= res["member_accuracy"][0]
