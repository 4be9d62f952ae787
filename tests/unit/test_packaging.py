"""The built wheel holds every package, the typing marker, the extras and the entry points."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).parents[2]


def source_modules() -> set[str]:
    found = {p.relative_to(ROOT).as_posix() for p in (ROOT / "agentcache").rglob("*.py")}
    for plugin in (ROOT / "plugins").glob("*/"):
        found |= {p.relative_to(ROOT / "plugins").as_posix() for p in plugin.rglob("*.py")}
    return found


def test_wheel_contents(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(tmp_path), str(ROOT)],
        check=True,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("agentcache_middleware-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = zf.read(meta).decode()
        entry_points = zf.read(meta.replace("METADATA", "entry_points.txt")).decode()
    assert source_modules() <= names, source_modules() - names
    assert "agentcache/py.typed" in names
    assert "agentcache_otel/py.typed" in names
    assert "agentcache_redis/py.typed" in names
    assert "agentcache_semantic/py.typed" in names
    assert not any(n.startswith(("tests/", "examples/", "benchmarks/")) for n in names)
    for extra in ("redis", "semantic", "otel", "all"):
        assert f"Provides-Extra: {extra}" in metadata
    assert "agentcache = agentcache.cli:main" in entry_points
    # the first-party plugin is enabled by its extra; without it the loader gives this hint
    assert "otel = agentcache_otel:hooks [otel]" in entry_points
    assert 'Requires-Dist: opentelemetry-api>=1.25; extra == "otel"' in metadata
    # The extra in the entry point is what makes a missing redis report the right install hint.
    assert "redis = agentcache_redis:hooks [redis]" in entry_points
    assert "semantic = agentcache_semantic:hooks [semantic]" in entry_points
    assert 'Requires-Dist: sentence-transformers>=3; extra == "semantic"' in metadata
