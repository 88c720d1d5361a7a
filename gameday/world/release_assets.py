"""Release assets built the way a project's release job builds them, with the standard library.

Two ways a key that was never committed still gets published:

- an **sdist** (`python -m build --sdist`): `MANIFEST.in`'s `include .env*`, meant for
  `.env.example`, also picks up the developer's gitignored `.env`, which sits in the working
  tree the release was built from;
- a **`docker save` tarball**: the Dockerfile's `COPY .aws/credentials /root/.aws/credentials`
  bakes the build machine's credentials file into a layer (a tar inside the image's tar).

Both are deterministic for their inputs: every member is dated at the release, owned by root,
in a fixed order, and the gzip header carries the same date.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Mapping

from gameday.world.artifacts import _named_members


def tree_files(archive: bytes) -> dict[str, bytes]:
    """The files of a `git archive --format=tar` of a commit, by path."""
    return dict(_named_members(archive))


def _tar(members: Mapping[str, bytes], moment: int, *, directories: tuple[str, ...] = ()) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in directories:
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, moment
            tar.addfile(info)
        for name in sorted(members):
            data = members[name]
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), moment
            info.mode = 0o600 if name.endswith("credentials") else 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def sdist_name(package: str, version: str) -> str:
    """The sdist's file name as `python -m build` writes it (PEP 625: underscores)."""
    return f"{package}-{version}.tar.gz"


def sdist(
    tree: Mapping[str, bytes],
    *,
    package: str,
    project: str,
    version: str,
    summary: str,
    extra: Mapping[str, str],
    moment: int,
) -> bytes:
    """A source distribution of `tree` plus the untracked `extra` files the manifest picked up."""
    root = f"{package}-{version}"
    pkg_info = (
        "Metadata-Version: 2.1\n"
        f"Name: {project}\n"
        f"Version: {version}\n"
        f"Summary: {summary}\n"
        "Requires-Python: >=3.10\n"
    )
    members = {f"{root}/{path}": data for path, data in tree.items()}
    members.update({f"{root}/{path}": text.encode() for path, text in extra.items()})
    members[f"{root}/PKG-INFO"] = pkg_info.encode()
    raw = _tar(members, moment, directories=(root,))
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=moment) as packed:
        packed.write(raw)
    return out.getvalue()


def image_name(image: str, version: str) -> str:
    """The tarball's file name as a release job names `docker save -o` output."""
    return f"{image}-{version}-image.tar"


def docker_save(
    tree: Mapping[str, bytes],
    *,
    image: str,
    version: str,
    credentials: str,
    moment: int,
) -> bytes:
    """`docker save IMAGE:VERSION` of an image whose last layer holds `/root/.aws/credentials`.

    The layout is the one `docker save` writes: `manifest.json`, the image's config
    (`<sha256>.json`), `repositories`, and per layer `<id>/layer.tar`, `<id>/json`,
    `<id>/VERSION`. The base image's layers are left out, as a `FROM scratch`-sized stand-in.
    """
    app = _tar({f"app/{path}": data for path, data in tree.items()}, moment, directories=("app",))
    secret = _tar(
        {"root/.aws/credentials": credentials.encode()}, moment, directories=("root", "root/.aws")
    )
    layers = [app, secret]
    diff_ids = ["sha256:" + hashlib.sha256(layer).hexdigest() for layer in layers]
    created = _iso(moment)
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": created,
        "config": {
            "Env": ["PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"],
            "WorkingDir": "/app",
            "Cmd": ["python", "-m", image.replace("-", "_")],
        },
        "history": [
            {"created": created, "created_by": "COPY . /app # buildkit"},
            {"created": created, "created_by": "COPY .aws/credentials /root/.aws/credentials"},
        ],
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }
    config_bytes = json.dumps(config, sort_keys=True).encode()
    config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
    members: dict[str, bytes] = {config_name: config_bytes}
    layer_paths = []
    parent = ""
    for layer, diff_id in zip(layers, diff_ids, strict=True):
        layer_id = hashlib.sha256(f"{parent}{diff_id}".encode()).hexdigest()
        meta: dict[str, object] = {"id": layer_id, "created": created}
        if parent:
            meta["parent"] = parent
        members[f"{layer_id}/layer.tar"] = layer
        members[f"{layer_id}/json"] = json.dumps(meta, sort_keys=True).encode()
        members[f"{layer_id}/VERSION"] = b"1.0"
        layer_paths.append(f"{layer_id}/layer.tar")
        parent = layer_id
    tag = f"{image}:{version}"
    members["manifest.json"] = json.dumps(
        [{"Config": config_name, "RepoTags": [tag], "Layers": layer_paths}]
    ).encode()
    members["repositories"] = json.dumps({image: {version: parent}}).encode()
    return _tar(members, moment)


def _iso(moment: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
