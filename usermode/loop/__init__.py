"""The I/O event loop with adaptive polling (after QEMU aio-posix) and its fd monitors."""
