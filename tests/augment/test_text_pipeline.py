"""tf.data text pipelines: on-the-fly augmentation rate and shapes, offline expansion round trip."""
import numpy as np
import pytest

from augment.text_pipeline import (expand_offline, load_expanded, on_the_fly_dataset, plain_dataset,
                                   read_labeled_sentences)

TEXTS = [f"sentence number {i}" for i in range(200)]
LABELS = np.arange(200) % 2


class Upper:
    """Deterministic stand-in augmenter: two variants per sentence, both upper case."""
    n_aug = 2

    def __call__(self, s):
        return [s.upper(), s.upper() + " !"]


def _collect(ds):
    xs, ys = [], []
    for x, y in ds:
        assert x.dtype.name == "string" and y.dtype.name == "int64" and x.shape[0] == y.shape[0]
        xs += [s.decode() for s in x.numpy()]
        ys += list(y.numpy())
    return xs, ys


@pytest.mark.parametrize("p", [0.0, 0.5, 1.0])
def test_on_the_fly_replaces_a_fraction_p(p):
    ds = on_the_fly_dataset(TEXTS, LABELS, Upper(), p=p, batch_size=32, shuffle=False, seed=1)
    xs, ys = _collect(ds)
    assert len(xs) == 200 and ys == list(LABELS)
    changed = np.mean([x != t for x, t in zip(xs, TEXTS)])
    # binomial std at p=0.5 with 200 draws: 0.035; about 4 sigma
    assert abs(changed - p) <= 0.15
    assert all(x in (t, t.upper(), t.upper() + " !") for x, t in zip(xs, TEXTS))


def test_on_the_fly_default_rate_and_reproducible():
    a = _collect(on_the_fly_dataset(TEXTS, LABELS, Upper(), batch_size=50, shuffle=False, seed=3))[0]
    b = _collect(on_the_fly_dataset(TEXTS, LABELS, Upper(), batch_size=50, shuffle=False, seed=3))[0]
    assert a == b
    # default p = n_aug / (n_aug + 1) = 2/3; binomial std 0.033; 4 sigma
    assert abs(np.mean([x != t for x, t in zip(a, TEXTS)]) - 2 / 3) < 0.14
    with pytest.raises(ValueError, match=r"p must be a finite number in \[0, 1\], got 1.5"):
        on_the_fly_dataset(TEXTS, LABELS, Upper(), p=1.5)
    with pytest.raises(ValueError, match=r"batch_size must be an integer in \[1, inf\), got 0"):
        on_the_fly_dataset(TEXTS, LABELS, Upper(), batch_size=0)


def test_offline_expansion_round_trip(tmp_path):
    path = tmp_path / "expanded.tsv"
    n = expand_offline(TEXTS[:10], LABELS[:10], Upper(), path)
    assert n == 30
    xs, ys = _collect(load_expanded(path, batch_size=7, shuffle=False))
    assert len(xs) == 30
    assert xs[:3] == [TEXTS[0], TEXTS[0].upper(), TEXTS[0].upper() + " !"] and ys[:3] == [0, 0, 0]
    assert sorted(ys) == sorted(sum(([int(y)] * 3 for y in LABELS[:10]), []))
    shuffled, _ = _collect(load_expanded(path, batch_size=7, shuffle=True))
    assert sorted(shuffled) == sorted(xs)


def test_plain_and_real_sst2(data_root):
    texts, labels = read_labeled_sentences(data_root / "text" / "stsa.binary.train")
    assert len(texts) == 6920 and set(labels.tolist()) == {0, 1}
    texts500, labels500 = read_labeled_sentences(data_root / "text" / "sst2_train_500.txt")
    assert len(texts500) == 500
    x, y = next(iter(plain_dataset(texts[:64], labels[:64], batch_size=64)))
    assert x.shape == (64,) and y.shape == (64,)


class Empty:
    """An augmenter whose only output is the empty string."""

    def __call__(self, s):
        return [""]


def test_on_the_fly_never_replaces_a_sentence_by_an_empty_one():
    xs, _ = _collect(on_the_fly_dataset(TEXTS[:20], LABELS[:20], Empty(), p=1.0, batch_size=8, shuffle=False))
    assert xs == TEXTS[:20]


UNICODE = ["un café très naïve", "日本語の文", "plain ascii", "smart “quotes” — dash"]


class Same:
    def __call__(self, s):
        return [s]


def test_reader_reads_what_expand_offline_writes(tmp_path):
    """expand_offline writes UTF-8; the reader's fixed latin-1 read it back as 'cafÃ©'."""
    path = tmp_path / "expanded.tsv"
    expand_offline(UNICODE, [0, 1, 0, 1], Same(), path, include_original=False)
    texts, labels = read_labeled_sentences(path)
    assert texts == UNICODE and labels.tolist() == [0, 1, 0, 1]
    xs, _ = _collect(load_expanded(path, batch_size=4, shuffle=False))
    assert xs == UNICODE


def test_reader_detects_latin1_and_takes_an_encoding(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("1 un café\n0 naïve\x85 end\n".encode("latin-1"))
    texts, labels = read_labeled_sentences(path)
    assert texts == ["un café", "naïve\x85 end"] and labels.tolist() == [1, 0]
    assert read_labeled_sentences(path, encoding="latin-1")[0] == texts
    with pytest.raises(UnicodeDecodeError):
        read_labeled_sentences(path, encoding="utf-8")
    utf8 = tmp_path / "utf8.txt"
    utf8.write_bytes("1 un café\n".encode("utf-8"))
    assert read_labeled_sentences(utf8)[0] == ["un café"]
    assert read_labeled_sentences(utf8, encoding="latin-1")[0] == ["un cafÃ©"]  # forced, as asked


@pytest.mark.parametrize("name,encoding", [("rt-polarity.all", "latin-1"), ("subj.all", "latin-1"),
                                           ("TREC.train.all", "latin-1"), ("stsa.binary.train", "utf-8")])
def test_reader_on_the_shared_sets(data_root, name, encoding):
    """MR, SUBJ and TREC are Latin-1 and still read as before; SST-2 is UTF-8 (it read as 'Ã©' before)."""
    path = data_root / "text" / name
    texts, labels = read_labeled_sentences(path)
    assert texts == read_labeled_sentences(path, encoding=encoding)[0]
    assert any(any(ord(c) > 127 for c in t) for t in texts)  # the non-ASCII lines are there
    if encoding == "utf-8":
        assert not any("Ã" in t for t in texts) and any("é" in t for t in texts)
