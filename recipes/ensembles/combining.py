"""Helpers shared by bagging, boosting and stacking: outputs → probabilities, combining, accuracy."""
import numpy as np

OUTPUTS = ("logits", "probabilities", "regression")


def check_output(output):
    if output not in OUTPUTS:
        raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}")
    return output


def check_positive_int(value, name, minimum=1):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def to_probabilities(y, output):
    """Class probabilities from a model's outputs: softmax of logits, or the probabilities as given."""
    y = np.asarray(y, dtype=np.float64)
    if output == "logits":
        z = y - y.max(axis=-1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=-1, keepdims=True)
    if output == "probabilities":
        return y
    raise ValueError("to_probabilities needs output 'logits' or 'probabilities'")


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
