"""Three teams face the same attack on Northwind — the incidents the golden tests score.

Every story starts the same way: the deploy key leaks at T0, AWS quarantines its user at 60 s
(seen only in IAM), opens the support case at 110 s (detection: the first notice the company
receives) and emails at 116 s, while the attacker checks the key, backdoors IAM at 4 m, starts
mining in two regions the company never uses at 6 m and stops CloudTrail at 7 m.
"""

from __future__ import annotations

from .journals import JournalBuilder, northwind

MINING_REGIONS = ("ap-southeast-3", "sa-east-1")


def attack(story: JournalBuilder) -> JournalBuilder:
    story.aws_notices()
    story.at("80s").attacker_whoami()
    story.at("2m").attacker_discovery(["us-east-1", "eu-west-1"])
    story.at("4m").attacker_backdoor_user("svc-backup-admin")
    story.at("6m").attacker_mining(MINING_REGIONS, count=2)
    story.at("7m").attacker_stop_logging("org-trail")
    return story


def well_drilled() -> JournalBuilder:
    story = attack(JournalBuilder(northwind(), team="red"))
    story.probes("0s", "2h", ok=True)
    story.at("3m").note("Incident declared; Priya is incident lead")
    story.at("4m").mark("acknowledge")
    story.at("5m").look_up_events()
    story.at("8m").deactivate("leaked")
    story.at("9m").repo_private()
    story.at("12m").sweep()
    story.at("13m").remove_user("svc-backup-admin")
    story.at("15m").terminate(story.mined)
    story.at("16m").attacker_refused("ec2:RunInstances", region="sa-east-1")
    story.at("18m").start_logging("org-trail")
    story.at("25m").delete_key("leaked")
    story.at("30m").rotate("alvarez-cli", "j.alvarez")
    story.create_key("deploy-bot")  # the deploy pipeline gets a key of its own again
    story.at("35m")
    fresh = story.create_key("billing-api")
    story.at("36m").put_secret("prod/billing-api/aws", fresh)
    story.at("45m").deactivate("billing-prod")
    story.at("50m").delete_key("billing-prod").reply_to_case()
    return story.end()


def only_deletes_the_key() -> JournalBuilder:
    story = attack(JournalBuilder(northwind(), team="green"))
    story.probes("0s", "2h", ok=True)
    story.at("20m").delete_key("leaked")
    # The backdoor user's key still works: the attacker carries on with it.
    story.at("30m").call("attacker", "iam:ListUsers")
    return story.end()


def careless() -> JournalBuilder:
    story = attack(JournalBuilder(northwind(), team="orange"))
    story.probes("0s", "11m", ok=True)
    story.probes("11m", "41m", ok=False)
    story.probes("41m", "2h", ok=True)
    story.at("3m").call("responder", "sts:GetCallerIdentity", key=story.leaked)
    story.at("5m").repo_deleted()
    story.at("6m").delete_key("leaked")
    story.at("10m").delete_key("billing-prod").delete_key("alvarez-cli")
    story.at("40m")
    fresh = story.create_key("billing-api")
    story.put_secret("prod/billing-api/aws", fresh)
    return story.end()
