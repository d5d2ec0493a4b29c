"""The `usermode` command.

Importing the command turns Python's cyclic garbage collector off: start-up allocates tens of
thousands of objects that live as long as the run (modules, classes, the syscall table), and
collecting them over and over cost about a tenth of a guest's start-up. `cli.run` freezes them
(`gc.freeze`: never scanned again) and turns collection back on before the guest's first
instruction.
"""

import gc

gc.disable()
