"""EDA (Wei and Zou 2019): operation counts follow alpha * l, synonyms come from WordNet, stop words are
untouched, seeded determinism. WordNet is read from $RECIPES_DATA/nltk_data (skip when unset)."""
import math
import os
import pathlib

import pytest

from augment.eda import EDA, STOP_WORDS, clean_sentence, load_wordnet, paper_parameters

# Distinct words, several stop words, every non-stop word has WordNet synonyms.
SENTENCE = ("the quick brown fox jumps over a lazy dog while the old farmer watches his green field "
            "and a small bird sings near the river bank")


@pytest.fixture(scope="module")
def nltk_dir():
    root = os.environ.get("RECIPES_DATA")
    if not root or not (pathlib.Path(root) / "nltk_data").is_dir():
        pytest.skip("RECIPES_DATA is unset or has no nltk_data/: WordNet is needed")
    return str(pathlib.Path(root) / "nltk_data")


@pytest.fixture(scope="module")
def wordnet(nltk_dir):
    return load_wordnet(nltk_dir)


def wordnet_lemmas(wordnet, word):
    """Independent reference: every lemma of every synset of ``word``, cleaned as the paper does."""
    out = set()
    for synset in wordnet.synsets(word):
        for lemma in synset.lemmas():
            out.add(clean_sentence(lemma.name().replace("_", " ")))
    return out - {word}


def test_paper_parameters_follow_table_3():
    assert paper_parameters(500) == dict(alpha_sr=0.05, alpha_ri=0.05, alpha_rs=0.05, alpha_rd=0.05, n_aug=16)
    assert paper_parameters(2000)["n_aug"] == 8 and paper_parameters(2000)["alpha_sr"] == 0.05
    assert paper_parameters(6920) == dict(alpha_sr=0.1, alpha_ri=0.1, alpha_rs=0.1, alpha_rd=0.1, n_aug=4)


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(alpha_sr=1.5), ValueError, r"alpha_sr must be a finite number in \[0, 1\], got 1.5"),
    (dict(alpha_rd=1.0), ValueError, r"alpha_rd must be a finite number in \[0, 1\), got 1.0"),
    (dict(alpha_ri=-0.1), ValueError, r"alpha_ri must be a finite number in \[0, 1\], got -0.1"),
    (dict(n_aug=0), ValueError, r"n_aug must be an integer in \[1, inf\), got 0"),
    (dict(n_aug=2.5), TypeError, r"n_aug must be an integer in \[1, inf\), got 2.5"),
    (dict(seed="a"), TypeError, r"seed must be an integer in \[0, 2147483647\], got 'a'"),
    (dict(alpha_sr=0, alpha_ri=0, alpha_rs=0, alpha_rd=0), ValueError, "must not all be 0"),
])
def test_bad_arguments_raise(kwargs, error, match):
    with pytest.raises(error, match=match):
        EDA(**kwargs)


def test_bad_operation_and_training_set_size_are_named():
    with pytest.raises(ValueError, match="operation must be one of sr, ri, rs, rd, got 'xx'"):
        EDA(seed=0).apply("xx", ["a", "b"])
    with pytest.raises(ValueError, match=r"n_train must be an integer in \[1, inf\), got 0"):
        paper_parameters(0)


def test_clean_sentence_as_in_the_paper():
    assert clean_sentence("It's a re-imagining, of 1930s\tHorror!") == "its a re imagining of s horror"


def test_stop_words_are_the_papers_list():
    assert len(STOP_WORDS) == 128  # 127 words of the authors' list + ""
    assert {"the", "a", "not", "very", "don"} <= STOP_WORDS and "movie" not in STOP_WORDS


@pytest.mark.parametrize("alpha", [0.05, 0.1, 0.3, 0.5])
def test_synonym_replacement_count_wordnet_and_stop_words(wordnet, nltk_dir, alpha):
    words = SENTENCE.split()
    eda = EDA(alpha_sr=alpha, seed=1, nltk_data=nltk_dir)
    n = max(1, int(alpha * len(words)))
    for _ in range(20):
        new = eda.apply("sr", words)
        assert len(new) == len(words)  # multi-word synonyms stay in one slot
        changed = [i for i, (a, b) in enumerate(zip(words, new)) if a != b]
        # every non-stop word here is distinct and has synonyms, so exactly n are replaced
        assert len(changed) == n
        for i in changed:
            assert words[i] not in STOP_WORDS
            assert new[i] in wordnet_lemmas(wordnet, words[i])


@pytest.mark.parametrize("alpha", [0.1, 0.3])
def test_random_insertion_count_and_source(wordnet, nltk_dir, alpha):
    words = SENTENCE.split()
    eda = EDA(alpha_ri=alpha, seed=2, nltk_data=nltk_dir)
    n = max(1, int(alpha * len(words)))
    allowed = set().union(*(wordnet_lemmas(wordnet, w) for w in words if w not in STOP_WORDS))
    for _ in range(20):
        new = eda.apply("ri", words)
        assert len(new) == len(words) + n
        # the original words keep their order: remove the inserted ones and get the sentence back
        it = iter(new)
        assert all(any(w == x for x in it) for w in words)
        inserted = list(new)
        for w in words:
            inserted.remove(w)
        assert len(inserted) == n and all(s in allowed for s in inserted)


@pytest.mark.parametrize("alpha", [0.1, 0.2, 0.3])
def test_random_swap_is_a_product_of_n_transpositions(nltk_dir, alpha):
    words = [f"w{i}" for i in range(24)]
    eda = EDA(alpha_rs=alpha, seed=3, nltk_data=nltk_dir)
    n = max(1, int(alpha * len(words)))
    for _ in range(50):
        new = eda.apply("rs", words)
        assert sorted(new) == sorted(words)
        perm = [words.index(w) for w in new]
        # sign of a product of n transpositions of distinct positions is (-1)^n
        seen, cycles = set(), 0
        for i in range(len(perm)):
            if i not in seen:
                cycles += 1
                j = i
                while j not in seen:
                    seen.add(j)
                    j = perm[j]
        sign = (-1) ** (len(perm) - cycles)
        assert sign == (-1) ** n
        assert sum(a != b for a, b in zip(words, new)) <= 2 * n


def test_random_deletion_rate_matches_p(nltk_dir):
    p, length, trials = 0.1, 20, 2000
    eda = EDA(alpha_rd=p, seed=4, nltk_data=nltk_dir)
    words = [f"w{i}" for i in range(length)]
    deleted = 0
    for _ in range(trials):
        new = eda.apply("rd", words)
        assert new and all(w in words for w in new)
        deleted += length - len(new)
    rate = deleted / (length * trials)
    # binomial std of the rate: sqrt(p(1-p)/40000) = 0.0015; 4 sigma
    assert abs(rate - p) < 4 * math.sqrt(p * (1 - p) / (length * trials))
    assert eda.apply("rd", ["single"]) == ["single"]


def test_augment_counts_determinism_and_stop_words(nltk_dir):
    a = EDA(n_aug=9, seed=7, nltk_data=nltk_dir)
    b = EDA(n_aug=9, seed=7, nltk_data=nltk_dir)
    c = EDA(n_aug=9, seed=8, nltk_data=nltk_dir)
    out_a, out_b, out_c = a.augment(SENTENCE), b.augment(SENTENCE), c.augment(SENTENCE)
    assert len(out_a) == 9 and out_a == out_b and out_a != out_c
    assert len(set(out_a)) > 5  # nine draws from four operations are mostly distinct
    # SR alone never touches a stop word
    sr = EDA(alpha_sr=0.5, alpha_ri=0, alpha_rs=0, alpha_rd=0, n_aug=8, seed=0, nltk_data=nltk_dir)
    words = SENTENCE.split()
    for _ in range(10):
        new = sr.apply("sr", words)
        assert all(new[i] == w for i, w in enumerate(words) if w in STOP_WORDS)


def test_augment_corpus_expands_with_labels(nltk_dir):
    eda = EDA(n_aug=4, seed=0, nltk_data=nltk_dir)
    s, y = eda.augment_corpus(["a good film .", "a bad movie ."], [1, 0])
    assert len(s) == 10 and y == [1] * 5 + [0] * 5
    assert s[0] == "a good film" and s[5] == "a bad movie"


@pytest.mark.parametrize("sentence", ["我喜欢这部电影", "123 456", "!!! ...", "   "])
def test_sentence_without_words_comes_back_unchanged(sentence):
    """Chinese or digits-only sentences became "" (the cleaning keeps a-z only) and were trained on as ""."""
    eda = EDA(n_aug=4, seed=0)  # no WordNet lookup: no word to look up
    assert eda.augment(sentence) == [sentence] * 4
    texts, labels = eda.augment_corpus([sentence, "123"], labels=[1, 0])
    assert texts == [sentence] * 5 + ["123"] * 5 and labels == [1] * 5 + [0] * 5


def test_on_the_fly_eda_never_trains_on_empty_sentences():
    from augment.text_pipeline import on_the_fly_dataset

    texts = ["我喜欢这部电影", "2024 09 01", "??", "数字 42"]
    ds = on_the_fly_dataset(texts, [0, 1, 0, 1], EDA(n_aug=4, seed=0), p=1.0, batch_size=4, shuffle=False)
    x, _ = next(iter(ds))
    assert [s.decode("utf-8") for s in x.numpy()] == texts
