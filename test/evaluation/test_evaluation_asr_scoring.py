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


def test_missing_hypothesis_is_refused_unless_allowed_and_unknown_id_is_an_error(tmp_path, caplog):
    ref = _write(tmp_path / "ref", {f"u{i}": "hello world" for i in range(8)})
    hyp = _write(tmp_path / "hyp", {"u0": "hello world"})
    with pytest.raises(ValueError, match=r"hyp: 7 of 8 utterance\(s\) of .*ref have no hypothesis: "
                                         r"u1, u2, u3, u4, u5, \.\.\..*allow_missing"):
        score_by_language(ref, hyp)
    res = score_by_language(ref, hyp, allow_missing=True)
    assert res["all"]["del"] == 14
    assert "7 of 8 utterance(s) have no hypothesis" in caplog.text
    with pytest.raises(ValueError, match="not in"):
        score_by_language(ref, _write(tmp_path / "hyp2", {"zz": "x"}), allow_missing=True)


def test_hypothesis_file_that_is_not_utf8_names_file_and_line(tmp_path):
    ref = _write(tmp_path / "ref", {"a": "hello", "b": "world"})
    (tmp_path / "hyp").write_bytes(b"a hello\nb caf\xe9\n")
    with pytest.raises(ValueError, match=r"hyp:2: not UTF-8"):
        score_by_language(ref, tmp_path / "hyp")
