"""The guest syscall translation table: registry, dispatcher, ABI layer and handlers."""
