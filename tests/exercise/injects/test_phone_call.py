"""The Enterprise Support phone call, as a script for the facilitator."""

from __future__ import annotations

import shutil

from needs import not_installed

from gameday.exercise.injects import MARKER, InjectOptions, deliver

from .harness import Harness, LeakedUser, scenario_for


def test_the_call_script_is_written_and_shown_to_the_facilitator(
    harness: Harness, leaked_user: LeakedUser
) -> None:
    scenario = scenario_for(
        leaked_user.user_name,
        [{"id": "case", "type": "support-case", "at": "2m"},
         {"id": "call", "type": "phone-call", "at": "10m", "when": ["enterprise-support"]}],
    )  # fmt: skip
    harness.clock.t = 600.0
    ctx = harness.context(scenario, leaked_user.access_key_id)

    delivered = deliver(scenario.timeline[1], ctx)

    script = (harness.run_dir / "calls" / "000600-call.md").read_text()
    assert script == delivered.body
    assert harness.console_lines == [script]
    assert MARKER in script
    assert "AWS Enterprise Support" in script
    assert "Sam Secure" in script and "+44 20 7946 0000" in script
    assert f"case {ctx.facts.case_id}" in script
    for fact in (leaked_user.access_key_id, leaked_user.user_name, ctx.facts.public_url):
        assert fact in script
    assert "never asks for a secret access key" in script
    assert "T+10m" in script
    assert delivered.subject.startswith(f"[{MARKER}] Phone call")
    assert {k: delivered.data[k] for k in ("account_id", "access_key_id", "user_name", "case_id",
                                           "public_url")} == {
        "account_id": ctx.facts.account_id, "access_key_id": leaked_user.access_key_id,
        "user_name": leaked_user.user_name, "case_id": ctx.facts.case_id,
        "public_url": ctx.facts.public_url,
    }  # fmt: skip
    (event,) = harness.events()
    assert event["script"] == "calls/000600-call.md"
    assert event["to"] == "Sam Secure"


def test_the_follow_up_call_goes_to_the_primary_when_no_such_contact(
    harness: Harness, leaked_user: LeakedUser
) -> None:
    scenario = scenario_for(
        leaked_user.user_name,
        [{"id": "again", "type": "phone-call", "at": "1d", "to": "operations",
          "template": "follow-up"}],
    )  # fmt: skip
    harness.clock.t = 86400.0
    delivered = deliver(scenario.timeline[0], harness.context(scenario, leaked_user.access_key_id))
    assert delivered.data["to"] == "Dana Ops"
    assert "Follow-up call" in delivered.body
    assert "five days" in delivered.body
    assert (harness.run_dir / "calls" / "086400-again.md").is_file()


def test_a_call_is_recorded_for_the_facilitator_unless_the_run_records_none(
    harness: Harness, leaked_user: LeakedUser
) -> None:
    scenario = scenario_for(
        leaked_user.user_name,
        [{"id": "call", "type": "phone-call", "at": "10m"}],
    )  # fmt: skip
    harness.clock.t = 600.0
    calls = harness.run_dir / "calls"
    # a virtual-time run's: the script, and no recording nobody would listen to
    quiet = harness.context(
        scenario, leaked_user.access_key_id, options=InjectOptions(record_calls=False)
    )
    deliver(scenario.timeline[0], quiet)
    (event,) = harness.events()
    assert "audio" not in event and "audio_error" not in event
    assert sorted(p.name for p in calls.iterdir()) == ["000600-call.md"]
    if shutil.which("espeak-ng") is None:
        not_installed("espeak-ng", "apt-get install espeak-ng")
    # a run a facilitator plays: the recording beside the script, dated at the call
    deliver(scenario.timeline[0], harness.context(scenario, leaked_user.access_key_id))
    recorded = harness.events()[-1]
    assert recorded["audio"] == "calls/000600-call.wav"
    audio = harness.run_dir / recorded["audio"]
    assert audio.stat().st_size > 1000
    assert audio.stat().st_mtime == (calls / "000600-call.md").stat().st_mtime
