"""Gradient clipping by norm — the lecture's remedy for exploding gradients at cliffs, :math:`\\alpha\\,g/\\|g\\|`.

Keras optimizers already implement it; nothing is rewritten here. With threshold :math:`\\alpha`,

.. math:: g \\leftarrow \\begin{cases} g & \\|g\\| \\le \\alpha \\\\ \\alpha\\,g/\\|g\\| & \\|g\\| > \\alpha \\end{cases}

is applied to the gradient before the optimizer's update (and before weight decay):

* ``keras.optimizers.SGD(..., global_clipnorm=alpha)``: :math:`\\|g\\|` is the norm of *all* gradients
  concatenated (the direction of the full step is kept; this is the lecture's formula and what
  ``scripts/train_cifar10.py --clipnorm`` should use);
* ``clipnorm=alpha``: each variable's gradient is clipped by its own norm (the direction changes);
* ``clipvalue=c``: element-wise clipping to :math:`[-c, c]` (not a norm clip).

Only one of the three may be set. :func:`clipping_arguments` validates a threshold and returns the keyword
for an optimizer constructor, e.g. ``keras.optimizers.SGD(0.1, momentum=0.9, **clipping_arguments(1.0))``.
"""
from augment.checks import check_choice, check_number


def clipping_arguments(clipnorm, scope="global"):
    """Keyword arguments of a Keras optimizer for clipping by norm :math:`\\alpha` = ``clipnorm``:
    ``{"global_clipnorm": alpha}`` (``scope="global"``, :math:`\\alpha g/\\|g\\|` over all gradients) or
    ``{"clipnorm": alpha}`` (``scope="variable"``, per variable); ``{}`` for ``clipnorm=None``."""
    check_choice("scope", scope, ("global", "variable"))
    if clipnorm is None:
        return {}
    return {"global_clipnorm" if scope == "global" else "clipnorm": check_number("clipnorm", clipnorm, 0.0,
                                                                                 low_open=True)}
