"""Finding SUMO: the binaries and tools of the ``eclipse-sumo`` wheel (``sumo.SUMO_HOME``,
never a system path), and the Python interface that drives a running SUMO (libsumo in
process, else TraCI over a socket). Anything missing is a one-line :class:`ConfigError` naming
the ``[sumo]`` extra."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import warnings
from pathlib import Path
from types import ModuleType

from desim_iov.config import ConfigError

EXTRA = "pip install 'desim_iov[sumo]'"


def missing(what: str, err: BaseException | None = None) -> ConfigError:
    """The one-line error of a SUMO piece that is not installed."""
    why = f" ({type(err).__name__}: {err})" if err is not None else ""
    return ConfigError(f"vehicles.mobility sumo needs {what}, from the [sumo] extra: {EXTRA}{why}")


def sumo_package() -> ModuleType:
    """The ``sumo`` package of the ``eclipse-sumo`` wheel."""
    try:
        import sumo
    except ImportError as e:
        raise missing("SUMO (the eclipse-sumo package)", e) from None
    return sumo


def sumo_home() -> Path:
    return Path(sumo_package().SUMO_HOME)


def version() -> str:
    """The eclipse-sumo wheel's version, e.g. ``1.28.0``."""
    import importlib.metadata

    sumo_package()
    try:
        return importlib.metadata.version("eclipse-sumo")
    except importlib.metadata.PackageNotFoundError:
        return str(getattr(sumo_package(), "__version__", "unknown"))


def binary(name: str) -> Path:
    """``sumo``, ``netgenerate``, ``duarouter`` ... of the wheel."""
    exe = sumo_home() / "bin" / (name + (".exe" if sys.platform == "win32" else ""))
    if not exe.exists():
        raise missing(f"SUMO's {name} binary ({exe} is absent)")
    return exe


def tool(relative: str) -> Path:
    """A script of the wheel's ``tools/`` (``randomTrips.py``)."""
    path = sumo_home() / "tools" / relative
    if not path.exists():
        raise missing(f"SUMO's tool {relative} ({path} is absent)")
    return path


def tool_env() -> dict[str, str]:
    """The environment of SUMO's subprocesses: SUMO_HOME is the wheel's (XML schemas, tools)."""
    env = dict(os.environ)
    env["SUMO_HOME"] = str(sumo_home())
    env["PYTHONPATH"] = os.pathsep.join([str(sumo_home() / "tools"), env.get("PYTHONPATH", "")])
    return env


def run_tool(args: list[str], what: str, cwd: Path | None = None) -> None:
    """Run a SUMO binary or tool; a failure is one ConfigError line with SUMO's last words."""
    proc = subprocess.run([str(a) for a in args], cwd=cwd, env=tool_env(), capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0:
        lines = [ln.strip() for ln in (proc.stderr + proc.stdout).splitlines() if ln.strip()]
        errors = [ln for ln in lines if ln.startswith(("Error", "error"))] or lines
        raise ConfigError(f"{what} failed (exit {proc.returncode}): "
                          f"{errors[-1] if errors else 'no message'}")


def interface(choice: str) -> tuple[ModuleType, str]:
    """(module, name) of the interface to drive SUMO with: ``libsumo`` (in process) when
    ``choice`` is ``libsumo`` or ``auto`` and it imports, else ``traci``. Falling back from
    libsumo to traci under ``auto`` warns: the run's report names the one used."""
    sumo_package()  # sets SUMO_HOME for the in-process library when it is unset
    libsumo_error: BaseException | None = None
    if choice in ("auto", "libsumo"):
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # its pyarrow version notice
                import libsumo
            return libsumo, "libsumo"
        except ImportError as e:
            if choice == "libsumo":
                raise missing("libsumo", e) from None
            libsumo_error = e
    try:
        import traci
    except ImportError as e:
        raise missing("libsumo or traci", e) from None
    if libsumo_error is not None:
        warnings.warn(f"libsumo does not import ({libsumo_error}); driving SUMO through traci "
                      "(a socket per step: slower)", stacklevel=3)
    return traci, "traci"
