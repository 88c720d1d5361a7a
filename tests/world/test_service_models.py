"""The service-model cache: the same data as botocore's parse, a copy each time, safe on disk."""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import botocore.loaders
import pytest

from gameday.world import service_models
from gameday.world.service_models import CACHE_VARIABLE, cache_folder, load_model_file

MODEL = {"metadata": {"apiVersion": "2026-01-01", "protocol": "json"}, "shapes": {"A": [1, 2.5]}}


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(CACHE_VARIABLE, str(tmp_path / "cache"))
    monkeypatch.setattr(service_models, "_memory", {})
    return tmp_path / "cache"


def _model_file(folder: Path, data: Any = MODEL, *, zipped: bool = False) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / "service-2"
    if zipped:
        Path(f"{stem}.json.gz").write_bytes(gzip.compress(json.dumps(data).encode()))
    else:
        Path(f"{stem}.json").write_text(json.dumps(data), encoding="utf-8")
    return str(stem)


def _counting(parses: list[str]) -> Callable[[str], Any]:
    def parse(path: str) -> Any:
        parses.append(path)
        return botocore.loaders.JSONFileLoader().load_file(path)

    return parse


def test_a_model_is_parsed_once_then_copied_from_memory(cache: Path, tmp_path: Path) -> None:
    stem = _model_file(tmp_path / "svc", zipped=True)
    parses: list[str] = []
    first = load_model_file(stem, _counting(parses))
    second = load_model_file(stem, _counting(parses))
    assert first == second == MODEL
    assert parses == [stem]
    second["shapes"]["B"] = {}  # botocore merges extras into what it loads
    assert "B" not in load_model_file(stem, _counting(parses))["shapes"]


def test_a_view_of_a_file_is_kept_apart_from_its_data_and_read_from_disk_next_time(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _model_file(tmp_path / "svc") + ".json"
    parses: list[str] = []

    def whole() -> Any:
        parses.append("whole")
        return json.loads(Path(source).read_text(encoding="utf-8"))

    def names() -> Any:
        parses.append("names")
        return sorted(MODEL["shapes"])

    assert service_models.load_data_file(source, whole) == MODEL
    assert service_models.load_data_file(source, names, view="shape-names") == ["A"]
    monkeypatch.setattr(service_models, "_memory", {})  # as the next process finds it
    assert service_models.load_data_file(source, names, view="shape-names") == ["A"]
    assert service_models.load_data_file(source, whole) == MODEL
    assert parses == ["whole", "names"]
    assert len(list(cache.rglob("*.marshal"))) == 2


def test_the_next_process_reads_the_disk_and_parses_nothing(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stem = _model_file(tmp_path / "svc")
    parses: list[str] = []
    load_model_file(stem, _counting(parses))
    entries = list(cache.glob("service-models/*/*.marshal"))
    assert len(entries) == 1
    assert entries[0].parent == cache_folder()
    assert "botocore" in entries[0].parent.name and "moto" in entries[0].parent.name
    monkeypatch.setattr(service_models, "_memory", {})  # a new process
    assert load_model_file(stem, _counting(parses)) == MODEL
    assert parses == [stem]


@pytest.mark.parametrize("damage", ["payload", "header", "truncated"])
def test_a_damaged_entry_is_ignored_and_written_again(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    stem = _model_file(tmp_path / "svc")
    load_model_file(stem, _counting([]))
    (entry,) = cache.glob("service-models/*/*.marshal")
    content = entry.read_bytes()
    if damage == "payload":
        entry.write_bytes(content[:-3] + b"\x00\x00\x00")
    elif damage == "header":
        entry.write_bytes(b"X" + content[1:])
    else:
        entry.write_bytes(content[: len(content) // 2])
    monkeypatch.setattr(service_models, "_memory", {})
    parses: list[str] = []
    assert load_model_file(stem, _counting(parses)) == MODEL
    assert parses == [stem]
    assert entry.read_bytes() == content


def test_a_changed_model_file_is_parsed_again(cache: Path, tmp_path: Path) -> None:
    stem = _model_file(tmp_path / "svc")
    load_model_file(stem, _counting([]))
    changed = {**MODEL, "version": "2.0"}
    _model_file(tmp_path / "svc", changed)
    os.utime(f"{stem}.json", ns=(1, 1))
    parses: list[str] = []
    assert load_model_file(stem, _counting(parses)) == changed
    assert parses == [stem]


def test_the_disk_cache_can_be_turned_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CACHE_VARIABLE, "off")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(service_models, "_memory", {})
    assert cache_folder() is None
    stem = _model_file(tmp_path / "svc")
    assert load_model_file(stem, _counting([])) == MODEL
    assert not (tmp_path / "xdg").exists()


def test_an_unwritable_cache_falls_back_to_parsing(cache: Path, tmp_path: Path) -> None:
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text("a file where the folder should be", encoding="utf-8")
    stem = _model_file(tmp_path / "svc")
    parses: list[str] = []
    assert load_model_file(stem, _counting(parses)) == MODEL
    assert parses == [stem]


def test_botocore_models_from_the_cache_equal_botocore_s_own(cache: Path) -> None:
    service_models.install()
    cached = botocore.loaders.create_loader()
    assert type(cached.file_loader).__name__ == "CachingJSONFileLoader"
    plain = botocore.loaders.Loader(file_loader=botocore.loaders.JSONFileLoader())
    for service in ("ec2", "iam", "sts"):
        expected = plain.load_service_model(service, "service-2")
        cached.load_service_model(service, "service-2")  # parsed, kept
        again = botocore.loaders.create_loader().load_service_model(service, "service-2")
        assert json.dumps(again, sort_keys=True) == json.dumps(expected, sort_keys=True)


def test_moto_s_data_files_come_through_the_cache_unchanged(cache: Path) -> None:
    import moto.utilities.utils

    service_models.install()
    resource = "ec2/resources/instance_types.json"
    first = moto.utilities.utils.load_resource(resource)
    assert list(cache.glob("service-models/*/*.marshal"))
    first["t3.micro"]["changed"] = True  # moto marks what it loads
    again = moto.utilities.utils.load_resource(resource)
    assert "changed" not in again["t3.micro"]
    raw = Path(moto.__file__).parent / f"{resource}.gz"
    assert again == json.loads(gzip.decompress(raw.read_bytes()))


def test_make_install_prepares_what_a_first_run_reads(tmp_path: Path) -> None:
    """`python -m gameday.world.service_models` (a step of `make install`) fills an empty
    cache with the models a run parses; a run afterwards finds nothing more to add."""
    import subprocess
    import sys

    from gameday.paths import PROJECT_ROOT

    environment = {**os.environ, CACHE_VARIABLE: str(tmp_path / "cache")}
    done = subprocess.run(
        [sys.executable, "-m", "gameday.world.service_models"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    folder = next((tmp_path / "cache" / "service-models").iterdir())
    prepared = {entry.name for entry in folder.iterdir()}
    assert done.stdout.startswith(f"{len(prepared)} service models")
    sources = " ".join(
        entry.read_bytes()[:400].decode("utf-8", "replace") for entry in folder.iterdir()
    )
    for model in ("ec2/2016-11-15/service-2", "iam/2010-05-08/service-2", "moto/ec2/resources"):
        assert model in sources
    scenario = "scenarios/credentials-baked-into-a-release-image.yaml"
    ran = subprocess.run(
        [sys.executable, "-m", "gameday", "run", scenario, "--clock", "virtual",
         "--responder", "runbooks/careless.py", "--out", str(tmp_path / "run"), "--plain"],
        cwd=PROJECT_ROOT, env=environment, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert ran.returncode == 1, ran.stderr  # the careless team fails; the run itself worked
    assert {entry.name for entry in folder.iterdir()} == prepared
