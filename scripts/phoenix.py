#!/usr/bin/env python3
"""Provision Arize Phoenix (a local OpenTelemetry collector with a UI) into its own virtual
environment, idempotently, and print the path of its ``phoenix`` executable.

Phoenix is large, so it never goes into the project's own environment. The venv lives in
``${AGENTCACHE_CACHE_DIR:-~/.cache/agentcache}/phoenix-venv``; a marker file records the
requirement it was built for, so a second run is a no-op.

Usage: python scripts/phoenix.py [--print-bin] [--force]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import venv
from pathlib import Path

# Phoenix only: the project's own environment never imports it, it only talks OTLP and HTTP
# to the server this venv runs.
REQUIREMENTS = ["arize-phoenix>=8"]


def cache_dir() -> Path:
    base = os.environ.get("AGENTCACHE_CACHE_DIR")
    return Path(base).expanduser() if base else Path.home() / ".cache" / "agentcache"


def venv_dir() -> Path:
    return cache_dir() / "phoenix-venv"


def phoenix_bin() -> Path:
    return venv_dir() / "bin" / "phoenix"


def ensure(force: bool = False, quiet: bool = False) -> Path:
    """Create the venv and install Phoenix if needed; return the path of ``phoenix``."""
    root = venv_dir()
    marker = root / ".agentcache-requirements"
    wanted = "\n".join(REQUIREMENTS)
    if not force and phoenix_bin().exists() and marker.exists() and marker.read_text() == wanted:
        return phoenix_bin()
    if not (root / "bin" / "python").exists():
        root.parent.mkdir(parents=True, exist_ok=True)
        venv.EnvBuilder(with_pip=True, clear=False).create(root)
    py = str(root / "bin" / "python")
    q = ["--quiet"] if quiet else []
    subprocess.run([py, "-m", "pip", "install", *q, "--upgrade", "pip"], check=True)
    subprocess.run([py, "-m", "pip", "install", *q, *REQUIREMENTS], check=True)
    if not phoenix_bin().exists():
        raise SystemExit(f"phoenix executable missing after install: {phoenix_bin()}")
    marker.write_text(wanted)
    return phoenix_bin()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="reinstall even if present")
    parser.add_argument("--quiet", action="store_true", help="quiet pip output")
    args = parser.parse_args(argv)
    print(ensure(force=args.force, quiet=args.quiet))
    return 0


if __name__ == "__main__":
    sys.exit(main())
