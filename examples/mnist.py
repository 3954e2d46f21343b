"""An MLP and a CNN on MNIST or Fashion-MNIST IDX files: examples/mnist.py --root DIR.

The code lives in ``chainrule/demos/mnist.py``; this script is ``python -m chainrule mnist``
(run it with ``--help`` for the flags).
"""

import sys

from chainrule.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["mnist", *sys.argv[1:]]))
