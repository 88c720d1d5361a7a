"""Release-asset vectors: a key that was never committed, published in a release's download.

`package-artifact`: the sdist's `MANIFEST.in` says `include .env*` (for `.env.example`), and
the gitignored `.env` on the developer's machine goes into the tarball. `docker-image`: the
Dockerfile copies `.aws/credentials` (gitignored) to `/root/.aws/credentials`, and the
`docker save` tarball attached to the release holds it in its last layer.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import tarfile
from pathlib import Path

import pytest

from gameday.errors import UserError
from gameday.exercise.injects.facts import run_facts, sample_facts
from gameday.exercise.recovery import LeakFacts
from gameday.scenario.model import RELEASE_ASSET_VECTORS
from gameday.world.codehost import HostFiles, resolve
from gameday.world.decoys import account_of, estate_credentials, leaked_key_ref
from gameday.world.repo import CodeHost, build_repository
from tests.world.test_repo import PARSERS, SEED, git_out, make_scenario

OWNER, NAME = "northwind-labs", "storefront-tools"
DOCS_EXAMPLE_KEY = "AKIAIOSFODNN7EXAMPLE"


def asset_bytes(built_remote: Path, url: str) -> tuple[str, bytes]:
    found = re.fullmatch(
        rf"https://github\.com/{OWNER}/{NAME}/releases/download/([^/]+)/([^/]+)", url
    )
    assert found is not None, url
    tag, name = found.groups()
    assets = HostFiles(built_remote).release_assets(tag)
    assert list(assets) == [name]
    return tag, assets[name].read_bytes()


def key_file(vector: str, data: bytes) -> tuple[str, str]:
    """The member that holds the key, opened the way the artifact's own tools open it."""
    if vector == "package-artifact":
        with tarfile.open(fileobj=io.BytesIO(gzip.decompress(data))) as sdist:
            names = sdist.getnames()
            [env] = [n for n in names if n.endswith("/.env")]
            assert any(n.endswith("/PKG-INFO") for n in names)
            handle = sdist.extractfile(env)
            assert handle is not None
            return env, handle.read().decode()
    with tarfile.open(fileobj=io.BytesIO(data)) as image:
        manifest = json.loads(image.extractfile("manifest.json").read())  # type: ignore[union-attr]
        [entry] = manifest
        assert entry["RepoTags"] == [f"{NAME}:0.1.2"]
        config = json.loads(image.extractfile(entry["Config"]).read())  # type: ignore[union-attr]
        assert len(config["rootfs"]["diff_ids"]) == len(entry["Layers"])
        last = image.extractfile(entry["Layers"][-1]).read()  # type: ignore[union-attr]
    with tarfile.open(fileobj=io.BytesIO(last)) as layer:
        handle = layer.extractfile("root/.aws/credentials")
        assert handle is not None
        return "/root/.aws/credentials", handle.read().decode()


@pytest.mark.parametrize("vector", RELEASE_ASSET_VECTORS)
def test_release_asset_vector_builds_the_same_for_a_seed(tmp_path: Path, vector: str) -> None:
    scenario = make_scenario(vector=vector)
    first = build_repository(scenario, tmp_path / "a", seed=SEED)
    second = build_repository(scenario, tmp_path / "b", seed=SEED)
    assert first.public_url == second.public_url
    assert first.leak_commit == second.leak_commit
    assert asset_bytes(first.remote, first.public_url) == asset_bytes(
        second.remote, second.public_url
    )
    other = build_repository(scenario, tmp_path / "c", seed=SEED + 1)
    assert other.credential != first.credential


@pytest.mark.parametrize("vector", RELEASE_ASSET_VECTORS)
def test_release_asset_holds_a_live_key_of_the_account_never_committed(
    tmp_path: Path, vector: str
) -> None:
    scenario = make_scenario(vector=vector)
    built = build_repository(scenario, tmp_path, seed=SEED)
    expected = estate_credentials(scenario, SEED)[leaked_key_ref(scenario)]
    assert built.credential == expected
    assert account_of(built.credential.access_key_id) == "491826357014"
    assert built.credential.access_key_id != DOCS_EXAMPLE_KEY
    tag, data = asset_bytes(built.remote, built.public_url)
    assert built.leak_path == built.public_url.rsplit("/", 1)[1]
    member, text = key_file(vector, data)
    values = PARSERS[vector](text)
    assert values["AWS_ACCESS_KEY_ID"] == built.credential.access_key_id
    assert values["AWS_SECRET_ACCESS_KEY"] == built.credential.secret_access_key
    # the repository never held the key: the leak commit adds the build file that bundles it
    history = git_out(built.remote, "log", "--all", "-p")
    assert built.credential.access_key_id not in history
    assert built.credential.secret_access_key not in history
    assert not CodeHost(built.remote).key_in_history(built.credential.access_key_id)
    assert git_out(built.remote, "rev-parse", f"{tag}^{{commit}}").strip() == built.leak_commit
    ignored = git_out(built.remote, "show", f"{built.leak_commit}:.gitignore")
    build_file = git_out(built.remote, "show", f"{built.leak_commit}:{scenario_path(vector)}")
    if vector == "package-artifact":
        assert ".env\n" in ignored and "include .env*" in build_file
        assert member.endswith("storefront_tools-0.1.2/.env")
    else:
        assert ".aws/\n" in ignored
        assert "COPY .aws/credentials /root/.aws/credentials" in build_file


def scenario_path(vector: str) -> str:
    return {"package-artifact": "MANIFEST.in", "docker-image": "Dockerfile"}[vector]


@pytest.mark.parametrize("vector", RELEASE_ASSET_VECTORS)
def test_the_notice_url_resolves_on_the_code_host_to_the_asset(tmp_path: Path, vector: str) -> None:
    scenario = make_scenario(vector=vector)
    built = build_repository(scenario, tmp_path, seed=SEED)
    _, data = asset_bytes(built.remote, built.public_url)
    served = resolve(built.public_url, built.remote, OWNER, NAME, state="public")
    assert served is not None and served.content == data
    assert served.commit is None
    host = CodeHost(built.remote, watch_key=built.credential.access_key_id)
    held = {(p.kind, p.name) for p in host.places(OWNER, NAME) if p.holds_key}
    assert held == {("release", "v0.1.2")}  # no branch, no tag: only the download
    # AWS's notice cites the download; a resumed run reads the same leak back from the URL
    facts = run_facts(scenario, seed=SEED)
    assert facts.public_url == built.public_url
    assert facts.leak_commit == built.leak_commit
    leak = LeakFacts.from_url(facts.public_url, built.remote)
    assert (leak.leak_commit, leak.leak_path) == (built.leak_commit, built.leak_path)
    assert "/releases/download/v1.0.0/" in sample_facts(scenario, seed=SEED).public_url
    # the owners' button takes it down
    host.act("delete-release", "v0.1.2")
    assert resolve(built.public_url, built.remote, OWNER, NAME, state="public") is None


@pytest.mark.parametrize("vector", RELEASE_ASSET_VECTORS)
def test_release_asset_vector_refuses_a_trick_or_a_removal(vector: str) -> None:
    for extra in ({"trick": {"type": "tag"}}, {"removed": {"after_commits": 1}}):
        scenario = make_scenario(vector=vector, **extra)
        with pytest.raises(UserError, match="release asset"):
            build_repository(scenario, Path("/nonexistent-never-written"), seed=SEED)
