"""``python -m chainrule``: the command-line demos."""

from chainrule.cli import main

raise SystemExit(main())
