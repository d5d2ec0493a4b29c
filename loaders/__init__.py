"""Program loaders: pure ELF header parsing (:mod:`loaders.elf`) and initial-stack
construction (:mod:`loaders.stack`).

Nothing here touches guest memory or Unicorn; the engine maps the results.
"""
