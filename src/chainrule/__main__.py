"""``python -m chainrule``: the command-line demos."""

from chainrule.cli import main

if __name__ == "__main__":  # (importing the module, as documentation tools do, runs nothing)
    raise SystemExit(main())
