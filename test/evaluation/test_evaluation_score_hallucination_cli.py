"""End-to-end runs of ``python -m espnet_llm_entropy.bin.score_hallucination``."""

import json
import logging
import subprocess
import sys

import numpy as np
import pytest
import soundfile

from espnet_llm_entropy.bin.score_hallucination import main

REF = """\
utt1 今天天气很好
utt2 turn left at the light
utt3 我喜欢 deep learning
utt4 hello there
"""
HYP = """\
utt1 今天天气很好
utt2 thanks for watching please subscribe to my channel and like the video
utt3 我喜欢 deep learning 哈哈哈哈哈哈哈哈哈哈
"""


@pytest.fixture
def files(tmp_path):
    decode = tmp_path / "exp" / "decode_asr" / "test"
    decode.mkdir(parents=True)
    (tmp_path / "ref").write_text(REF, encoding="utf-8")
    (decode / "text").write_text(HYP, encoding="utf-8")
    return tmp_path, tmp_path / "ref", decode / "text"


def test_speech_set_end_to_end(files, capsys, caplog):
    tmp, ref, hyp = files
    out = tmp / "out"
    with caplog.at_level(logging.WARNING):
        assert main(["--ref", str(ref), "--hyp", str(hyp), "--out_dir", str(out), "--allow_missing"]) == 0
    assert "utt4" in caplog.text and "empty" in caplog.text
    result = json.loads((out / "hallucination.json").read_text(encoding="utf-8"))
    assert result["dataset"] == "decode_asr/test"
    assert result["missing_hyps"] == 1
    speech = result["speech"]
    assert speech["hallucination"]["ids"] == ["utt2"]
    assert speech["repetition_loop"]["ids"] == ["utt3"]
    assert speech["empty_output"]["count"] == 1
    assert "nonspeech" not in result
    table = (out / "hallucination.md").read_text(encoding="utf-8")
    assert table in capsys.readouterr().out
    header = [ln for ln in table.splitlines() if ln.startswith("|dataset")][0]
    row = [ln for ln in table.splitlines() if ln.startswith("|decode_asr/test")][0]
    cells = dict(zip(header.strip("|").split("|"), row.strip("|").split("|")))
    assert cells["Snt"] == "4" and cells["Halluc.%"] == "25.0" and cells["Loop%"] == "25.0"
    assert cells["Empty%"] == "25.0"
    assert sorted(p.name for p in out.iterdir()) == ["hallucination.json", "hallucination.md"]


def test_nonspeech_set_with_utt2dur_and_no_ref(files):
    tmp, _, _ = files
    hyp = tmp / "ns_text"
    hyp.write_text("n1\nn2 thank you\nn3 谢谢\n", encoding="utf-8")
    utt2dur = tmp / "utt2dur"
    utt2dur.write_text("n1 20\nn2 20\nn3 20\nn4 60\n")
    out = tmp / "ns"
    main(["--nonspeech", "--hyp", str(hyp), "--utt2dur", str(utt2dur), "--out_dir", str(out), "--dataset", "noise",
          "--allow_missing"])
    result = json.loads((out / "hallucination.json").read_text(encoding="utf-8"))
    ns = result["nonspeech"]
    assert ns["n_utts"] == 4 and ns["with_output"]["count"] == 2
    assert ns["units_per_minute"] == pytest.approx(4 / 2.0)  # 4 units in 120 s
    table = (out / "hallucination.md").read_text(encoding="utf-8")
    assert "|dataset|Snt|Minutes|Output%|Units/min|Loop%|" in table
    assert "|noise|4|2.00|50.0|2.0|0.0|" in table


def test_nonspeech_with_wav_scp(files):
    tmp, _, _ = files
    for name, seconds in [("s1", 1.0), ("s2", 2.0)]:
        soundfile.write(tmp / f"{name}.wav", np.zeros(int(16000 * seconds)), 16000)
    scp = tmp / "wav.scp"
    scp.write_text(f"s1 {tmp / 's1.wav'}\ns2 {tmp / 's2.wav'}\n")
    hyp = tmp / "hyp"
    hyp.write_text("s1 a b c\ns2\n")
    main(["--nonspeech", "--hyp", str(hyp), "--wav_scp", str(scp), "--out_dir", str(tmp / "o")])
    ns = json.loads((tmp / "o" / "hallucination.json").read_text())["nonspeech"]
    assert ns["total_duration_s"] == pytest.approx(3.0)
    assert ns["units_per_minute"] == pytest.approx(3 / (3.0 / 60))


def test_hyp_ids_missing_from_ref_are_an_error(files):
    tmp, ref, hyp = files
    hyp.write_text(HYP + "ghost some words\n", encoding="utf-8")
    with pytest.raises(SystemExit, match=rf"{hyp}.*not in {ref}.*ghost"):
        main(["--ref", str(ref), "--hyp", str(hyp), "--out_dir", str(tmp / "o")])
    assert not (tmp / "o").exists()


def test_hypothesis_file_missing_utterances_is_refused(files):
    tmp, ref, hyp = files
    with pytest.raises(SystemExit) as err:
        main(["--ref", str(ref), "--hyp", str(hyp), "--out_dir", str(tmp / "o")])
    message = str(err.value)
    assert f"{hyp}: 1 of 4 utterance(s) of {ref} have no hypothesis: utt4." in message
    assert "--allow_missing" in message
    assert not (tmp / "o").exists()


def test_nonspeech_hypotheses_missing_clips_are_refused(files):
    tmp, _, _ = files
    hyp = tmp / "ns_text"
    hyp.write_text("n1\n", encoding="utf-8")
    (tmp / "utt2dur").write_text("".join(f"n{i} 1\n" for i in range(1, 9)))
    with pytest.raises(SystemExit, match=r"7 of 8 utterance\(s\) of .*utt2dur have no hypothesis: "
                                         r"n2, n3, n4, n5, n6, \.\.\."):
        main(["--nonspeech", "--hyp", str(hyp), "--utt2dur", str(tmp / "utt2dur"), "--out_dir", str(tmp / "o")])


@pytest.mark.parametrize(
    "content, line, reason",
    [
        (b"utt1 a\n\nutt2 b\n", 2, "blank line"),
        (b"utt1 a\n utt2 b\n", 2, "starts with whitespace"),
        (b"utt1 a\nutt2 caf\xe9\n", 2, "not UTF-8"),
    ],
)
@pytest.mark.parametrize("which", ["hyp", "ref"])
def test_bad_lines_name_file_and_line(files, content, line, reason, which):
    tmp, ref, hyp = files
    bad = tmp / f"bad_{which}"
    bad.write_bytes(content)
    args = {"ref": str(ref), "hyp": str(hyp), which: str(bad)}
    with pytest.raises(SystemExit, match=rf"score_hallucination: error: {bad}:{line}: .*{reason}"):
        main(["--ref", args["ref"], "--hyp", args["hyp"], "--out_dir", str(tmp / "o"), "--allow_missing"])


def test_usage_errors(files, capsys):
    tmp, ref, hyp = files
    with pytest.raises(SystemExit) as err:
        main(["--hyp", str(hyp), "--out_dir", str(tmp / "o")])
    assert err.value.code == 2 and "--ref is required" in capsys.readouterr().err
    with pytest.raises(SystemExit) as err:
        main(["--nonspeech", "--hyp", str(hyp), "--out_dir", str(tmp / "o")])
    assert err.value.code == 2 and "--utt2dur or --wav_scp" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="text file .*absent"):
        main(["--ref", str(tmp / "absent"), "--hyp", str(hyp), "--out_dir", str(tmp / "o")])
    utt2dur = tmp / "utt2dur"
    utt2dur.write_text("utt1 1.0\n")
    with pytest.raises(SystemExit, match=r"utt2dur: no duration for 3 utterance"):
        main(["--ref", str(ref), "--hyp", str(hyp), "--utt2dur", str(utt2dur), "--out_dir", str(tmp / "o"),
              "--allow_missing"])


def test_help_runs_as_module():
    proc = subprocess.run(
        [sys.executable, "-m", "espnet_llm_entropy.bin.score_hallucination", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0 and "--nonspeech" in proc.stdout


def test_several_results_make_one_table(files):
    from espnet_llm_entropy.evaluation import markdown_from_results

    tmp, ref, hyp = files
    main(["--ref", str(ref), "--hyp", str(hyp), "--out_dir", str(tmp / "a"), "--dataset", "dev", "--allow_missing"])
    main(["--ref", str(ref), "--hyp", str(ref), "--out_dir", str(tmp / "b"), "--dataset", "oracle"])
    ns_hyp = tmp / "ns"
    ns_hyp.write_text("n1 hi\n")
    (tmp / "dur").write_text("n1 60\n")
    main(
        ["--nonspeech", "--hyp", str(ns_hyp), "--utt2dur", str(tmp / "dur")]
        + ["--out_dir", str(tmp / "c"), "--dataset", "noise"]
    )
    results = [
        json.loads((tmp / d / "hallucination.json").read_text(encoding="utf-8")) for d in "abc"
    ]
    table = markdown_from_results(results)
    lines = table.splitlines()
    assert sum(ln.startswith("|dataset|") for ln in lines) == 2
    assert any(ln.startswith("|dev|4|mixed|25.0|") for ln in lines)
    assert any(ln.startswith("|oracle|4|mixed|0.0|0.0|0.0|1.00|1.00|1.00|0.0|") for ln in lines)
    assert "|noise|1|1.00|100.0|1.0|0.0|" in lines
