"""A character-level GPT learns to write Python from the standard library's own source.

The code lives in ``chainrule/demos/charlm.py``; this script is ``python -m chainrule charlm``
(run it with ``--help`` for the flags).
"""

import sys

from chainrule.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["charlm", *sys.argv[1:]]))
