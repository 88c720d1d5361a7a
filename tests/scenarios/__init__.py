"""Tests of the scenario format: loader, cross-references, durations, the CLI's scenario commands.

`SMALL_SCENARIO` is the smallest scenario that exercises every section the tests alter; each
file under `bad/` is a copy of it with one mistake.
"""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
BAD_DIR = Path(__file__).resolve().parent / "bad"

SMALL_SCENARIO = """\
id: small-leak
title: A deploy key pushed to a public repository
summary: A developer pushes a script that exports an access key.
difficulty: introductory
duration: 1h

account:
  id: "491826357014"
  alias: northwind-dev
  support_plan: business
  contacts:
    primary: {name: Dana Whitfield, email: aws-root@northwind.example}
  regions: [us-east-1]
  estate:
    users:
      - name: deployer
        keys:
          - {id: deploy-key, age: 30d}

leak:
  user: deployer
  vector: shell-export
  path: scripts/deploy.sh
  author: {name: Jordan Alvarez, email: jordan@northwind.example}
  repository: {owner: northwind-labs, name: deploy-tools}

timeline:
  - {id: quarantine, type: quarantine, at: 67s}
  - {id: support-case, type: support-case, at: 2m}

attacker:
  techniques:
    - {technique: aws.discovery.whoami, at: 90s}

steps:
  - id: disable-leaked-key
    title: Deactivate the leaked key
    phase: contain
    check: {type: access-key-disabled, key: leaked}
    points: 50
    target: 10m
    deadline: 40m
"""
