"""A gdb remote stub (`usermode run -g PORT`): stub.py (the session), commands.py (the
packets), control.py (breakpoints, watchpoints, steps), target.py (registers and the
target description), rsp.py (the protocol's framing), signals.py (gdb's signal numbers)."""
