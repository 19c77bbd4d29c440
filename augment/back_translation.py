"""Back-translation and sentence shuffling (lecture: "Data Augmentation - NLP").

Back-translation re-translates a text through a pivot language: ``x' = T_{p->s}(T_{s->p}(x))``. The
paraphrase ``x'`` keeps the label of ``x``. Engines sit behind the small :class:`Translator`
interface (``translate(texts, source, target) -> texts``):

* :class:`ApertiumTranslator` - Apertium, a rule-based translator that runs offline
  (Debian: ``apt-get install apertium apertium-eng-spa`` gives English <-> Spanish). Words it does
  not know come back marked with ``*`` (``#``/``@`` mark generation/transfer gaps); the marks are
  stripped.
* :class:`MarianTranslator` - MarianMT (Helsinki-NLP ``opus-mt-*``) through nlpaug's
  ``BackTranslationAug`` (torch + transformers, weights from the Hugging Face hub). Optional: when the
  libraries or the weights cannot be had it raises :class:`TranslatorUnavailable` saying why.

:func:`shuffle_sentences` is the lecture's "shuffle sentences transform".
"""
from __future__ import annotations

import abc
import random
import re
import shutil
import subprocess

from augment.checks import check_choice, check_number, check_positive_int

__all__ = [
    "TranslatorUnavailable",
    "Translator",
    "ApertiumTranslator",
    "MarianTranslator",
    "BackTranslator",
    "shuffle_sentences",
    "split_sentences",
]


class TranslatorUnavailable(RuntimeError):
    """A translation engine (program, library or model weights) cannot be used here."""


class Translator(abc.ABC):
    """Translate a list of texts from language ``source`` to ``target`` (ISO 639-1 codes)."""

    @abc.abstractmethod
    def translate(self, texts: list[str], source: str, target: str) -> list[str]:
        ...

    def __call__(self, texts, source, target):
        single = isinstance(texts, str)
        out = self.translate([texts] if single else list(texts), source, target)
        return out[0] if single else out


_APERTIUM_CODES = {"en": "eng", "es": "spa", "ca": "cat", "fr": "fra", "pt": "por", "it": "ita",
                   "eo": "epo", "gl": "glg", "oc": "oci", "ro": "ron"}
_APERTIUM_MARKS = re.compile(r"(?<!\w)[*#@]+(?=\w)")


class ApertiumTranslator(Translator):
    """Apertium through its command line: ``apertium <src>-<tgt>`` reads text on stdin.

    One process translates a whole batch, one text per line (newlines in a text become spaces).
    Args:
        executable: the ``apertium`` program (found on PATH by default).
        timeout: seconds allowed per batch.
    Raises:
        TranslatorUnavailable: at construction when the program is absent, at translation when the
            language pair is not installed.
    """

    def __init__(self, executable: str = "apertium", timeout: float = 120.0):
        timeout = check_number("timeout", timeout, 0.0, low_open=True)
        path = shutil.which(executable)
        if path is None:
            raise TranslatorUnavailable(
                f"Apertium program {executable!r} not found on PATH; install it with "
                "`apt-get install apertium apertium-eng-spa` (Debian/Ubuntu)")
        self.executable = path
        self.timeout = timeout

    @staticmethod
    def available() -> bool:
        return shutil.which("apertium") is not None

    def pair(self, source: str, target: str) -> str:
        languages = tuple(_APERTIUM_CODES)
        return f"{_APERTIUM_CODES[check_choice('source', source, languages)]}-" \
               f"{_APERTIUM_CODES[check_choice('target', target, languages)]}"

    def translate(self, texts, source, target):
        texts = [" ".join(str(t).split()) for t in texts]
        if not texts:
            return []
        proc = subprocess.run([self.executable, self.pair(source, target)], input="\n".join(texts) + "\n",
                              capture_output=True, text=True, timeout=self.timeout)
        if proc.returncode != 0:
            raise TranslatorUnavailable(
                f"apertium {self.pair(source, target)} failed (is the pair installed? e.g. "
                f"`apt-get install apertium-eng-spa`): {proc.stderr.strip()[:300]}")
        lines = proc.stdout.rstrip("\n").split("\n")
        if len(lines) != len(texts):  # should not happen; keep the alignment at any cost
            return [self.translate([t], source, target)[0] for t in texts] if len(texts) > 1 else [proc.stdout]
        return [" ".join(_APERTIUM_MARKS.sub("", line).split()) for line in lines]


class MarianTranslator(Translator):
    """MarianMT (``Helsinki-NLP/opus-mt-{source}-{target}``) through nlpaug / transformers.

    Optional engine: needs ``torch`` and ``transformers`` and the weights (hub or a local folder
    given by ``model_names={(src, tgt): path}``). Raises :class:`TranslatorUnavailable` with the cause
    when either is missing. Models load lazily and are cached per language pair.
    """

    def __init__(self, model_names: dict | None = None, device: str = "cpu", batch_size: int = 32,
                 max_length: int = 300):
        batch_size = check_positive_int("batch_size", batch_size)
        max_length = check_positive_int("max_length", max_length)
        self.model_names = dict(model_names or {})
        self.device, self.batch_size, self.max_length = device, batch_size, max_length
        self._models = {}
        try:
            import torch  # noqa: F401
            import transformers  # noqa: F401
        except ImportError as err:
            raise TranslatorUnavailable(
                f"MarianMT needs torch and transformers ({err}); `pip install torch transformers` "
                "and make the Helsinki-NLP/opus-mt weights reachable (hub or local folder)") from err

    def _model(self, source, target):
        key = (source, target)
        if key not in self._models:
            from nlpaug.model.lang_models import MtTransformers

            name = self.model_names.get(key, f"Helsinki-NLP/opus-mt-{source}-{target}")
            try:
                # MtTransformers holds a forward and a backward model; we use only the forward one.
                self._models[key] = MtTransformers(src_model_name=name, tgt_model_name=name, device=self.device,
                                                   batch_size=self.batch_size, max_length=self.max_length)
            except Exception as err:  # OSError / HTTP errors when the hub is unreachable
                raise TranslatorUnavailable(
                    f"MarianMT weights {name!r} could not be loaded ({type(err).__name__}: {err}); "
                    "they come from the Hugging Face hub, or pass model_names={(src, tgt): local_dir}") from err
        return self._models[key]

    def translate(self, texts, source, target):
        model = self._model(source, target)
        return list(model.translate_one_step_batched(list(texts), model.src_tokenizer, model.src_model))


class BackTranslator:
    """Back-translation ``x -> T_{pivot->source}(T_{source->pivot}(x))`` with any :class:`Translator`.

    Args:
        translator: the engine (default: :class:`ApertiumTranslator`).
        source, pivot: language codes (default English through Spanish).
        drop_unchanged: in :meth:`augment_corpus`, drop paraphrases equal to their original.
    """

    def __init__(self, translator: Translator | None = None, source: str = "en", pivot: str = "es",
                 drop_unchanged: bool = True):
        if source == pivot:
            raise ValueError(f"pivot must differ from source ({source!r}), got {pivot!r}")
        self.translator = translator if translator is not None else ApertiumTranslator()
        if not isinstance(self.translator, Translator):
            raise TypeError(f"translator must be a Translator, got {type(self.translator).__name__}")
        self.source, self.pivot, self.drop_unchanged = source, pivot, drop_unchanged

    def __call__(self, texts):
        single = isinstance(texts, str)
        texts = [texts] if single else list(texts)
        pivot = self.translator.translate(texts, self.source, self.pivot)
        back = self.translator.translate(pivot, self.pivot, self.source)
        return back[0] if single else back

    def augment_corpus(self, sentences, labels):
        """Originals plus their back-translations (same labels)."""
        sentences, labels = list(sentences), list(labels)
        back = self(sentences)
        out_s, out_y = list(sentences), list(labels)
        for s, b, y in zip(sentences, back, labels):
            if not (self.drop_unchanged and _norm(b) == _norm(s)):
                out_s.append(b)
                out_y.append(y)
        return out_s, out_y


def _norm(text):
    return " ".join(re.findall(r"\w+", text.lower()))


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def split_sentences(text: str) -> list[str]:
    """Split on whitespace that follows ``.``, ``!`` or ``?``."""
    return [s for s in _SENTENCE_END.split(text.strip()) if s]


def shuffle_sentences(text: str, seed=None) -> str:
    """Shuffle the order of the sentences of a multi-sentence text (a uniform random permutation,
    drawn from ``random.Random(seed)`` when ``seed`` is an int, or from ``seed`` itself when it is a
    ``random.Random``)."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    rng = seed if isinstance(seed, random.Random) else random.Random(seed)
    parts = split_sentences(text)
    rng.shuffle(parts)
    return " ".join(parts)
