"""File reading and writing shared by the whole package.

* :mod:`.atomic` -- writes that readers see whole or not at all (text, JSON,
  bytes, ``torch.save``; directories built aside and renamed into place).
  One permission rule: a written file gets the mode any other file would
  get, ``0666`` minus the umask (``0644`` under the usual ``022``).
* :mod:`.jsonl` -- JSON-lines logs: read, rewrite atomically, append.
* :mod:`.kaldi_map` -- Kaldi two-column files (``<key> <value>`` per line)
  with errors naming the file and the line.

This is the bottom layer: it imports nothing else from the package.
"""
