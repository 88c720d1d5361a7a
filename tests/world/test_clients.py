"""Cheap clients: made once per signer, service and region, classes shared, calls unchanged."""

from __future__ import annotations

import socket
import subprocess
import sys

import boto3
import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ProxyConnectionError

from gameday.journal import read_journal
from gameday.world.account import MockAccount
from gameday.world.clients import MockSession, bare_botocore_session
from gameday.world.estate import SeededEstate


def test_a_session_gives_back_the_client_it_made_for_the_same_arguments(
    mock_account: MockAccount, estate: SeededEstate
) -> None:
    session = mock_account.session(mock_account.responder.credential, framework_client=False)
    iam = session.client("iam")
    assert session.client("iam") is iam
    frankfurt = session.client("ec2", region_name="eu-central-1")
    assert session.client("ec2", region_name="eu-central-1") is frankfurt
    ireland = session.client("ec2", region_name="eu-west-1")
    assert ireland is not frankfurt
    assert ireland.meta.region_name == "eu-west-1"
    assert frankfurt.meta.region_name == "eu-central-1"
    # each signs for its own region and answers from it
    before = {
        client: len(client.describe_instances()["Reservations"]) for client in (frankfurt, ireland)
    }
    frankfurt.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1)
    assert len(ireland.describe_instances()["Reservations"]) == before[ireland]
    assert len(frankfurt.describe_instances()["Reservations"]) == before[frankfurt] + 1
    users = {u["UserName"] for u in iam.list_users()["Users"]}
    assert mock_account.responder.user_name in users


def test_clients_of_other_signers_share_a_class_yet_sign_as_their_own(
    mock_account: MockAccount, estate: SeededEstate
) -> None:
    responder = mock_account.session(mock_account.responder.credential, framework_client=False)
    ours = responder.client("sts")
    framework = mock_account.client("sts")
    assert type(ours) is type(framework)
    assert framework is mock_account.client("sts")
    assert ours.get_caller_identity()["Arn"] == mock_account.responder.arn
    framework.get_caller_identity()
    with_another_key = mock_account.client("sts", mock_account.responder.credential)
    assert with_another_key is not framework
    actors = [
        event.get("actor")
        for event in read_journal(mock_account.journal.path)  # type: ignore[union-attr]
        if event["kind"] == "api.call"
    ]
    assert actors[-2:] == ["responder", "framework"]


def test_a_bad_key_still_fails_on_a_shared_client_class(mock_account: MockAccount) -> None:
    session = MockSession(
        mock_account.endpoint_url,
        {},
        now=mock_account.now,
        aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
        aws_secret_access_key="x" * 40,
        region_name="us-east-1",
    )
    try:
        session.client("sts").get_caller_identity()
    except ClientError as error:
        assert error.response["Error"]["Code"] == "InvalidClientTokenId"
    else:
        raise AssertionError("an unknown key was accepted")


def test_sessions_of_others_build_their_client_classes_as_botocore_does() -> None:
    ours = boto3.Session(botocore_session=bare_botocore_session(), region_name="us-east-1")
    theirs = boto3.Session(
        botocore_session=botocore.session.Session(),
        region_name="us-east-1",
        aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
        aws_secret_access_key="x" * 40,
    )
    assert type(ours.client("sts")) is type(ours.client("sts", region_name="eu-west-1"))
    assert type(theirs.client("sts")) is not type(theirs.client("sts"))
    # and the service's model: its caches (the error codes a refusal is read with) fill once
    model = ours.client("iam").meta.service_model
    assert ours.client("iam", region_name="eu-west-1").meta.service_model is model
    assert theirs.client("iam").meta.service_model is not theirs.client("iam").meta.service_model
    # boto3's own methods injected for S3 are there on the shared class
    assert hasattr(ours.client("s3"), "upload_file")
    assert hasattr(ours.client("s3", region_name="eu-west-1"), "download_file")


def test_a_runbooks_process_makes_its_clients_without_importing_the_mock() -> None:
    # what a runbook's process imports before its runbook starts: its clients, not moto
    script = (
        "import sys\n"
        "from gameday.exercise.runbook_host import _prepare_context\n"
        "from gameday.world.clients import MockSession\n"
        "_prepare_context()\n"
        "MockSession('http://127.0.0.1:9', {}).client('sts', region_name='us-east-1')\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'moto', 'werkzeug', 'flask'}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout == "[]\n", done.stderr


def test_clients_reach_the_mock_directly_whatever_proxy_the_machine_sets(
    mock_account: MockAccount, estate: SeededEstate, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a company's proxy (or a developer's debugging one) cannot reach this machine's
    # loopback: through it, every call of a run failed with ProxyConnectionError
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{closed.getsockname()[1]}"  # nothing listens there
    for variable in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        monkeypatch.setenv(variable, dead)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    session = mock_account.session(mock_account.responder.credential, framework_client=False)
    sts = session.client("sts", region_name="eu-west-2")
    assert sts.get_caller_identity()["Account"] == mock_account.account_id
    # a client given settings of its own keeps them, and still goes direct
    patient = session.client("iam", config=Config(retries={"max_attempts": 7}))
    assert patient.meta.config.retries["total_max_attempts"] == 8  # 7 retries and the call
    users = {user["UserName"] for user in patient.list_users()["Users"]}
    assert mock_account.responder.user_name in users
    # a botocore session of anyone else's still honours the machine's proxy
    other = botocore.session.Session().create_client(
        "sts", region_name="us-east-1", endpoint_url=mock_account.endpoint_url,
        aws_access_key_id="AKIAEXAMPLEEXAMPLE12", aws_secret_access_key="x" * 40,
    )  # fmt: skip
    with pytest.raises(ProxyConnectionError):
        other.get_caller_identity()
