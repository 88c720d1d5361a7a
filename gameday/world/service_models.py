"""botocore's service models, parsed once per machine rather than several times per run.

A run reads the same JSON service models (EC2's alone is 3 MB) from botocore's data
folder four or five times over: for the framework's and the runbook's clients, for moto's
request parsing, and for each botocore session moto opens to list regions — a large share
of the time it takes to start the mock. `install()` gives every botocore loader made
afterwards in the process a file loader that keeps what it parsed:

- in memory, for the life of the process: each loader gets its own copy (botocore and moto
  merge their extras into what they load), made from compact bytes faster than JSON is parsed;
- on disk, in the user's cache folder (`$XDG_CACHE_HOME/gameday/service-models/`, or the
  folder named by `GAMEDAY_CACHE_DIR`), so the next process skips the JSON parsing too.

The cache holds data only (`marshal` of plain dicts, lists and scalars: nothing in it can
run code), under a folder named for the Python, botocore and moto versions. Each entry
names the source file, its size and modification time, and carries a digest of its
payload; an entry that does not match in every respect is ignored and written again, and
any error reading or writing the cache falls back to parsing the JSON, as botocore does.
`GAMEDAY_CACHE_DIR=off` turns the disk cache off (the memory one stays).
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import marshal
import os
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

CACHE_VARIABLE = "GAMEDAY_CACHE_DIR"
_MAGIC = b"gameday-service-model-1\n"
_DIGEST_SIZE = 32

_lock = threading.Lock()
# a source file's path, size and modification time (and the name of a view of its data)
_Key = tuple[str, int, int] | tuple[str, int, int, str]
_memory: dict[_Key, bytes] = {}
_installed = False
_moto_installed = False


def cache_folder() -> Path | None:
    """Where parsed models are kept between processes; None when the disk cache is off."""
    chosen = os.environ.get(CACHE_VARIABLE, "")
    if chosen.lower() in ("off", "0", "none"):
        return None
    if chosen:
        root = Path(chosen)
    else:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        root = Path(base) / "gameday"
    return root / "service-models" / _versions()


@cache
def _versions() -> str:
    def of(package: str) -> str:
        try:
            return version(package)
        except PackageNotFoundError:
            return "none"

    python = f"py{sys.version_info.major}.{sys.version_info.minor}-marshal{marshal.version}"
    return f"{python}-botocore{of('botocore')}-moto{of('moto')}"


def install(*, moto: bool = True) -> None:
    """Every botocore loader made from now on in this process reads models through the cache;
    with `moto`, moto's own data files too (a process that only makes clients — a runbook's —
    leaves moto unimported)."""
    global _installed, _moto_installed
    import botocore.loaders

    with _lock:
        if not _installed:
            base: type[Any] = botocore.loaders.JSONFileLoader

            class CachingJSONFileLoader(base):  # type: ignore[misc]
                """botocore's JSON file loader, answering from the cache when it can."""

                def load_file(self, file_path: str) -> Any:
                    return load_model_file(file_path, super().load_file)

            botocore.loaders.Loader.FILE_LOADER_CLASS = CachingJSONFileLoader
            _list_services_once(botocore.loaders.Loader)
            _installed = True
        if moto and not _moto_installed:
            _cache_moto_resources()
            _moto_installed = True


def _list_services_once(loader_class: type[Any]) -> None:
    """botocore's service listing, made once per search path and kind of model.

    Each loader lists the services it knows the first time it loads a model (a directory
    walk over some four hundred services), and moto makes a new loader for every service
    model it reads; the folders do not change while the process lives.
    """
    listing = loader_class.list_available_services
    listed: dict[tuple[tuple[str, ...], str], list[str]] = {}

    def list_available_services(self: Any, type_name: str) -> list[str]:
        key = (tuple(self.search_paths), type_name)
        with _lock:
            found = listed.get(key)
        if found is None:
            found = listing(self, type_name)
            with _lock:
                listed[key] = found
        return list(found)

    loader_class.list_available_services = list_available_services


def _cache_moto_resources() -> None:
    """moto's own data files (EC2's instance types and offerings, read as moto's EC2 models
    are imported) go through the cache too; a name moto finds elsewhere (a zip) is left to it."""
    from importlib import resources

    import moto.utilities.utils

    parse: Callable[[str], Any] = moto.utilities.utils.load_resource
    root = resources.files("moto")

    def load_resource(resource: str) -> Any:
        compressed = resource if resource.endswith(".gz") else f"{resource}.gz"
        for name in (compressed, resource):  # moto's own order
            path = root / name
            if isinstance(path, Path) and path.is_file():
                return load_data_file(str(path), lambda: parse(resource))
        return parse(resource)

    moto.utilities.utils.load_resource = load_resource


def load_model_file(file_path: str, parse: Callable[[str], Any]) -> Any:
    """The data of botocore model `file_path` (named without `.json`), a fresh copy each time.

    `parse` is botocore's own loading, used on a miss and whenever the cache cannot answer.
    """
    source = _source(file_path)
    if source is None:
        return parse(file_path)
    return load_data_file(source, lambda: parse(file_path))


def load_data_file(source: str, parse: Callable[[], Any], *, view: str = "") -> Any:
    """The JSON data of the file `source` (parsed by `parse`), a fresh copy each time.

    A `view` names data derived from the file rather than all of it (the ARNs of the
    policies a data module lists): kept apart from the file's whole data, and from other views.
    """
    try:
        stat = os.stat(source)
    except OSError:
        return parse()
    key: _Key = (os.path.abspath(source), stat.st_size, stat.st_mtime_ns)
    if view:
        key = (*key, view)
    with _lock:
        payload = _memory.get(key)
    if payload is None:
        payload = _read_entry(key)
    if payload is not None:
        try:
            with collector_paused():
                kept = marshal.loads(payload)
        except (EOFError, ValueError, TypeError):
            pass  # parsed again below, and the entry written anew
        else:
            with _lock:
                _memory[key] = payload
            return kept
    with collector_paused():
        data = parse()
    try:
        payload = marshal.dumps(_plain(data))
    except (TypeError, ValueError):
        return data  # not plain JSON data: parsed every time
    _write_entry(key, payload)
    with _lock:
        _memory[key] = payload
    return data


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cycle collector held off while a large model is built (or moto imported, or
    a mock's backends made).

    Building one allocates a hundred thousand containers, enough to set off full
    collections that walk the whole heap (moto's and botocore's included: 100-300 ms each)
    though nothing built is garbage. The collector runs as usual afterwards.
    """
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def _source(file_path: str) -> str | None:
    for extension in (".json", ".json.gz"):
        candidate = file_path + extension
        if os.path.isfile(candidate):
            return os.path.abspath(candidate)
    return None


def _plain(value: Any) -> Any:
    """JSON data as builtin dicts and lists (botocore parses objects into OrderedDicts)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise TypeError(f"not JSON data: {type(value).__name__}")


def _entry_path(folder: Path, key: _Key) -> Path:
    return folder / (hashlib.sha256(repr(key).encode("utf-8")).hexdigest() + ".marshal")


def _header(key: _Key) -> bytes:
    return _MAGIC + repr(key).encode("utf-8") + b"\n"


def _read_entry(key: _Key) -> bytes | None:
    folder = cache_folder()
    if folder is None:
        return None
    try:
        content = _entry_path(folder, key).read_bytes()
    except OSError:
        return None
    header = _header(key)
    if not content.startswith(header):
        return None
    digest = content[len(header) : len(header) + _DIGEST_SIZE]
    payload = content[len(header) + _DIGEST_SIZE :]
    if hashlib.sha256(payload).digest() != digest:
        return None
    return payload


def _write_entry(key: _Key, payload: bytes) -> None:
    folder = cache_folder()
    if folder is None:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        descriptor, temporary = tempfile.mkstemp(dir=folder, prefix=".entry-")
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(_header(key) + hashlib.sha256(payload).digest() + payload)
            os.replace(temporary, _entry_path(folder, key))
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError:
        return


# ── prepared once per machine ───────────────────────────────────────────────────────────────

# What a run's participants (the framework, the attacker, a runbook) call, one cheap call a
# service: the client's model, endpoint rules and paginators, and moto's own parsing of it.
PREPARED_CALLS = (
    ("sts", "get_caller_identity"),
    ("iam", "list_users"),
    ("ec2", "describe_instances"),
    ("s3", "list_buckets"),
    ("secretsmanager", "list_secrets"),
    ("cloudtrail", "describe_trails"),
    ("support", "describe_cases"),
    ("events", "list_rules"),
    ("lambda", "list_functions"),
    ("kms", "list_keys"),
    ("logs", "describe_log_groups"),
    ("autoscaling", "describe_auto_scaling_groups"),
    ("elb", "describe_load_balancers"),
    ("elbv2", "describe_load_balancers"),
)


def prepare() -> int:
    """Fill the cache with what a first run would parse: `make install` calls it, so that the
    first run on a machine reads compact copies rather than botocore's JSON. The number of
    entries the cache holds after it (0 when the cache is off)."""
    folder = cache_folder()
    if folder is None:
        return 0
    from datetime import UTC, datetime

    from botocore.exceptions import BotoCoreError, ClientError

    from gameday.exercise.preflight import aws_managed_policies
    from gameday.journal import FixedClock
    from gameday.world.account import MockAccount
    from gameday.world.clients import bare_botocore_session

    aws_managed_policies()  # what checking a scenario reads of moto's data
    regions = bare_botocore_session().get_available_regions("ec2")
    with MockAccount("000000000000", FixedClock(datetime.now(UTC)), regions=regions) as account:
        for service, operation in PREPARED_CALLS:
            client = account.client(service, region="us-east-1")
            if client.can_paginate(operation):
                client.get_paginator(operation)
            with contextlib.suppress(BotoCoreError, ClientError):
                getattr(client, operation)()
    return sum(1 for _ in folder.iterdir()) if folder.is_dir() else 0


if __name__ == "__main__":
    print(f"{prepare()} service models and data files cached for gameday's runs")
