"""The text benchmark runs on a few real sentences and returns positive rates; rows fit bench_augment.py."""
import importlib.util
import math
import pathlib

import pytest

spec = importlib.util.spec_from_file_location(
    "bench_augment_text_speech", pathlib.Path(__file__).resolve().parents[2] / "scripts" / "bench_augment_text_speech.py")
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


def test_bench_eda_rows(data_root):
    from augment.text_pipeline import read_labeled_sentences

    sentences, _ = read_labeled_sentences(data_root / "text" / "stsa.binary.dev")
    rows = bench.bench_eda(sentences[:8], repeats=1, nltk_data=data_root / "nltk_data")
    assert len(rows) == 7
    for name, ours, ref, note in rows:
        assert ours > 0 and (math.isnan(ref) or ref > 0), name


def test_load_fsdd_clips(data_root):
    # bench_speech itself is not run here: audiomentations' Resample spends ~5 s on librosa's first call
    clips = bench.load_fsdd_clips(data_root / "fsdd" / "recordings", 6)
    assert len(clips) == 6 and all(c.dtype.name == "float32" and c.ndim == 1 for c in clips)


def test_section_rows_match_bench_augment_format():
    rows = bench._as_section_rows("text", [("RS", 100.0, 20.0, "x"), ("RI", 50.0, float("nan"), "none")], 10,
                                  "EDA", "nlpaug")
    assert [r["route"] for r in rows] == ["EDA: RS", "nlpaug: RS", "EDA: RI"]
    assert rows[0]["ratio"] == 5.0 and rows[0]["seconds"] == 0.1 and rows[1]["ratio"] == 1.0
    assert set(rows[0]) == {"section", "route", "items", "seconds", "items_per_s", "ratio", "reference"}
