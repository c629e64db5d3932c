"""One run synthesizer per corpus-builder thread: libespeak-ng's fork server where it matches
the ``espeak-ng`` command line, else the command line itself.

Both give the same samples (the fork server's children start from the
state a fresh ``espeak-ng`` process starts from), so the choice changes the
time a corpus takes, never its bytes. The library is used only when it
reports the version and voice data the binary on PATH reports; otherwise
(another installation, no ``fork``, a library that does not load) the
builder says why and runs the command line.
"""

from __future__ import annotations

import logging
import threading
from typing import List, Optional

from espnet_llm_entropy.corpus.espeak_fork_server import EspeakForkServer, EspeakLibraryError
from espnet_llm_entropy.corpus.espeak_synthesis import (
    RunSynthesizer,
    command_line_synthesizer,
    espeak_data_dir,
    espeak_version,
    library_synthesizer,
)

logger = logging.getLogger(__name__)


def library_mismatch(server: EspeakForkServer, binary: str) -> Optional[str]:
    """Why ``server``'s library is not the one behind ``binary`` (None when it is)."""
    version, data_dir = espeak_version(binary), espeak_data_dir(binary)
    if not version.endswith(server.version):
        return f"the library is {server.version}, {binary} is {version!r}"
    if data_dir and data_dir != server.data_path:
        return f"the library reads voices from {server.data_path}, {binary} from {data_dir}"
    return None


class SynthesizerPool:
    """Per-thread :data:`RunSynthesizer` s for a corpus build; a context manager.

    Args:
        binary: the ``espeak-ng`` executable the corpus is made with.
        use_library: try the fork server first (False: always the command line).
    """

    def __init__(self, binary: str, use_library: bool = True):
        self.binary = binary
        self._local = threading.local()
        self._servers: List[EspeakForkServer] = []
        self._lock = threading.Lock()
        self.uses_library = False
        if use_library:
            try:
                first = EspeakForkServer()
            except EspeakLibraryError as err:
                logger.warning("espeak-ng: using the command line, one process per run (%s)", err)
                return
            why = library_mismatch(first, binary)
            if why is not None:
                first.close()
                logger.warning("espeak-ng: using the command line, one process per run (%s)", why)
                return
            self._servers.append(first)
            self._local.server = first
            self.uses_library = True

    def synthesizer(self) -> RunSynthesizer:
        """The calling thread's synthesizer (its own fork server, started on first use)."""
        if not self.uses_library:
            return command_line_synthesizer(self.binary)
        server = getattr(self._local, "server", None)
        if server is None:
            server = EspeakForkServer()
            with self._lock:
                self._servers.append(server)
            self._local.server = server
        return library_synthesizer(server)

    def close(self) -> None:
        """Stop every fork server (and the processes they forked)."""
        with self._lock:
            servers, self._servers = self._servers, []
        for server in servers:
            server.close()

    def __enter__(self) -> "SynthesizerPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
