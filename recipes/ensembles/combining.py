"""Helpers shared by bagging, boosting and stacking: outputs → probabilities, combining, accuracy."""
import numpy as np

from augment.checks import check_choice

#: What ensemble members return.
OUTPUTS = ("logits", "probabilities", "regression")
#: The outputs that are class scores.
CLASSIFICATION_OUTPUTS = ("logits", "probabilities")


def to_probabilities(y, output):
    """Class probabilities from a model's outputs: softmax(z)_k = exp(z_k) / Σ_j exp(z_j) of logits, or the
    probabilities as given."""
    check_choice("output", output, CLASSIFICATION_OUTPUTS)
    y = np.asarray(y, dtype=np.float64)
    if output == "logits":
        z = y - y.max(axis=-1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=-1, keepdims=True)
    return y


def accuracy(pred_scores, y):
    """Fraction of ``argmax(pred_scores) == y``."""
    return float(np.mean(np.argmax(pred_scores, axis=-1) == np.asarray(y).reshape(-1)))


def predict_numpy(model, x, batch_size=256):
    """``model.predict`` as a float64 NumPy array (works for Keras and duck-typed models)."""
    try:
        y = model.predict(x, batch_size=batch_size, verbose=0)
    except TypeError:
        y = model.predict(x)
    return np.asarray(y, dtype=np.float64)
