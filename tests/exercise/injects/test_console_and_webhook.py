"""The facilitator's console, and a chat webhook received by a local HTTP server."""

from __future__ import annotations

import json

from gameday.exercise.injects import MARKER, InjectOptions, deliver

from .harness import Harness, Hook, LeakedUser, scenario_for


def test_console_message_reaches_only_the_facilitator(
    harness: Harness, leaked_user: LeakedUser
) -> None:
    scenario = scenario_for(
        leaked_user.user_name,
        [{"id": "cue", "type": "console", "at": "5m",
          "text": "The attacker starts enumerating with {{ access_key_id }}."}],
    )  # fmt: skip
    delivered = deliver(scenario.timeline[0], harness.context(scenario, leaked_user.access_key_id))
    text = f"The attacker starts enumerating with {leaked_user.access_key_id}."
    assert harness.console_lines == [text]
    assert delivered.body == text
    assert not (harness.run_dir / "mail").exists()
    assert harness.events()[0]["text"] == text


def test_webhook_posts_slack_shaped_json(
    harness: Harness, leaked_user: LeakedUser, webhook_server: Hook
) -> None:
    scenario = scenario_for(
        leaked_user.user_name,
        [{"id": "health", "type": "health-event", "at": "2m"},
         {"id": "chat", "type": "webhook", "after": {"inject": "health", "delay": "30s"}}],
    )  # fmt: skip
    options = InjectOptions(webhook_url=webhook_server.url)
    delivered = deliver(scenario.timeline[1], harness.context(scenario, leaked_user.access_key_id,
                                                              options=options))  # fmt: skip

    (request,) = webhook_server.requests
    assert request["path"] == "/services/T0GAMEDAY/B0GAMEDAY/secret-token"
    assert request["headers"]["Content-Type"] == "application/json"
    payload = json.loads(request["body"])
    assert MARKER in payload["text"]
    assert leaked_user.access_key_id in payload["text"]
    assert payload["blocks"][0] == {
        "type": "header", "text": {"type": "plain_text", "text": MARKER, "emoji": False},
    }  # fmt: skip
    assert payload["blocks"][1]["text"]["text"] == payload["text"]
    assert payload == delivered.data["payload"]
    (event,) = harness.events()
    assert (event["status"], event["http_status"]) == ("sent", 200)
    # The token in the URL stays out of the journal.
    assert "secret-token" not in json.dumps(event)
    assert event["url"].endswith("/…")


def test_webhook_failures_are_journaled_not_raised(
    harness: Harness, leaked_user: LeakedUser, webhook_server: Hook
) -> None:
    webhook_server.status[0] = 500
    scenario = scenario_for(
        leaked_user.user_name,
        [{"id": "chat", "type": "webhook", "at": "3m", "url": webhook_server.url,
          "text": "Key {{ access_key_id }} is out"},
         {"id": "nowhere", "type": "webhook", "at": "4m"}],
    )  # fmt: skip
    ctx = harness.context(scenario, leaked_user.access_key_id)

    deliver(scenario.timeline[0], ctx)
    deliver(scenario.timeline[1], ctx)

    failed, skipped = harness.events()
    assert (failed["status"], failed["http_status"]) == ("failed", 500)
    assert skipped["status"] == "skipped"
    assert json.loads(webhook_server.requests[0]["body"])["text"].endswith(
        f"Key {leaked_user.access_key_id} is out"
    )
