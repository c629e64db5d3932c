import subprocess
import sys

SCRIPT = """
import socket
def no_network(*a, **k):
    raise RuntimeError("network access attempted")
socket.socket.connect = no_network
socket.create_connection = no_network
import espnet_llm_entropy
assert "nltk" not in __import__("sys").modules, "importing the package must not import nltk"
import espnet2.tasks.asr  # imports g2p_en, which asks nltk for downloads
from espnet_llm_entropy.offline import refused_downloads
print(sorted(refused_downloads()))
"""


def test_importing_espnet_asr_never_downloads_nltk_data():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Error loading" not in out.stderr  # nltk's own message for a failed download
    refused = eval(out.stdout.strip().splitlines()[-1])
    assert all(isinstance(r, str) for r in refused)
