"""Bring the dashboard's JavaScript and CSS from the npm registry, at pinned versions.

`make install` runs this. For each package below: the npm tarball at its exact version
is downloaded from the registry (never a CDN), checked against the SHA-512 pinned here
(npm's own ``dist.integrity`` of that version), and only the files the dashboard needs
are extracted into ``app/runtime/web/static/vendor/`` (git-ignored), each checked
against its pinned SHA-256. The worker serves them itself, so the dashboard works
offline.

Idempotent: when every file is present with its pinned SHA-256, nothing is fetched. A
verified tarball is kept in ``.cache/vendor/`` so that re-extracting needs no network.

    python scripts/vendor_assets.py           # fetch what is missing
    python scripts/vendor_assets.py --check   # exit 1 if a file is missing or altered

Standard library only: it runs before anything else is installed.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import sys
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENDOR = REPO / "app" / "runtime" / "web" / "static" / "vendor"
CACHE = REPO / ".cache" / "vendor"
REGISTRY = "https://registry.npmjs.org"
MAX_TARBALL_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    integrity: str  # "sha512-<base64>", as the registry's dist.integrity of this version
    files: dict[str, tuple[str, str]]  # path in the tarball -> (file name in vendor/, its SHA-256)

    @property
    def tarball(self) -> str:
        return f"{REGISTRY}/{self.name}/-/{self.name}-{self.version}.tgz"


PACKAGES = [
    Package(
        name="uplot",  # https://github.com/leeoniya/uPlot: ~50 KB, canvas time series, MIT
        version="1.6.32",
        integrity="sha512-KIMVnG68zvu5XXUbC4LQEPnhwOxBuLyW1AHtpm6IKTXImkbLgkMy+jabjLgSLMasNuGGzQm/ep3tOkyTxpiQIw==",
        files={
            "package/dist/uPlot.iife.min.js":
                ("uPlot.iife.min.js", "19c8d4c6ad88929a79f4ae49d6f7161566dfd0ba3d15cc495e974f787eb78f1f"),
            "package/dist/uPlot.min.css":
                ("uPlot.min.css", "df630c6a8d6f8eeaff264b50f73ce5b114f646ffd9a0bb74f049b0a00135fa04"),
            "package/LICENSE":
                ("uPlot.LICENSE", "8f989229699b4fe2f1a0432d0e9edc338a8a911e250e2d1b01ecd770a5f5b1bd"),
        },
    ),
]


class VendorError(RuntimeError):
    pass


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _valid(package: Package) -> bool:
    for name, digest in package.files.values():
        path = VENDOR / name
        if not path.is_file() or sha256(path.read_bytes()) != digest:
            return False
    return True


def _check_integrity(package: Package, data: bytes) -> None:
    algorithm, _, expected = package.integrity.partition("-")
    if algorithm != "sha512":
        raise VendorError(f"{package.name}: unsupported integrity {algorithm!r}")
    actual = base64.b64encode(hashlib.sha512(data).digest()).decode()
    if actual != expected:
        raise VendorError(f"{package.name}@{package.version}: the tarball's SHA-512 is not the pinned one "
                          f"(got sha512-{actual})")


def _tarball(package: Package) -> bytes:
    cached = CACHE / f"{package.name}-{package.version}.tgz"
    if cached.is_file():
        data = cached.read_bytes()
        try:
            _check_integrity(package, data)
            return data
        except VendorError:
            cached.unlink()
    try:
        with urllib.request.urlopen(package.tarball, timeout=60) as resp:
            data = resp.read(MAX_TARBALL_BYTES + 1)
    except OSError as exc:
        raise VendorError(f"{package.name}@{package.version}: cannot download {package.tarball} ({exc})") from exc
    if len(data) > MAX_TARBALL_BYTES:
        raise VendorError(f"{package.name}@{package.version}: tarball over {MAX_TARBALL_BYTES} bytes")
    _check_integrity(package, data)
    CACHE.mkdir(parents=True, exist_ok=True)
    cached.write_bytes(data)
    return data


def _extract(package: Package, data: bytes) -> None:
    VENDOR.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for member_name, (name, digest) in package.files.items():
            member = tar.getmember(member_name)  # KeyError: the pinned version lacks a file
            if not member.isfile():
                raise VendorError(f"{package.name}: {member_name} is not a regular file")
            extracted = tar.extractfile(member)
            assert extracted is not None
            content = extracted.read()
            if sha256(content) != digest:
                raise VendorError(f"{package.name}: {member_name} is not the pinned file (sha256 {sha256(content)})")
            target = VENDOR / name
            tmp = target.with_suffix(target.suffix + ".tmp")
            tmp.write_bytes(content)
            tmp.replace(target)


def vendor(check_only: bool = False) -> list[str]:
    """Bring every package; the names of those fetched or extracted now."""
    done = []
    for package in PACKAGES:
        if _valid(package):
            continue
        if check_only:
            raise VendorError(f"{package.name}@{package.version}: missing or altered in {VENDOR}")
        _extract(package, _tarball(package))
        done.append(f"{package.name}@{package.version}")
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check; exit 1 if anything is missing")
    args = parser.parse_args(argv)
    try:
        done = vendor(check_only=args.check)
    except (VendorError, KeyError, tarfile.TarError) as exc:
        print(f"vendor_assets: {exc}", file=sys.stderr)
        return 1
    if done:
        print(f"vendor_assets: {', '.join(done)} -> {VENDOR.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
