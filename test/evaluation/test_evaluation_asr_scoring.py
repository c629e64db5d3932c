import pytest

from espnet_llm_entropy.evaluation.asr_scoring import results_table, score_by_language


def _write(path, rows):
    path.write_text("".join(f"{k} {v}\n" for k, v in rows.items()), encoding="utf-8")
    return path


def test_scores_each_language_in_its_own_unit(tmp_path):
    ref = _write(tmp_path / "ref", {"a": "你好世界", "b": "hello big world", "c": "打开 the door"})
    hyp = _write(tmp_path / "hyp", {"a": "你好时界", "b": "hello world", "c": "打开 a door"})
    lang = _write(tmp_path / "utt2lang", {"a": "zh", "b": "en", "c": "cs"})
    res = score_by_language(ref, hyp, lang)
    assert res["zh"]["metric"] == "CER" and res["zh"]["sub"] == 1 and res["zh"]["ref_len"] == 4
    assert res["en"]["metric"] == "WER" and res["en"]["del"] == 1 and res["en"]["ref_len"] == 3
    assert res["cs"]["metric"] == "MER" and res["cs"]["sub"] == 1 and res["cs"]["ref_len"] == 4
    assert res["all"]["errors"] == 3 and res["all"]["ref_len"] == 11
    table = results_table(res)
    assert "|zh|CER|1|4|75.0|25.0|0.0|0.0|25.0|100.0|" in table


def test_missing_hypothesis_is_empty_and_unknown_id_is_an_error(tmp_path):
    ref = _write(tmp_path / "ref", {"a": "hello world"})
    res = score_by_language(ref, _write(tmp_path / "hyp", {}))
    assert res["all"]["del"] == 2
    with pytest.raises(ValueError, match="not in"):
        score_by_language(ref, _write(tmp_path / "hyp2", {"zz": "x"}))
