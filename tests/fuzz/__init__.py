"""Program-level differential fuzzing of chainrule against torch (issue 10).

A *program* is a list of Python statements over a small pool of named variables, written once
for both libraries: ``t`` is ``torch`` or ``chainrule`` (``t.tensor(...)``, ``t.nn.Linear``,
``t.optim.SGD`` ...). The executor runs the same program under both and compares after every
statement; a failing program is minimized to a few readable lines.

- ``program``: ``Stmt`` (one statement: source, kind, optional tie guard) and rendering;
- ``executor``: ``Session`` (lockstep execution and comparison), ``run_program``, categories;
- ``generator``: random programs shaped by a live torch run (valid shapes, tie guards);
- ``stateful``: a second, independent generator on Hypothesis' ``RuleBasedStateMachine``;
- ``realistic``: a third, independent generator: training loops as users write them;
- ``minimize``: delta debugging over statements, then simplification of what remains;
- ``__main__``: ``python -m tests.fuzz --programs 5000 --seed 0`` (``make fuzz``).
"""
