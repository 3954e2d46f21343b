"""An MLP and a small CNN learn scikit-learn's 8x8 digits (loss/accuracy plot in demo-output/).

The code lives in ``chainrule/demos/digits.py``; this script is ``python -m chainrule digits``
(run it with ``--help`` for the flags).
"""

import sys

from chainrule.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["digits", *sys.argv[1:]]))
