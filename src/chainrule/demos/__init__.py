"""The demos behind ``python -m chainrule <command>``, one module per command."""
