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
