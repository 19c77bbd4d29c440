"""EDA: Easy Data Augmentation for text classification (Wei and Zou, 2019).

The lecture's "Data Augmentation - NLP" slide lists the four EDA operations: synonym replacement,
word insertion, word swap and word deletion. For a sentence of ``l`` words (after the paper's
cleaning: lower case, letters and spaces only) EDA makes ``n_aug`` new sentences, each by ONE
operation, a quarter of them by each operation:

* SR (synonym replacement): choose ``n_sr = max(1, floor(alpha_sr * l))`` distinct non-stop words and
  replace each (every occurrence of it) with a synonym drawn uniformly from WordNet;
* RI (random insertion): ``n_ri = max(1, floor(alpha_ri * l))`` times, insert a random synonym of a
  random non-stop word at a random position;
* RS (random swap): ``n_rs = max(1, floor(alpha_rs * l))`` times, swap two random positions;
* RD (random deletion): delete each word independently with probability ``p_rd = alpha_rd``
  (a one-word sentence is kept; if every word is deleted one random word is kept).

Synonyms come from WordNet through NLTK for every part of speech (the original algorithm uses no
tagger). WordNet is read from ``NLTK_DATA`` (or a folder passed to :func:`load_wordnet`); nothing is
downloaded. Synonym sets are cached per word, which is where most of EDA's time would otherwise go.
"""
from __future__ import annotations

import os
import random
import re

from augment.checks import check_choice, check_positive_int, check_probability, check_rate, check_seed

__all__ = [
    "STOP_WORDS",
    "EDA",
    "clean_sentence",
    "load_wordnet",
    "paper_parameters",
]

#: The stop-word list of Wei and Zou's EDA code (127 English function words, plus "").
STOP_WORDS = frozenset(
    """i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she
    her hers herself it its itself they them their theirs themselves what which who whom this that
    these those am is are was were be been being have has had having do does did doing a an the and
    but if or because as until while of at by for with about against between into through during
    before after above below to from up down in out on off over under again further then once here
    there when where why how all any both each few more most other some such no nor not only own same
    so than too very s t can will just don should now""".split()
) | frozenset([""])

_NON_LETTERS = re.compile(r"[^a-z ]")
_SPACES = re.compile(r" +")


def clean_sentence(sentence: str) -> str:
    """The paper's preprocessing: drop apostrophes, hyphens and tabs become spaces, lower case,
    every character other than ``a-z`` and space becomes a space, runs of spaces collapse."""
    if not isinstance(sentence, str):
        raise TypeError(f"sentence must be a str, got {type(sentence).__name__}")
    s = sentence.replace("\u2019", "").replace("'", "").replace("-", " ").replace("\t", " ")
    s = _NON_LETTERS.sub(" ", s.replace("\n", " ").lower())
    return _SPACES.sub(" ", s).strip()


def paper_parameters(n_train: int) -> dict:
    """Table 3 of Wei and Zou (2019): recommended ``alpha`` (used for all four operations) and
    ``n_aug`` as a function of the training-set size ``N_train``."""
    n_train = check_positive_int("n_train", n_train)
    if n_train <= 500:
        alpha, n_aug = 0.05, 16
    elif n_train <= 2000:
        alpha, n_aug = 0.05, 8
    else:
        alpha, n_aug = 0.1, 4
    return dict(alpha_sr=alpha, alpha_ri=alpha, alpha_rs=alpha, alpha_rd=alpha, n_aug=n_aug)


def load_wordnet(nltk_data: str | os.PathLike | None = None):
    """Return NLTK's WordNet corpus reader, read from ``nltk_data`` or ``$NLTK_DATA``.

    Never downloads: when WordNet is missing a ``LookupError`` says where it was looked for and how
    to provide it (``python -m nltk.downloader wordnet`` on a machine with internet).
    """
    import nltk

    for folder in (nltk_data, os.environ.get("NLTK_DATA")):
        if folder:
            for f in str(folder).split(os.pathsep):
                if f and f not in nltk.data.path:
                    nltk.data.path.insert(0, f)
    from nltk.corpus import wordnet

    try:
        wordnet.ensure_loaded()
    except LookupError as err:
        raise LookupError(
            "WordNet not found in NLTK's data path "
            f"{nltk.data.path}; set NLTK_DATA (or pass nltk_data=) to a folder holding "
            "corpora/wordnet.zip, or run `python -m nltk.downloader wordnet` where there is internet"
        ) from err
    return wordnet


class EDA:
    """Easy Data Augmentation (Wei and Zou 2019) with the paper's parameters.

    Args:
        alpha_sr, alpha_ri, alpha_rs: fraction ``alpha`` of the ``l`` words changed by synonym
            replacement, random insertion and random swap (``n = max(1, floor(alpha * l))``), in [0, 1].
        alpha_rd: deletion probability ``p`` of random deletion, in [0, 1).
        n_aug: augmented sentences made per original sentence (>= 1).
        seed: seed of the Python ``random.Random`` that draws every choice (None: unseeded).
        stop_words: words never replaced by SR nor used as RI's source (default: :data:`STOP_WORDS`).
        nltk_data: folder holding ``corpora/wordnet.zip`` (default: ``$NLTK_DATA`` / NLTK's path).
        clean: apply :func:`clean_sentence` first, as the paper does.

    An operation whose ``alpha`` is 0 is not used. ``augment(sentence)`` returns ``n_aug`` new
    sentences; ``augment_corpus`` returns originals plus augmentations with their labels.

    A sentence with no word left after cleaning (Chinese, digits or punctuation only: the paper's cleaning
    keeps ``a-z`` alone) has nothing any operation applies to: ``augment`` returns it unchanged, ``n_aug``
    times, and ``augment_corpus`` keeps it as its own original, never the empty string.
    """

    OPERATIONS = ("sr", "ri", "rs", "rd")

    def __init__(self, alpha_sr=0.1, alpha_ri=0.1, alpha_rs=0.1, alpha_rd=0.1, n_aug=9, seed=None,
                 stop_words=STOP_WORDS, nltk_data=None, clean=True):
        self.alpha = dict(sr=check_probability("alpha_sr", alpha_sr), ri=check_probability("alpha_ri", alpha_ri),
                          rs=check_probability("alpha_rs", alpha_rs), rd=check_rate("alpha_rd", alpha_rd))
        if not any(self.alpha.values()):
            raise ValueError("alpha_sr, alpha_ri, alpha_rs, alpha_rd must not all be 0 (at least one operation), "
                             "got 0, 0, 0, 0")
        self.n_aug = check_positive_int("n_aug", n_aug)
        self.seed = check_seed("seed", seed)
        self.rng = random.Random(seed)
        self.stop_words = frozenset(stop_words)
        self.nltk_data = nltk_data
        self.clean = clean
        self._wordnet = None
        self._synonyms: dict[str, tuple[str, ...]] = {}

    # ----------------------------------------------------------------------------------- WordNet
    @property
    def wordnet(self):
        if self._wordnet is None:
            self._wordnet = load_wordnet(self.nltk_data)
        return self._wordnet

    def synonyms(self, word: str) -> tuple[str, ...]:
        """Sorted WordNet lemmas of every synset of ``word`` (all parts of speech), cleaned like the
        paper (``_``/``-`` to space, letters only), without ``word`` itself. Cached per word."""
        cached = self._synonyms.get(word)
        if cached is not None:
            return cached
        out = set()
        for synset in self.wordnet.synsets(word):
            for lemma in synset.lemma_names():
                s = lemma.replace("_", " ").replace("-", " ").lower()
                s = _SPACES.sub(" ", _NON_LETTERS.sub("", s)).strip()
                if s:
                    out.add(s)
        out.discard(word)
        result = tuple(sorted(out))  # sorted: the draw depends on the seed only, not on set order
        self._synonyms[word] = result
        return result

    def warm_cache(self, sentences) -> int:
        """Look up the synonyms of every non-stop word of ``sentences`` now (e.g. before an on-the-fly
        pipeline starts), so that augmentation later costs no WordNet lookups. Returns the number of
        distinct words cached."""
        vocab = {w for s in sentences for w in self.tokenize(s) if w not in self.stop_words}
        for w in sorted(vocab):
            self.synonyms(w)
        return len(vocab)

    @staticmethod
    def n_changes(alpha: float, n_words: int) -> int:
        """``n = max(1, floor(alpha * l))`` of the paper."""
        return max(1, int(alpha * n_words))

    # -------------------------------------------------------------------------------- operations
    # Each operation takes and returns a list of "slots"; a slot may hold a multi-word synonym, so
    # positions stay countable. ``augment`` joins the slots with spaces.
    def synonym_replacement(self, words: list[str], n: int) -> list[str]:
        """SR: replace ``n`` distinct non-stop words (all their occurrences) by a random synonym;
        fewer when fewer non-stop words have synonyms."""
        candidates = sorted({w for w in words if w not in self.stop_words})
        self.rng.shuffle(candidates)
        new = list(words)
        done = 0
        for word in candidates:
            if done >= n:
                break
            syns = self.synonyms(word)
            if syns:
                choice = syns[self.rng.randrange(len(syns))]
                new = [choice if w == word else w for w in new]
                done += 1
        return new

    def random_insertion(self, words: list[str], n: int) -> list[str]:
        """RI: ``n`` times, insert a random synonym of a random non-stop word at a random position
        (a draw gives up after 10 words without synonyms, as in the authors' code)."""
        new = list(words)
        sources = [w for w in words if w not in self.stop_words]
        if not sources:
            return new
        for _ in range(n):
            for _attempt in range(10):
                syns = self.synonyms(sources[self.rng.randrange(len(sources))])
                if syns:
                    new.insert(self.rng.randrange(len(new) + 1), syns[self.rng.randrange(len(syns))])
                    break
        return new

    def random_swap(self, words: list[str], n: int) -> list[str]:
        """RS: ``n`` times, swap the words at two distinct random positions."""
        new = list(words)
        m = len(new)
        if m < 2:
            return new
        for _ in range(n):
            i = self.rng.randrange(m)
            j = self.rng.randrange(m - 1)
            j += j >= i  # uniform over positions != i
            new[i], new[j] = new[j], new[i]
        return new

    def random_deletion(self, words: list[str], p: float) -> list[str]:
        """RD: keep each word with probability ``1 - p``; never return an empty sentence."""
        if len(words) <= 1:
            return list(words)
        rnd = self.rng.random
        new = [w for w in words if rnd() >= p]
        if not new:
            new = [words[self.rng.randrange(len(words))]]
        return new

    def apply(self, operation: str, words: list[str]) -> list[str]:
        """Apply one operation (``"sr"``, ``"ri"``, ``"rs"`` or ``"rd"``) with its ``alpha``."""
        alpha = self.alpha[check_choice("operation", operation, self.OPERATIONS)]
        if operation == "rd":
            return self.random_deletion(words, alpha)
        n = self.n_changes(alpha, len(words))
        if operation == "sr":
            return self.synonym_replacement(words, n)
        if operation == "ri":
            return self.random_insertion(words, n)
        return self.random_swap(words, n)  # "rs"

    # ------------------------------------------------------------------------------------- EDA
    def tokenize(self, sentence: str) -> list[str]:
        return (clean_sentence(sentence) if self.clean else sentence).split()

    def augment(self, sentence: str) -> list[str]:
        """``n_aug`` augmented sentences: ``ceil``-balanced over the operations with ``alpha > 0``
        (``floor(n_aug / k) + 1`` each, shuffled, first ``n_aug`` kept, as in the paper). A sentence without
        a word after cleaning comes back unchanged (``n_aug`` copies): no operation applies to it."""
        words = self.tokenize(sentence)
        if not words:
            return [sentence] * self.n_aug
        ops = [op for op in self.OPERATIONS if self.alpha[op] > 0]
        per_op = self.n_aug // len(ops) + 1
        out = [" ".join(self.apply(op, words)) for op in ops for _ in range(per_op)]
        self.rng.shuffle(out)
        return out[: self.n_aug]

    def __call__(self, sentence: str) -> list[str]:
        return self.augment(sentence)

    def augment_corpus(self, sentences, labels=None, include_original=True):
        """Expand a corpus: for each sentence, the (cleaned) original followed by its ``n_aug``
        augmentations. Returns ``(sentences, labels)`` (labels repeated; None when not given)."""
        out_s, out_y = [], []
        labels_list = list(labels) if labels is not None else None
        for i, sentence in enumerate(sentences):
            group = self.augment(sentence)
            if include_original:
                group = [" ".join(self.tokenize(sentence)) or sentence] + group
            out_s.extend(group)
            if labels_list is not None:
                out_y.extend([labels_list[i]] * len(group))
        return out_s, (out_y if labels_list is not None else None)

    def get_config(self) -> dict:
        return dict(alpha_sr=self.alpha["sr"], alpha_ri=self.alpha["ri"], alpha_rs=self.alpha["rs"],
                    alpha_rd=self.alpha["rd"], n_aug=self.n_aug, seed=self.seed, clean=self.clean)
