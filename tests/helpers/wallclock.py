"""Moving one process's wall clock while it runs (see ``wallclock.c``).

The library is compiled once per test session with the system's C compiler.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

SOURCE = Path(__file__).with_name("wallclock.c")


def build(out_dir: Path) -> Path:
    """Compile the LD_PRELOAD library into ``out_dir``; return its path."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise RuntimeError("no C compiler for the wall-clock drill: apt-get install gcc libc6-dev")
    library = out_dir / "wallclock.so"
    subprocess.run(
        [compiler, "-shared", "-fPIC", "-O2", "-Wall", "-o", str(library), str(SOURCE), "-ldl"],
        check=True,
    )
    return library


class WallClock:
    """The offset file a process under the library reads its wall clock through."""

    def __init__(self, library: Path, offset_file: Path) -> None:
        self.library = library
        self.offset_file = offset_file
        offset_file.write_bytes(struct.pack("<q", 0))

    @property
    def env(self) -> dict[str, str]:
        return {"LD_PRELOAD": str(self.library), "WALLCLOCK_OFFSET_FILE": str(self.offset_file)}

    def set_offset(self, seconds: float) -> None:
        # In place: the file is mapped by the process, truncating it would crash it.
        with self.offset_file.open("r+b") as f:
            f.write(struct.pack("<q", round(seconds * 1e9)))
