"""usermode: run foreign-arch Linux programs on an x86_64 host."""

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    """`from usermode import Emulator` without importing the engine for the CLI's sake."""
    if name in ("Emulator", "EmulatorError", "HookError", "SyscallContext", "AddressContext",
                "SyscallEvent", "SignalEvent"):
        from usermode import api

        return getattr(api, name)
    raise AttributeError(f"module 'usermode' has no attribute {name!r}")
