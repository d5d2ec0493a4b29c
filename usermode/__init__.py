"""usermode: run foreign-arch Linux programs on an x86_64 host."""

__version__ = "0.1.0"
