"""Build hook: compile usermode's optional C core (usermode/engine/_native.c).

hatchling runs it for `pip install .` and `pip install -e .`. Without a C compiler or the
Python headers it warns and the package installs as pure Python (the Python paths do
everything the core does); a failed compile never fails the install. An editable install
puts the extension next to its source, where the path entry finds it; a wheel carries it.
`python hatch_build.py` builds it in the source tree (after editing the C file).
USERMODE_NO_NATIVE=1 skips it.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import Any

SOURCE = "usermode/engine/_native.c"
MODULE = "usermode/engine/_native"


def compile_native(root: Path, out: Path) -> str | None:
    """Compile SOURCE into `out` with the interpreter's own flags; an error text, or None."""
    include = sysconfig.get_paths()["include"]
    if not os.path.exists(os.path.join(include, "Python.h")):
        return f"no Python.h in {include}"
    cc = shlex.split(os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc")
    cmd = [*cc, *shlex.split(sysconfig.get_config_var("CCSHARED") or "-fPIC"), "-O2", "-Wall",
           "-shared", f"-I{include}", str(root / SOURCE), "-o", str(out), "-ldl"]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.SubprocessError) as e:
        return f"{cc[0]}: {e}"
    if r.returncode != 0:
        out.unlink(missing_ok=True)
        lines = (r.stderr or r.stdout).strip().splitlines()
        return f"{cc[0]} failed: {lines[-1] if lines else f'exit {r.returncode}'}"
    return None


def _suffix() -> str:
    return sysconfig.get_config_var("EXT_SUFFIX") or ".so"


try:
    from hatchling.builders.hooks.plugin.interface import BuildHookInterface
except ImportError:  # running as a script, without hatchling
    BuildHookInterface = object  # type: ignore[assignment, misc]


class NativeBuildHook(BuildHookInterface):  # type: ignore[misc, valid-type]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        root = Path(self.root)
        rel = MODULE + _suffix()
        if version == "editable":
            out = root / rel
            out.unlink(missing_ok=True)  # never leave a build of an older source
        else:
            self._tmp = tempfile.mkdtemp(prefix="usermode-native-")
            out = Path(self._tmp) / Path(rel).name
        if os.environ.get("USERMODE_NO_NATIVE"):
            self.app.display_info("usermode: USERMODE_NO_NATIVE set: pure Python")
            return
        error = compile_native(root, out)
        if error:
            self.app.display_warning(f"usermode: the C core was not built ({error}); "
                                     "the pure-Python paths will run")
            return
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
        if version != "editable":
            build_data["force_include"][str(out)] = rel

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        tmp = getattr(self, "_tmp", None)
        if tmp:
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    error = compile_native(here, here / (MODULE + _suffix()))
    print(error or f"built {MODULE + _suffix()}")
    sys.exit(1 if error else 0)
