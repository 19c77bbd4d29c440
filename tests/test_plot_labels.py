"""What the figures of the scripts say: counts in the number they take ("1 epoch", not "1 epochs"), no "noisy
labels" without label noise, one-run bars without error bars, bars from 0."""
import pytest

from recipes import cli
from tests.helpers import load_script


@pytest.mark.parametrize("n, noun, text", [(1, "epoch", "1 epoch"), (2, "epoch", "2 epochs"),
                                           (0.5, "epoch", "0.5 epochs"), (1.0, "seed", "1 seed"),
                                           (10000, "test image", "10,000 test images"),
                                           (3, "replica", "3 replicas"), (2, "axis", "2 axes")])
def test_quantity_puts_the_noun_in_the_number_it_takes(n, noun, text):
    assert cli.quantity(n, noun, plural="axes" if noun == "axis" else None) == text


def test_double_descent_cifar10_title():
    title = load_script("double_descent_cifar10").figure_title
    assert title(2, 512, 0.0, 1) == "CIFAR-10, 2 disjoint sets of 512 images, no label noise, 1 epoch"
    assert title(2, 25000, 0.15, 100) == ("CIFAR-10, 2 disjoint sets of 25,000 images, 15% of the training labels "
                                          "random, 100 epochs")


def test_speech_plot_bars_start_at_0_and_one_run_has_no_error_bar(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.container
    import matplotlib.pyplot as plt

    script = load_script("speech_augment_fsdd")
    assert script.plot_title("speaker", "theo", 1, 1) == ("FSDD speaker 'theo' held out, small CNN on log-mels, "
                                                          "1 epoch, 1 seed")
    rows = [dict(method="none", test_acc_mean=0.97, test_acc_std=0.0, accs="0.9700"),
            dict(method="spec (F=4, T=5, m=1)", test_acc_mean=0.94, test_acc_std=0.0, accs="0.9400")]
    seen = []
    real_savefig = plt.Figure.savefig

    def keep(fig, path, **kwargs):
        seen.append(fig)
        return real_savefig(fig, path, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(plt.Figure, "savefig", keep)
        script.plot_rows(rows, tmp_path / "one.png", "t")
        script.plot_rows([dict(r, accs="0.9 0.95", test_acc_std=0.02) for r in rows], tmp_path / "two.png", "t")
    (one,), (two,) = seen[0].axes, seen[1].axes

    def error_bars(ax):
        return [c for c in ax.containers if isinstance(c, matplotlib.container.ErrorbarContainer)]

    assert one.get_ylim()[0] == 0 and error_bars(one) == []  # one run: no error bar
    assert len(error_bars(two)) == 1  # two seeds: mean ± std
    assert [t.get_text() for t in one.get_xticklabels()] == ["none", "spec\n(F=4, T=5, m=1)"]
    assert (tmp_path / "one.png").stat().st_size > 5_000
