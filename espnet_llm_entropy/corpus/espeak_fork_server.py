"""espeak-ng synthesis without a process start per run: a fork server around libespeak-ng.

``espeak-ng --stdout`` spends about 40 ms per call starting a process and
initialising the library, several times what synthesizing a short run
takes; the corpus makes some 13,000 such calls. This server loads the
library once and forks a child per run instead.

Why not synthesize every run in one process: espeak-ng keeps state from one
utterance to the next, so in one process a run's samples depend on what was
spoken before (measured: 1 run in 20 came out as the command line speaks
it). Loading voices one after another leaves state too (5 runs in 200
differed). So the server keeps, per voice, a *zygote*: a process forked
from the initialised library before any voice was loaded, which loads its
voice and then forks one child per run. Each child starts from exactly the
state ``espeak-ng -v VOICE`` starts from, so its samples are the command
line's, sample for sample (``test_corpus_espeak_fork_server.py`` checks
this against the binary).

Process tree::

    root      library initialised, no voice    requests on stdin, answers on stdout
    zygote    one per voice, voice loaded      requests over a pipe from the root
    child     one per run                      sets pitch and speed, speaks, exits

The server part uses the standard library only and is started as a script
(``python -I espeak_fork_server.py``), so the processes it forks stay small.
Clients use :class:`EspeakForkServer`; :func:`library_matches_binary` says
whether the library is the one behind the ``espeak-ng`` on PATH.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import struct
import subprocess
import sys
from typing import Dict, List, Optional, Tuple

# espeak-ng's speak_lib.h
AUDIO_OUTPUT_SYNCHRONOUS = 2
POS_CHARACTER = 1
ESPEAK_RATE, ESPEAK_PITCH = 1, 3
# what ``espeak-ng -b 1`` passes: UTF-8 text, [[phoneme]] input allowed, a pause at the end
SYNTH_FLAGS = 0x1 | 0x100 | 0x1000
LIBRARY_NAME = "espeak-ng"
FALLBACK_LIBRARY = "libespeak-ng.so.1"

# request: pitch, speed, len(voice), len(text), then the UTF-8 voice and text
REQUEST = struct.Struct("<iiII")
# answer: status (0 = samples follow, else an UTF-8 message), payload length
ANSWER = struct.Struct("<iI")
OK, FAILED = 0, 1


class EspeakLibraryError(RuntimeError):
    """libespeak-ng could not be loaded or initialised (the command line can still be used)."""


# ---------------------------------------------------------------- pipes
def _read_exact(fd: int, size: int) -> Optional[bytes]:
    """``size`` bytes from ``fd``; None at end of file before the first byte."""
    parts, got = [], 0
    while got < size:
        part = os.read(fd, size - got)
        if not part:
            if got == 0:
                return None
            raise EOFError(f"pipe closed after {got} of {size} bytes")
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _read_message(fd: int, header: struct.Struct) -> Optional[Tuple[tuple, bytes]]:
    """(header fields, body) of one framed message; None at end of file."""
    head = _read_exact(fd, header.size)
    if head is None:
        return None
    fields = header.unpack(head)
    size = sum(fields[2:]) if header is REQUEST else fields[1]
    return fields, (_read_exact(fd, size) or b"") if size else b""


def _answer(status: int, payload: bytes) -> bytes:
    return ANSWER.pack(status, len(payload)) + payload


# -------------------------------------------------------------- library
def _load_library(name: str):
    """The initialised library and its sample rate."""
    path = ctypes.util.find_library(name) or (FALLBACK_LIBRARY if name == LIBRARY_NAME else name)
    try:
        lib = ctypes.CDLL(path)
    except OSError as err:
        raise EspeakLibraryError(f"cannot load {path} ({err})") from err
    lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                 ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_Info.restype = ctypes.c_char_p
    lib.espeak_Info.argtypes = [ctypes.POINTER(ctypes.c_char_p)]
    rate = lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, None, 0)
    if rate <= 0:
        raise EspeakLibraryError(f"espeak_Initialize failed ({rate}); is espeak-ng-data installed?")
    return lib, rate


def library_version(lib) -> Tuple[str, str]:
    """(version, data directory) as the library reports them, e.g. ("1.51", "/usr/lib/.../espeak-ng-data")."""
    data_path = ctypes.c_char_p()
    version = lib.espeak_Info(ctypes.byref(data_path))
    return version.decode(), (data_path.value or b"").decode()


class _VoiceSelector(ctypes.Structure):
    """speak_lib.h's ``espeak_VOICE``, for selecting a voice by language ("en-gb+m3")."""

    _fields_ = [("name", ctypes.c_char_p), ("languages", ctypes.c_char_p), ("identifier", ctypes.c_char_p),
                ("gender", ctypes.c_ubyte), ("age", ctypes.c_ubyte), ("variant", ctypes.c_ubyte),
                ("xx1", ctypes.c_ubyte), ("score", ctypes.c_int), ("spare", ctypes.c_void_p)]


def _select_voice(lib, voice: bytes) -> bool:
    """What ``espeak-ng -v VOICE`` does: a voice name, else a language (with its +variant)."""
    if lib.espeak_SetVoiceByName(voice) == 0:
        return True
    selector = _VoiceSelector(None, voice, None, 0, 0, 0, 0, 0, None)
    return lib.espeak_SetVoiceByProperties(ctypes.byref(selector)) == 0


# --------------------------------------------------------------- server
class _Server:
    """The root process: routes each request to its voice's zygote."""

    def __init__(self, lib):
        self.lib = lib
        self.chunks: List[bytes] = []
        # kept alive here: the library calls it for every block of samples (in the forked children)
        self.callback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                                         ctypes.c_void_p)(self._collect)
        lib.espeak_SetSynthCallback(self.callback)
        self.zygotes: Dict[bytes, Tuple[int, int, int]] = {}  # voice -> (pid, request fd, answer fd)

    def _collect(self, samples, count, _events) -> int:
        if count > 0:
            self.chunks.append(ctypes.string_at(samples, 2 * count))
        return 0  # go on

    def serve(self, requests: int, answers: int) -> None:
        while True:
            message = _read_message(requests, REQUEST)
            if message is None:
                break
            (_, _, voice_len, _), body = message
            voice = body[:voice_len]
            if voice not in self.zygotes:
                self.zygotes[voice] = self._start_zygote(voice)
            _, to_zygote, from_zygote = self.zygotes[voice]
            _write_all(to_zygote, REQUEST.pack(*message[0]) + body)
            answer = _read_message(from_zygote, ANSWER)
            if answer is None:
                answer = ((FAILED, 0), f"the zygote of voice {voice.decode()!r} exited".encode())
            _write_all(answers, _answer(answer[0][0], answer[1]))
        for pid, to_zygote, from_zygote in self.zygotes.values():
            os.close(to_zygote)  # its end of file ends the zygote
            os.close(from_zygote)
            os.waitpid(pid, 0)

    def _start_zygote(self, voice: bytes) -> Tuple[int, int, int]:
        req_r, req_w = os.pipe()
        ans_r, ans_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the zygote: keeps only its own pipes, so every end of file reaches its reader
            try:
                for _, to_other, from_other in self.zygotes.values():
                    os.close(to_other)
                    os.close(from_other)
                os.close(req_w)
                os.close(ans_r)
                null = os.open(os.devnull, os.O_RDWR)
                os.dup2(null, 0)
                os.dup2(null, 1)
                self._zygote(voice, req_r, ans_w)
            finally:
                os._exit(0)
        os.close(req_r)
        os.close(ans_w)
        return pid, req_w, ans_r

    def _zygote(self, voice: bytes, requests: int, answers: int) -> None:
        selected = _select_voice(self.lib, voice)
        while True:
            message = _read_message(requests, REQUEST)
            if message is None:
                return
            if not selected:
                _write_all(answers, _answer(FAILED, b"espeak-ng has no voice " + voice))
                continue
            (pitch, speed, voice_len, _), body = message
            _write_all(answers, self._speak_in_child(body[voice_len:], pitch, speed))

    def _speak_in_child(self, text: bytes, pitch: int, speed: int) -> bytes:
        out_r, out_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            status = 1
            try:
                os.close(out_r)
                self.lib.espeak_SetParameter(ESPEAK_RATE, speed, 0)
                self.lib.espeak_SetParameter(ESPEAK_PITCH, pitch, 0)
                text = text + b"\0"
                code = self.lib.espeak_Synth(text, len(text), 0, POS_CHARACTER, 0, SYNTH_FLAGS, None, None)
                if code == 0:
                    _write_all(out_w, _answer(OK, b"".join(self.chunks)))
                else:
                    _write_all(out_w, _answer(FAILED, f"espeak_Synth returned {code}".encode()))
                status = 0
            finally:
                os._exit(status)
        os.close(out_w)
        parts = []
        while True:
            part = os.read(out_r, 1 << 16)
            if not part:
                break
            parts.append(part)
        os.close(out_r)
        _, status = os.waitpid(pid, 0)
        data = b"".join(parts)
        if status != 0 or len(data) < ANSWER.size:
            return _answer(FAILED, f"the synthesis process ended with status {status}".encode())
        return data


def main(argv: Optional[List[str]] = None) -> None:
    """``python -I espeak_fork_server.py [LIBRARY]``: first answer: the sample rate, version and data path
    (status 0) or why the library cannot be used (status 1); then one answer per request."""
    argv = sys.argv[1:] if argv is None else argv
    requests, answers = sys.stdin.fileno(), sys.stdout.fileno()
    try:
        lib, rate = _load_library(argv[0] if argv else LIBRARY_NAME)
    except EspeakLibraryError as err:
        _write_all(answers, _answer(FAILED, str(err).encode()))
        return
    version, data_path = library_version(lib)
    _write_all(answers, _answer(OK, f"{rate}\t{version}\t{data_path}".encode()))
    _Server(lib).serve(requests, answers)


# --------------------------------------------------------------- client
class EspeakForkServer:
    """A running fork server (a subprocess); :meth:`speak` is what ``espeak-ng --stdout`` gives.

    One request at a time: give each thread its own server. Use as a context
    manager, or call :meth:`close`.

    Raises:
        EspeakLibraryError: the library could not be loaded or initialised.
    """

    def __init__(self, library: str = LIBRARY_NAME):
        self._proc = subprocess.Popen([sys.executable, "-I", os.path.abspath(__file__), library],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        hello = _read_message(self._proc.stdout.fileno(), ANSWER)
        if hello is None or hello[0][0] != OK:
            self.close()
            why = "it exited" if hello is None else hello[1].decode()
            raise EspeakLibraryError(f"espeak-ng fork server ({library}): {why}")
        rate, self.version, self.data_path = hello[1].decode().split("\t")
        self.sample_rate = int(rate)

    def speak(self, voice: str, text: str, pitch: int, speed: int):
        """(T,) float32 samples in [-1, 1) at :attr:`sample_rate`, as ``espeak-ng -v voice -p pitch
        -s speed -b 1 --stdout`` writes them for ``text``.

        Raises:
            RuntimeError: an unknown voice or a failed synthesis, naming the voice and text.
        """
        import numpy as np

        voice_b, text_b = voice.encode("utf-8"), text.encode("utf-8")
        self._proc.stdin.write(REQUEST.pack(pitch, speed, len(voice_b), len(text_b)) + voice_b + text_b)
        self._proc.stdin.flush()
        answer = _read_message(self._proc.stdout.fileno(), ANSWER)
        if answer is None:
            raise RuntimeError(f"espeak-ng fork server exited while speaking {text!r} ({voice})")
        (status, _), payload = answer
        if status != OK:
            raise RuntimeError(f"espeak-ng ({voice}) failed on {text!r}: {payload.decode('utf-8', 'replace')}")
        return np.frombuffer(payload, dtype="<i2").astype(np.float32) / 32768.0

    def close(self) -> None:
        """End the server and every process it forked (waits for them)."""
        if self._proc.stdin and not self._proc.stdin.closed:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        if self._proc.stdout and not self._proc.stdout.closed:
            self._proc.stdout.close()

    def __enter__(self) -> "EspeakForkServer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


if __name__ == "__main__":
    main()
