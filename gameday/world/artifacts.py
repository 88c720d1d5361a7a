"""Archives as a scanner of downloads sees them: every member's bytes, archives opened up.

A key in a release is rarely a plain file: it is `.env` inside an sdist, a wheel, an npm
tarball, or `/root/.aws/credentials` in one layer of a `docker save` tarball (a tar of
tars). `archive_text` flattens such an artifact into the bytes of everything inside it,
with limits, so a place on the code host can say whether it holds the key.
"""

from __future__ import annotations

import gzip
import io
import tarfile
import zipfile
from pathlib import Path

MAX_DEPTH = 4
MAX_BYTES = 64 * 1024 * 1024


def archive_text(data: bytes, depth: int = 0) -> bytes:
    """`data` and, when it is a tar (plain or gzip) or zip archive, every member's bytes."""
    parts = [data]
    if depth >= MAX_DEPTH:
        return data
    for member in _members(data):
        parts.append(archive_text(member, depth + 1))
        if sum(map(len, parts)) > MAX_BYTES:
            break
    return b"\n".join(parts)


def _members(data: bytes) -> list[bytes]:
    if data[:2] == b"\x1f\x8b":
        try:
            return [gzip.decompress(data)[:MAX_BYTES]]
        except (OSError, EOFError):
            return []
    if data[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                return [archive.read(info)[:MAX_BYTES] for info in archive.infolist()
                        if not info.is_dir()]  # fmt: skip
        except (zipfile.BadZipFile, OSError):
            return []
    if len(data) > 262 and data[257:262] == b"ustar":
        found = []
        try:
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as archive:
                for info in archive.getmembers():
                    if info.isfile():
                        handle = archive.extractfile(info)
                        if handle is not None:
                            found.append(handle.read(MAX_BYTES))
        except tarfile.TarError:
            return []
        return found
    return []


def unpack_into(data: bytes, folder: Path, name: str, depth: int = 0) -> None:
    """Write `data` as `folder/name`, or, when it is an archive, its members under
    `folder/name/`, archives within opened up in turn — as a scan of downloads sees them."""
    members = _named_members(data) if depth < MAX_DEPTH else []
    if not members:
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return
    for member, content in members:
        unpack_into(content, folder / name, member, depth + 1)


def _named_members(data: bytes) -> list[tuple[str, bytes]]:
    """An archive's members (name, bytes), names made safe to write; [] for a plain file."""
    found: list[tuple[str, bytes]] = []
    if data[:2] == b"\x1f\x8b":
        try:
            return [("content", gzip.decompress(data)[:MAX_BYTES])]
        except (OSError, EOFError):
            return []
    if data[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                found = [(info.filename, archive.read(info)[:MAX_BYTES])
                         for info in archive.infolist() if not info.is_dir()]  # fmt: skip
        except (zipfile.BadZipFile, OSError):
            return []
    elif len(data) > 262 and data[257:262] == b"ustar":
        try:
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
                for info in tar.getmembers():
                    handle = tar.extractfile(info) if info.isfile() else None
                    if handle is not None:
                        found.append((info.name, handle.read(MAX_BYTES)))
        except tarfile.TarError:
            return []
    return [(_safe(name), content) for name, content in found]


def _safe(name: str) -> str:
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".", "..")]
    return "/".join(parts) or "member"
