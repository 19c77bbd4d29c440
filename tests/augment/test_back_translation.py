"""Back-translation (Apertium round trip stays English and changes the sentence) and sentence shuffling."""
import collections
import importlib.util
import re

import pytest

from augment.back_translation import (ApertiumTranslator, BackTranslator, MarianTranslator, Translator,
                                      TranslatorUnavailable, shuffle_sentences, split_sentences)

needs_apertium = pytest.mark.skipif(not ApertiumTranslator.available(),
                                    reason="apertium not installed (apt-get install apertium apertium-eng-spa)")

# Frequent Spanish function words that are not English words.
SPANISH = {"el", "la", "los", "las", "de", "del", "que", "y", "una", "es", "con", "por", "para", "muy", "pero"}
ENGLISH = {"the", "a", "of", "and", "is", "was", "with", "to", "it", "film", "movie", "plot", "very", "but"}


@needs_apertium
def test_apertium_round_trip_changes_sentence_and_stays_english():
    sentences = ["the movie was surprisingly good , with a clever plot and fine acting .",
                 "it is a very slow film , but the actors are wonderful and the music is lovely .",
                 "a quirky comedy about frobnicating hipsters"]
    bt = BackTranslator(ApertiumTranslator(), source="en", pivot="es")
    pivot = bt.translator.translate(sentences, "en", "es")
    back = bt(sentences)
    assert len(back) == len(sentences)
    # the pivot really is Spanish ...
    pivot_words = re.findall(r"\w+", " ".join(pivot).lower())
    assert sum(w in SPANISH for w in pivot_words) / len(pivot_words) > 0.2
    # ... and the round trip is English again: Spanish function words are gone, English ones are back
    back_words = re.findall(r"\w+", " ".join(back).lower())
    assert sum(w in SPANISH for w in back_words) == 0
    assert sum(w in ENGLISH for w in back_words) / len(back_words) > 0.2
    assert sum(b.lower() != s for b, s in zip(back, sentences)) >= 2  # paraphrases, not copies
    # unknown words come back without Apertium's * / # / @ marks
    assert not re.search(r"[*#@]", " ".join(pivot + back))
    assert "frobnicating" in back[2]


@needs_apertium
def test_apertium_batch_keeps_alignment_and_augment_corpus_labels():
    tr = ApertiumTranslator()
    texts = [f"the house number {i} is red ." for i in range(30)]
    out = tr.translate(texts, "en", "es")
    assert len(out) == 30 and all(str(i) in o for i, o in enumerate(out))
    s, y = BackTranslator(tr).augment_corpus(["the film was good .", "a b c"], [1, 0])
    assert s[:2] == ["the film was good .", "a b c"] and y[:2] == [1, 0] and set(y[2:]) <= {0, 1}


def test_back_translator_composes_two_translations():
    class Tagger(Translator):  # records the language path
        def translate(self, texts, source, target):
            return [f"{t}|{source}>{target}" for t in texts]

    assert BackTranslator(Tagger(), "en", "de")("x") == "x|en>de|de>en"
    with pytest.raises(ValueError, match="pivot must differ from source \\('en'\\), got 'en'"):
        BackTranslator(Tagger(), "en", "en")
    with pytest.raises(TypeError, match="translator must be a Translator"):
        BackTranslator(translator=lambda t: t)


def test_apertium_arguments_are_named():
    with pytest.raises(ValueError, match=r"timeout must be a finite number in \(0, inf\), got 0"):
        ApertiumTranslator(timeout=0)  # checked before looking for the program
    translator = ApertiumTranslator.__new__(ApertiumTranslator)  # the pair names need no program
    assert translator.pair("en", "es") == "eng-spa"
    with pytest.raises(ValueError, match="target must be one of en, es, .*, got 'xx'"):
        translator.pair("en", "xx")


@pytest.mark.skipif(importlib.util.find_spec("torch") is not None
                    and importlib.util.find_spec("transformers") is not None,
                    reason="torch and transformers are installed: the missing-library error cannot occur")
def test_marian_raises_clear_error_without_its_libraries():
    with pytest.raises(TranslatorUnavailable, match="torch and transformers"):
        MarianTranslator()


def test_shuffle_sentences_is_a_uniform_seeded_permutation():
    text = "One is here. Two is there! Is three? Four."
    assert sorted(split_sentences(shuffle_sentences(text, seed=0))) == sorted(split_sentences(text))
    assert shuffle_sentences(text, seed=5) == shuffle_sentences(text, seed=5)
    counts = collections.Counter(shuffle_sentences("A. B. C.", seed=s) for s in range(3000))
    assert len(counts) == 6
    # each of the 3! orders has probability 1/6: expected 500, binomial std 20.4; 5 sigma
    assert all(abs(c - 500) < 5 * 20.4 for c in counts.values())
    with pytest.raises(TypeError):
        shuffle_sentences(["not", "a", "str"])
