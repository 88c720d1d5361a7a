"""A human team plays the seed scenario through the web console, in headless Chromium.

From a fresh clone of the project (the console needs nothing that is not committed), the
facilitator starts `gameday run --console`; the team signs in with the token from its room's
CONSOLE.txt, deactivates the leaked key, terminates the attacker's miners in the regions the
account never uses, and replies to AWS's support case. Each click must be an API call of the
responder's in the journal, an event in CloudTrail (as the console's own CloudTrail page
shows it), and count in the score exactly as the same call from the CLI would. Every page of
the console is photographed on the way (GAMEDAY_CONSOLE_SHOTS names the folder to keep them).
"""

from __future__ import annotations

import configparser
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from exercise.test_dashboard import wait_for, webdriver_or_skip
from exercise.test_run_e2e import REPO_ROOT, environment, gameday_here

from gameday.journal import Event, read_journal
from gameday.rundir import RunDir

pytestmark = pytest.mark.slow

SEED = "scenarios/exported-keys-in-script.yaml"
MINER_REGIONS = {"ap-southeast-3", "sa-east-1"}


def scenario_with_early_miners(clone: Path) -> Path:
    """The seed scenario, its attacker quicker: the miners are up before the quarantine lands.

    (In the library's scenario the quarantine may already refuse them; the team here must
    have miners to terminate.)
    """
    document = yaml.safe_load((clone / SEED).read_text(encoding="utf-8"))
    attacker = document["attacker"]
    attacker["first_use"] = "40s"
    times = {"aws.discovery.whoami": "40s", "aws.persistence.iam-create-backdoor-user": "44s",
             "aws.impact.ec2-mining": "50s", "aws.discovery.enumerate": "2m"}  # fmt: skip
    attacker["techniques"] = [
        {**technique, "at": times[technique["technique"]]}
        for technique in attacker["techniques"]
        if technique["technique"] in times
    ]
    assert {t["technique"] for t in attacker["techniques"]} == set(times)
    path = clone / "console-scenario.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def responder_calls(run: RunDir, action: str) -> list[Event]:
    return [
        e
        for e in read_journal(run.journal)
        if e["kind"] == "api.call" and e.get("actor") == "responder" and e["action"] == action
    ]


def test_a_team_contains_the_incident_from_the_web_console(tmp_path: Path) -> None:
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.expected_conditions import staleness_of
    from selenium.webdriver.support.select import Select

    shots = Path(os.environ.get("GAMEDAY_CONSOLE_SHOTS") or tmp_path / "shots")
    shots.mkdir(parents=True, exist_ok=True)
    for old in shots.glob("*.png"):
        old.unlink()
    browser = webdriver_or_skip(tmp_path / "profile")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(REPO_ROOT), str(clone)], check=True)
    scenario = scenario_with_early_miners(clone)
    run = RunDir(tmp_path / "run")
    log = tmp_path / "run.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "gameday", "run", scenario.name, "--out", str(run.path),
         "--speed", "30", "--console", "--plain", "--team", "browser"],
        cwd=clone, env=environment(), stdin=subprocess.DEVNULL, stdout=log.open("w"),
        stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip

    def shoot(name: str) -> None:
        browser.save_screenshot(str(shots / f"{len(list(shots.glob('*.png'))) + 1:02d}-{name}.png"))

    def started() -> dict[str, Any] | None:
        events = read_journal(run.journal) if run.journal.exists() else []
        return next((e for e in events if e["kind"] == "run.started"), None)

    try:
        wait_for(lambda: run.status().get("state") == "running", 120, "the run to start")
        facts = wait_for(started, 10, "run.started")
        leaked, leaked_user = facts["leaked_access_key_id"], facts["leaked_user"]
        room = run.team
        link = (room / "CONSOLE.txt").read_text(encoding="utf-8")
        assert link.startswith("SIMULATION — game day exercise\n")
        origin = re.search(r"^address: (http://127\.0\.0\.1:\d+)/$", link, re.MULTILINE)
        token = re.search(r"^token: (\S+)$", link, re.MULTILINE)
        assert origin and token, link
        address = origin.group(1)
        assert f"Sign in with the token `{token.group(1)}`" in (room / "HANDOUT.md").read_text()
        credentials = configparser.ConfigParser()
        credentials.read(room / "aws" / "credentials")
        team_key = credentials["gameday"]["aws_access_key_id"]
        element, elements = browser.find_element, browser.find_elements

        def page_text() -> str:
            return str(element(By.TAG_NAME, "body").text)

        def visit(path: str) -> None:
            browser.get(address + path)
            assert "SIMULATION — game day exercise" in element(By.CLASS_NAME, "simulation").text

        def gone(page: Any) -> bool:
            try:
                return bool(staleness_of(page)(browser))
            except WebDriverException as error:
                # Chromium's word, mid-navigation, for a node of the page it has just left
                if "does not belong to the document" in str(error.msg):
                    return True
                raise

        def click(target: Any) -> None:
            """Click what loads a new page, and wait until it has."""
            page = element(By.TAG_NAME, "html")
            target.click()
            wait_for(lambda: gone(page), 30, "the next page")
            assert "SIMULATION — game day exercise" in element(By.CLASS_NAME, "simulation").text

        # Signing in: a wrong token is turned away, the handout's opens the console.
        visit("/iam/users")
        assert browser.current_url.startswith(address + "/login")
        shoot("login")
        element(By.ID, "token").send_keys("not-the-token")
        click(element(By.ID, "sign-in"))
        assert "not this exercise's console token" in page_text()
        element(By.ID, "token").send_keys(token.group(1))
        click(element(By.ID, "sign-in"))
        assert browser.current_url == address + "/iam/users"
        visit("/")
        assert "Console home" in page_text()
        shoot("home")

        # While the attacker gets going, the team looks around: roles, secrets, the mail.
        visit("/iam/roles")
        shoot("iam-roles")
        click(element(By.LINK_TEXT, "partner-audit"))
        assert "250017543218" in page_text()
        shoot("iam-role")
        visit("/secrets")
        shoot("secrets")
        click(element(By.LINK_TEXT, "prod/web/database"))
        click(element(By.ID, "reveal"))
        assert "correct-horse-battery" in element(By.ID, "secret-value").text
        element(By.ID, "new-value").send_keys('{"username": "web", "password": "rotated"}')
        click(element(By.ID, "store"))
        assert "New value stored (version " in page_text()
        [stored] = responder_calls(run, "PutSecretValue")
        assert (stored["status"], stored["params"]["SecretId"]) == (200, "prod/web/database")
        click(element(By.ID, "reveal"))
        assert '"rotated"' in element(By.ID, "secret-value").text
        shoot("secret")
        wait_for(lambda: any((room / "mail" / "new").iterdir()), 60, "AWS's email")
        visit("/inbox")
        assert "is compromised" in page_text()
        shoot("inbox")
        click(element(By.CSS_SELECTOR, "#inbox tbody a"))
        assert "SIMULATION" in page_text() and leaked in page_text()
        shoot("mail")

        # The miners arrived at T+0:50 in two regions the account never uses.
        mining = wait_for(
            lambda: next(
                (e for e in read_journal(run.journal) if e["kind"] == "attacker.technique"
                 and e["technique"] == "aws.impact.ec2-mining" and e.get("created")),
                None,
            ),
            90,
            "the miners",
        )  # fmt: skip
        miners = {r["id"]: r["region"] for r in mining["created"] if r["kind"] == "instance"}
        assert set(miners.values()) == MINER_REGIONS

        # 1. Deactivate the leaked key.
        visit("/iam/users")
        assert leaked_user in page_text()
        shoot("iam-users")
        click(element(By.LINK_TEXT, leaked_user))
        row = f"key-{leaked}"
        assert element(By.ID, row).find_element(By.CLASS_NAME, "badge").text == "Active"
        click(element(By.ID, row).find_element(By.XPATH, ".//button[@value='deactivate']"))
        assert f"Access key {leaked} deactivated." in page_text()
        assert element(By.ID, row).find_element(By.CLASS_NAME, "badge").text == "Inactive"
        shoot("iam-user")
        [deactivated] = responder_calls(run, "UpdateAccessKey")
        assert deactivated["params"]["AccessKeyId"] == leaked
        assert deactivated["params"]["Status"] == "Inactive"
        assert (deactivated["status"], deactivated["access_key_id"]) == (200, team_key)
        # the user's new key (its secret shown once), and the attacker's user stripped
        click(element(By.ID, "create-key"))
        [created] = responder_calls(run, "CreateAccessKey")
        assert created["status"] == 200 and created["params"]["UserName"] == leaked_user
        assert re.search(
            r"New access key AKIA\w{16} — secret \S{40}\.", element(By.ID, "new-key").text
        )
        visit("/iam/users/svc-backup-admin")
        while buttons := elements(By.XPATH, "//button[@name='arn' or @value='delete']"):
            click(buttons[0])
        assert "No access keys." in page_text() and "No policies." in page_text()
        shoot("iam-backdoor-user")
        assert [e["status"] for e in responder_calls(run, "DetachUserPolicy")] == [200]
        assert [e["status"] for e in responder_calls(run, "DeleteAccessKey")] == [200]

        # 2. Terminate the miners, found in the all-regions view.
        visit("/ec2/instances?region=all")
        for instance_id in miners:
            assert instance_id in page_text()
        shoot("ec2-all-regions")
        for instance_id, region in miners.items():
            box = f"//input[@name='instance' and @value='{region}/{instance_id}']"
            element(By.XPATH, box).click()
        click(element(By.ID, "terminate"))
        for region in MINER_REGIONS:
            assert f"in {region}." in page_text()
        shoot("ec2-terminated")
        terminated = responder_calls(run, "TerminateInstances")
        assert {e["region"] for e in terminated} == MINER_REGIONS
        ids = {v for e in terminated for k, v in e["params"].items() if k.startswith("InstanceId")}
        assert ids == set(miners)
        assert all(e["status"] == 200 for e in terminated)
        visit("/ec2/instances?region=sa-east-1")
        assert "sa-east-1" in element(By.ID, "region").get_attribute("value")
        shoot("ec2-one-region")

        # 3. Reply to AWS's support case.
        visit("/support")
        shoot("support-cases")
        click(element(By.CSS_SELECTOR, "#cases tbody a"))
        reply = "We deactivated the exposed key and terminated the instances it launched."
        element(By.ID, "reply-body").send_keys(reply)
        click(element(By.ID, "send-reply"))
        assert "Reply sent to AWS Support." in page_text()
        assert reply in page_text()
        shoot("support-case")
        [replied] = responder_calls(run, "AddCommunicationToCase")
        assert replied["status"] == 200

        # CloudTrail shows each click under the team's own key, in the region it was made in
        # (IAM's and Support's in us-east-1), as in AWS.
        def look_up(region: str) -> list[str]:
            visit("/cloudtrail")
            Select(element(By.ID, "region")).select_by_value(region)
            Select(element(By.ID, "attribute")).select_by_value("AccessKeyId")
            element(By.ID, "value").send_keys(team_key)
            click(element(By.ID, "lookup"))
            return [s.text for s in elements(By.CSS_SELECTOR, "#events summary .name")]

        for region in MINER_REGIONS:
            assert look_up(region).count("TerminateInstances") == 1, region
        names = look_up("us-east-1")
        assert {"UpdateAccessKey", "AddCommunicationToCase"} <= set(names)
        assert "TerminateInstances" not in names
        name = next(s for s in elements(By.CSS_SELECTOR, "#events summary .name")
                    if s.text == "UpdateAccessKey")  # fmt: skip
        summary = name.find_element(By.XPATH, "..")
        summary.click()
        browser.execute_script("arguments[0].scrollIntoView(); window.scrollBy(0, -90)", summary)
        detail = json.loads(
            summary.find_element(By.XPATH, "..").find_element(By.TAG_NAME, "pre").text
        )
        assert detail["requestParameters"]["accessKeyId"] == leaked
        assert detail["userIdentity"]["accessKeyId"] == team_key
        shoot("cloudtrail")

        ended = gameday_here("end", run.path, token=re.search(
            r"^facilitator token: (\S+)$", log.read_text(), re.MULTILINE).group(1))  # type: ignore[union-attr]  # fmt: skip
        assert ended.returncode == 0, ended.stderr
        process.wait(120)
    finally:
        browser.quit()
        if process.poll() is None:
            process.kill()
            process.wait(30)

    # The score counts the console's calls as it counts the CLI's.
    score = json.loads((run.path / "score.json").read_text(encoding="utf-8"))
    steps = {step["id"]: step for step in score["steps"]}
    # (full points by T+11:50, 24 s in at 30×: on a machine that busy, some of them)
    assert steps["disable-leaked-key"]["status"] in ("success", "partial"), steps
    assert steps["disable-leaked-key"]["awarded"] > 0
    assert steps["reply-to-case"]["status"] == "success", steps["reply-to-case"]
    # the miners the team terminated are no longer among the attacker's leftovers (the
    # backdoor user's key may have launched others since: its own, still there)
    leftovers = steps["remove-attacker-leftovers"]["reason"]
    assert not [instance for instance in miners if instance in leftovers], leftovers
    # the all-regions view asked every region, as the sweep step wants
    swept = {e["region"] for e in responder_calls(run, "DescribeInstances")}
    assert swept > MINER_REGIONS and len(swept) >= 16
    assert len(list(shots.glob("*.png"))) == 17
