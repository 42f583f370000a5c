"""Lambda artefact sizes: each function's code and each of our layers, zipped as the CDK zips its assets.

Each asset directory that `make layers` builds (infra/build.py: the sources with their bytecode, which ships) is
zipped in memory (deflate) with the exclusions the stack gives its assets (`ASSET_EXCLUDES` in
`infra/constructs/functions.py`, not imported: that module needs the CDK), and compared with Lambda's limits: 50 MB
for a zip uploaded directly, 250 MB unzipped for a function with all its layers.
The public Powertools layer (with pydantic) is AWS's, not ours: it is not measured here, and it counts towards
the 250 MB too.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

from infra import build
from infra.topology import FUNCTIONS

MB = 1024 * 1024
ZIPPED_LIMIT = 50 * MB
UNZIPPED_LIMIT = 250 * MB
# As the stack's assets exclude them; the deps layer also drops pip's console scripts (`python/bin`).
EXCLUDED_SUFFIXES = (".egg-info", ".installed")


@dataclass(frozen=True)
class Artefact:
    name: str
    kind: str
    files: int
    unzipped: int
    zipped: int

    @property
    def zipped_ratio(self) -> float:
        return self.zipped / ZIPPED_LIMIT


def _included(relative: Path, excluded_prefixes: tuple[str, ...]) -> bool:
    parts = relative.parts
    if any(part.endswith(EXCLUDED_SUFFIXES) for part in parts):
        return False
    return not any(relative.as_posix().startswith(prefix) for prefix in excluded_prefixes)


def zip_directory(root: Path, excluded_prefixes: tuple[str, ...] = ()) -> tuple[int, int, int]:
    """(files, unzipped bytes, zipped bytes) of `root` zipped in memory with deflate, paths relative to it."""
    buffer = io.BytesIO()
    files = unzipped = 0
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(root.rglob("*")):
            relative = path.relative_to(root)
            if not path.is_file() or not _included(relative, excluded_prefixes):
                continue
            archive.write(path, relative.as_posix())
            files += 1
            unzipped += path.stat().st_size
    return files, unzipped, len(buffer.getvalue())


def measure() -> list[Artefact]:
    """Every function's code, then the `core` and `deps` layers; raises when `make layers` has not run since the
    sources changed."""
    stale = build.stale()
    if stale:
        raise FileNotFoundError(f"build/ is not what the sources build ({stale[0]}): run `make layers` first")
    artefacts = [Artefact(f.name, "function", *zip_directory(build.function_dir(f.name))) for f in FUNCTIONS]
    artefacts.append(Artefact("core", "layer", *zip_directory(build.CORE_LAYER_BUILD_DIR)))
    artefacts.append(Artefact("deps", "layer", *zip_directory(build.DEPS_LAYER_DIR, ("python/bin",))))
    return artefacts


def largest_unzipped(artefacts: list[Artefact]) -> int:
    """The biggest function unzipped with both our layers: what counts towards the 250 MB (Powertools aside)."""
    layers = sum(a.unzipped for a in artefacts if a.kind == "layer")
    return max((a.unzipped for a in artefacts if a.kind == "function"), default=0) + layers


def report() -> list[dict[str, object]]:
    artefacts = measure()
    print("\nLambda artefacts: zipped in memory (deflate), against Lambda's limits")
    print(f"{'artefact':<22}{'files':>7}{'unzipped KB':>13}{'zipped KB':>11}{'× 50 MB zip':>13}")
    rows: list[dict[str, object]] = []
    for a in artefacts:
        print(
            f"{a.kind + ': ' + a.name:<22}{a.files:>7}{a.unzipped / 1024:>13.1f}{a.zipped / 1024:>11.1f}"
            f"{a.zipped_ratio:>13.5f}"
        )
        rows.append(
            {
                "name": f"{a.kind}: {a.name}",
                "files": a.files,
                "unzipped_bytes": a.unzipped,
                "zipped_bytes": a.zipped,
                "zipped_limit_ratio": round(a.zipped_ratio, 6),
            }
        )
    total = largest_unzipped(artefacts)
    ratio = total / UNZIPPED_LIMIT
    print(f"{'largest function + core + deps, unzipped':<42}{total / MB:>9.1f} MB{ratio:>12.4f} × 250 MB")
    print("(the public Powertools layer is AWS's: not counted here, though it counts towards the 250 MB)")
    rows.append({"name": "largest function + layers", "unzipped_bytes": total, "unzipped_limit_ratio": round(ratio, 6)})
    return rows


if __name__ == "__main__":
    report()
