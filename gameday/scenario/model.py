"""The scenario format: typed, immutable models of one game day.

A scenario says who the victim is (the account and its estate), how the key leaks, what AWS
does and when (the timeline of injects), what the attacker does, which production workload
may suffer, and what the responders are expected to do (steps, penalties, pass mark).
Every model forbids unknown fields so a misspelt key is an error, not a silent default.
Cross-references between sections are checked by `gameday.scenario.references`.
"""

from __future__ import annotations

import shlex
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    model_validator,
)

from gameday.errors import did_you_mean, printable
from gameday.scenario.durations import DURATION_PATTERN, parse_duration
from gameday.scenario.fields import (
    ACCOUNT_ID_PATTERN,
    ACTION_PATTERN,
    IAM_NAME_PATTERN,
    Age,
    BranchName,
    BucketName,
    CommitMessage,
    Description,
    Ec2Tags,
    Ec2TagValue,
    Email,
    FunctionName,
    IamPath,
    InstanceType,
    IpAddress,
    Line,
    ObjectKey,
    PersonName,
    PolicyArn,
    PolicyRef,
    ProbeInterval,
    RelaunchInterval,
    RunLength,
    RunTime,
    SecretName,
    ServicePrincipal,
    Tags,
    TrailName,
    UserAgent,
    WebhookUrl,
    items,
)
from gameday.scenario.limits import MAX_ATTACHED_POLICIES, MAX_COMMITS, MAX_GROUPS_PER_USER

Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": DURATION_PATTERN},
                {"type": "number", "minimum": 0},
            ],
            "description": "a duration like 90s, 15m, 1h30m or 400d (or seconds)",
        }
    ),
]
Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=64)]
IamName = Annotated[str, Field(pattern=IAM_NAME_PATTERN, min_length=1, max_length=64)]
AccountId = Annotated[str, Field(pattern=ACCOUNT_ID_PATTERN)]

REGIONS = (
    "us-east-1", "us-east-2", "us-west-1", "us-west-2",
    "af-south-1", "ap-east-1", "ap-south-1", "ap-south-2", "ap-southeast-1", "ap-southeast-2",
    "ap-southeast-3", "ap-southeast-4", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
    "ca-central-1", "ca-west-1", "eu-central-1", "eu-central-2", "eu-west-1", "eu-west-2",
    "eu-west-3", "eu-south-1", "eu-south-2", "eu-north-1", "il-central-1", "me-south-1",
    "me-central-1", "sa-east-1",
)  # fmt: skip
Region = Literal[REGIONS]  # type: ignore[valid-type]

LEAK_VECTORS = (
    "shell-export",
    "aws-credentials-file",
    "dotenv",
    "python-boto3",
    "terraform-provider",
    "terraform-tfvars",
    "jupyter-notebook",
    "github-actions",
    "docker-compose",
    "kubernetes-secret",
    "helm-values",
    "notebook-output",
    "ci-log",
    "package-artifact",
    "docker-image",
)
# Vectors whose key is only in a release asset built from the repository (an sdist bundling a
# gitignored `.env`, a `docker save` tarball whose layer holds `/root/.aws/credentials`): the
# repository's history never holds it, and AWS's notice cites the asset's download URL.
RELEASE_ASSET_VECTORS = ("package-artifact", "docker-image")
LeakVector = Literal[LEAK_VECTORS]  # type: ignore[valid-type]

# Conditions an inject may depend on (`when:` / `unless:`); evaluated on the run's state.
CONDITIONS = (
    "enterprise-support",
    "business-support-or-higher",
    "case-replied",
    "case-resolved",
    "leaked-key-disabled",
    "leaked-key-deleted",
    "repository-private",
    "repository-deleted",
    "quarantine-attached",
)
Condition = Literal[CONDITIONS]  # type: ignore[valid-type]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# ── metadata and the account ──────────────────────────────────────────────────────────────


class Person(Model):
    name: PersonName
    email: Email


class Contact(Model):
    name: PersonName
    email: Email
    phone: Line | None = None
    title: Line | None = None


class Contacts(Model):
    primary: Contact
    security: Contact | None = None
    operations: Contact | None = None
    billing: Contact | None = None


class AccessKey(Model):
    """An access key of an IAM user. `id` is the name other sections use to refer to it."""

    id: Slug
    age: Age = Field(description="how long before the leak the key was created")
    status: Literal["Active", "Inactive"] = "Active"
    last_used: Age | None = Field(
        default=None, description="how long before the leak it was last used; omit for never"
    )
    last_used_service: str = Field(default="sts", pattern=r"^[a-z0-9-]{1,64}$")
    last_used_region: Region = "us-east-1"


class User(Model):
    name: IamName
    path: IamPath = "/"
    age: Age | None = Field(default=None, description="how long before the leak it was created")
    groups: list[IamName] = Field(default=[], max_length=MAX_GROUPS_PER_USER)
    policies: list[PolicyRef] = Field(
        default=[],
        max_length=MAX_ATTACHED_POLICIES,
        description="managed policy ARNs, or names of the estate's own policies",
    )
    inline_policies: dict[IamName, dict[str, Any]] = items("inline_policies", default={})
    keys: list[AccessKey] = []
    console: bool = Field(default=False, description="has a console password (login profile)")
    mfa: bool = False
    tags: Tags = {}


class Group(Model):
    name: IamName
    path: IamPath = "/"
    policies: list[PolicyRef] = Field(default=[], max_length=MAX_ATTACHED_POLICIES)


class Trust(Model):
    services: list[ServicePrincipal] = items("services", default=[])
    accounts: list[AccountId] = items("accounts", default=[])


class Role(Model):
    name: IamName
    path: IamPath = "/"
    description: Description = ""
    trust: Trust
    policies: list[PolicyRef] = Field(default=[], max_length=MAX_ATTACHED_POLICIES)


class Policy(Model):
    """A customer managed policy."""

    name: IamName
    path: IamPath = "/"
    description: Description = ""
    document: dict[str, Any]


class Secret(Model):
    name: SecretName
    description: Description = ""
    region: Region = "us-east-1"
    value: str | dict[str, Any] | None = None
    from_key: Slug | None = Field(
        default=None, description="store this access key (id and secret) as the secret's JSON"
    )


class BucketObject(Model):
    key: ObjectKey
    body: str = ""


class Bucket(Model):
    name: BucketName
    region: Region = "us-east-1"
    objects: list[BucketObject] = items("objects", default=[])


class Instances(Model):
    region: Region
    type: InstanceType = "t3.micro"
    count: int = Field(default=1, ge=1, le=50)
    name: Ec2TagValue
    tags: Ec2Tags = {}


class Trail(Model):
    """A CloudTrail trail delivering to one of the estate's buckets."""

    name: TrailName
    bucket: str
    region: Region = "us-east-1"
    multi_region: bool = True
    logging: bool = True


class Estate(Model):
    users: list[User] = items("users", default=[])
    groups: list[Group] = items("groups", default=[])
    roles: list[Role] = items("roles", default=[])
    policies: list[Policy] = items("policies", default=[])
    secrets: list[Secret] = items("secrets", default=[])
    buckets: list[Bucket] = items("buckets", default=[])
    instances: list[Instances] = items("instances", default=[])
    trails: list[Trail] = items("trails", default=[])


class Account(Model):
    id: AccountId
    alias: str = Field(pattern=r"^[a-z0-9]([a-z0-9-]{1,61}[a-z0-9])?$")
    support_plan: Literal["basic", "developer", "business", "enterprise"]
    contacts: Contacts
    regions: list[Region] = items(
        "regions", min_length=1, description="the regions the company uses"
    )
    estate: Estate = Estate()


# ── the leak ──────────────────────────────────────────────────────────────────────────────


class Repository(Model):
    owner: str = Field(pattern=r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")
    name: str = Field(pattern=r"^[A-Za-z0-9._-]{1,100}$")
    description: Line = ""
    default_branch: BranchName = "main"


class History(Model):
    before: int = Field(default=40, ge=0, le=MAX_COMMITS, description="commits before the leak")
    after: int = Field(default=0, ge=0, le=MAX_COMMITS, description="commits after the leak")
    span: Age = Field(default=42 * 86400, description="how far back the history starts")
    authors: list[Person] = items("authors", default=[])


class Removal(Model):
    """A later commit that deletes the key from the file, while history keeps it."""

    after_commits: int = Field(
        default=1, ge=1, le=MAX_COMMITS, description="the n-th commit after the leak"
    )
    message: CommitMessage = "Remove credentials from config"


TRICKS = ("feature-branch", "tag", "release", "commit-message", "force-push", "fork")


class Trick(Model):
    """Where in the repository's history the key hides, beyond a file on the default branch.

    `feature-branch`: the leak is pushed on a branch never merged (`name`, default
    `feature/<file stem>`); `tag`: the leak commit is tagged (`name`, default the project's
    next version) and the tag pushed; `release`: the same tag with a release whose source
    archive holds the file; `commit-message`: the commit message names the key too
    (`message`); `force-push`: right after the push the author rewrites the branch without
    the key and force-pushes, but the code host keeps the old commit by its id, so the
    team's clone holds no trace of the key while AWS's link still shows it (`message`: the
    rewritten commit's); `fork`: someone forks the public repository at the push (`name`:
    the fork's owner), and the fork keeps the key whatever becomes of the original.
    """

    type: Literal["feature-branch", "tag", "release", "commit-message", "force-push", "fork"]
    name: BranchName | None = Field(
        default=None, description="the branch or tag name, or the fork's owner; default per type"
    )
    message: CommitMessage | None = Field(
        default=None,
        description="commit-message: the leak's message, `{key}` standing for the key ID; "
        "force-push: the rewritten commit's message",
    )


class Leak(Model):
    user: IamName
    key: Slug | None = Field(default=None, description="the user's key that leaks; default first")
    vector: LeakVector
    path: str | None = Field(default=None, description="file path in the repository")
    message: CommitMessage = Field(default="", description="the commit message of the leak")
    author: Person
    repository: Repository
    history: History = History()
    removed: Removal | None = None
    trick: Trick | None = None


# ── the timeline: AWS's side of the incident ──────────────────────────────────────────────


class After(Model):
    inject: Slug
    delay: RunTime = 0


class InjectBase(Model):
    id: Slug
    at: RunTime | None = Field(default=None, description="offset from the push (T0)")
    after: After | None = None
    when: list[Condition] = items("when", default=[])
    unless: list[Condition] = items("unless", default=[])
    template: str | None = Field(
        default=None, max_length=200, description="template path under templates/"
    )


class QuarantineInject(InjectBase):
    type: Literal["quarantine"]
    policy: Literal["V1", "V2", "V3", "inline"] = "V3"


class SupportCaseInject(InjectBase):
    type: Literal["support-case"]
    subject: Line | None = None
    severity: Literal["low", "normal", "high", "urgent", "critical"] = "urgent"


class EmailInject(InjectBase):
    type: Literal["email"]
    to: list[Literal["primary", "security", "operations", "billing"] | Email] = items(
        "to", default=["security"]
    )
    subject: Line | None = None


class PhoneCallInject(InjectBase):
    type: Literal["phone-call"]
    to: Literal["primary", "security", "operations", "billing"] = "security"
    caller: PersonName = "AWS Enterprise Support"


class HealthEventInject(InjectBase):
    type: Literal["health-event"]
    event_type_code: Literal[
        "AWS_RISK_CREDENTIALS_EXPOSED",
        "AWS_RISK_CREDENTIALS_COMPROMISED",
        "AWS_RISK_CREDENTIALS_COMPROMISE_SUSPECTED",
        "AWS_RISK_CREDENTIALS_EXPOSURE_SUSPECTED",
        "AWS_RISK_IAM_QUARANTINE",
    ] = "AWS_RISK_CREDENTIALS_EXPOSED"


class WebhookInject(InjectBase):
    type: Literal["webhook"]
    url: WebhookUrl | None = Field(default=None, description="default: the run's --webhook option")
    text: str | None = None


class ConsoleInject(InjectBase):
    type: Literal["console"]
    text: str


INJECT_CLASSES = (
    QuarantineInject,
    SupportCaseInject,
    EmailInject,
    PhoneCallInject,
    HealthEventInject,
    WebhookInject,
    ConsoleInject,
)
# the `type` of each kind of inject, as a scenario spells it
INJECT_TYPES = frozenset(get_args(cls.model_fields["type"].annotation)[0] for cls in INJECT_CLASSES)

Inject = Annotated[
    QuarantineInject
    | SupportCaseInject
    | EmailInject
    | PhoneCallInject
    | HealthEventInject
    | WebhookInject
    | ConsoleInject,
    Field(discriminator="type"),
]


# ── the attacker ──────────────────────────────────────────────────────────────────────────


class TechniqueBase(Model):
    at: RunTime = Field(description="offset from the push (T0)")
    refused: bool = Field(
        default=False,
        description="meant to be refused (the quarantine at work): `validate --deep` does not "
        "warn that every call it makes fails",
    )


class Whoami(TechniqueBase):
    technique: Literal["aws.discovery.whoami"]


class Enumerate(TechniqueBase):
    technique: Literal["aws.discovery.enumerate"]
    regions: list[Region] = items("regions", default=[])


class BackdoorUser(TechniqueBase):
    technique: Literal["aws.persistence.iam-create-backdoor-user"]
    user_name: IamName = "svc-backup-admin"
    policy: PolicyArn = "arn:aws:iam::aws:policy/AdministratorAccess"


class BackdoorExistingUser(TechniqueBase):
    technique: Literal["aws.persistence.iam-backdoor-existing-user"]
    user_name: IamName


class LoginProfile(TechniqueBase):
    technique: Literal["aws.persistence.iam-create-login-profile"]
    user_name: IamName


class BackdoorRole(TechniqueBase):
    technique: Literal["aws.persistence.iam-create-backdoor-role"]
    role_name: IamName = "OrganizationAccountAccessRole-bkp"
    trusted_account: AccountId = "193672423079"
    policy: PolicyArn = "arn:aws:iam::aws:policy/AdministratorAccess"


class Ec2Mining(TechniqueBase):
    technique: Literal["aws.impact.ec2-mining"]
    regions: list[Region] = items("regions", min_length=1)
    instance_type: InstanceType = "p3.16xlarge"
    count: int = Field(default=4, ge=1, le=20)
    relaunch_every: RelaunchInterval | None = Field(
        default=600.0, description="relaunch terminated instances while credentials still work"
    )


class SecretsRetrieve(TechniqueBase):
    technique: Literal["aws.credential-access.secretsmanager-retrieve"]
    regions: list[Region] = items("regions", default=[])


class S3Download(TechniqueBase):
    technique: Literal["aws.exfiltration.s3-download"]
    buckets: list[str] = items("buckets", default=[])


class LambdaCreate(TechniqueBase):
    technique: Literal["aws.execution.lambda-create-function"]
    function_name: FunctionName = "system-metrics-agent"
    region: Region = "us-east-1"


class StopLogging(TechniqueBase):
    technique: Literal["aws.defense-evasion.cloudtrail-stop-logging"]
    trail: str | None = None


class RoleSession(TechniqueBase):
    technique: Literal["aws.persistence.sts-role-session"]
    role_name: IamName = Field(description="a role of the estate that trusts its own account")
    session_name: IamName = "aws-cli-session"
    duration: int = Field(
        default=3600, ge=900, le=43200, description="seconds the temporary credentials last"
    )
    use_every: RelaunchInterval | None = Field(
        default=600.0, description="uses the session again this often while it still works"
    )


class UserSession(TechniqueBase):
    technique: Literal["aws.persistence.sts-get-session-token"]
    duration: int = Field(
        default=43200, ge=900, le=129600, description="seconds the temporary credentials last"
    )
    use_every: RelaunchInterval | None = Field(
        default=600.0, description="uses the session again this often while it still works"
    )


Technique = Annotated[
    Whoami
    | Enumerate
    | BackdoorUser
    | BackdoorExistingUser
    | LoginProfile
    | BackdoorRole
    | Ec2Mining
    | SecretsRetrieve
    | S3Download
    | LambdaCreate
    | StopLogging
    | RoleSession
    | UserSession,
    Field(discriminator="technique"),
]


class Attacker(Model):
    first_use: RunTime = Field(default=180.0, description="first call with the key after the push")
    consistency_window: RunTime = Field(
        default=0, description="after quarantine, calls still succeed for this long"
    )
    source_ips: list[IpAddress] = items("source_ips", default=[])
    user_agents: list[UserAgent] = items("user_agents", default=[])
    techniques: list[Technique] = items("techniques", default=[])


# ── the production workload ───────────────────────────────────────────────────────────────


class Workload(Model):
    name: Line
    description: str = ""
    user: IamName
    key: Slug
    secret: str = Field(description="the Secrets Manager secret the service reads its key from")
    probe_every: ProbeInterval = 60


# ── the responders ────────────────────────────────────────────────────────────────────────


# The responders' user when the scenario names none: added to the estate as an old admin.
DEFAULT_RESPONDERS_USER = "security-oncall"


class Responders(Model):
    """Who the responders are in the account: an IAM user of the estate, whose access key
    their AWS profile (and a runbook's `ctx.aws`) signs with."""

    user: IamName | None = Field(
        default=None,
        description="an estate user with an active key (not the leaked key's user, not the "
        "workload's); default: a security on-call admin added to the estate",
    )


# ── expected steps, penalties, scoring ────────────────────────────────────────────────────


KeyRef = Annotated[str, Field(description="a key id from the estate, or 'leaked'")]


class AccessKeyDisabled(Model):
    type: Literal["access-key-disabled"]
    key: KeyRef | None = "leaked"
    user: IamName | None = None
    state: Literal["inactive", "deleted", "any"] = "any"


class KeysRotated(Model):
    """No active access key created before the breach, across all users (or the listed ones)."""

    type: Literal["keys-rotated"]
    users: list[IamName] = items("users", default=[])
    exclude: list[IamName] = items("users", default=[])


class AttackerLeftoversRemoved(Model):
    type: Literal["attacker-leftovers-removed"]
    kinds: list[
        Literal[
            "users", "access-keys", "login-profiles", "roles", "policies", "instances", "functions"
        ]
    ] = ["users", "access-keys", "login-profiles", "roles", "policies", "instances", "functions"]


class PolicyAttached(Model):
    type: Literal["policy-attached"]
    user: IamName | None = Field(default=None, description="default: the leaked key's user")
    policy: str = Field(description="'quarantine', 'deny-all', or a policy ARN")
    attached: bool = True


class QuarantineKept(Model):
    """The quarantine stayed until the leaked key was disabled — or, as a penalty, did not."""

    type: Literal["quarantine-kept-until-key-disabled", "quarantine-removed-early"]


class ApiCalled(Model):
    type: Literal["api-called"]
    action: str = Field(pattern=ACTION_PATTERN, description="e.g. cloudtrail:LookupEvents")
    before_step: Slug | None = None
    all_regions: bool = Field(default=False, description="called in every region")
    attacker_regions: bool = Field(
        default=False,
        description="called in every region that held the attacker's resources, after its "
        "last launch there",
    )
    covers: Literal["leaked-key"] | None = Field(
        default=None,
        description="cloudtrail:LookupEvents only: the lookup names the leaked key (or its "
        "user) over a window holding the attacker's activity in the region asked",
    )

    @model_validator(mode="after")
    def _covers_only_lookups(self) -> ApiCalled:
        if self.covers is not None and self.action != "cloudtrail:LookupEvents":
            raise ValueError("'covers' applies to cloudtrail:LookupEvents only")
        return self


class CaseState(Model):
    type: Literal["case-replied", "case-resolved"]


class RepositoryState(Model):
    type: Literal[
        "repository-private",
        "repository-deleted",
        "key-purged-from-history",
        "key-removed-from-code-host",
    ]


class SecretRotated(Model):
    type: Literal["secret-rotated"]
    secret: str


class WorkloadHealthy(Model):
    type: Literal["workload-healthy", "workload-outage"]


class LeakedKeyUsedByResponder(Model):
    type: Literal["leaked-key-used-by-responder"]


class ProductionKeyDeletedWithoutReplacement(Model):
    type: Literal["production-key-deleted-without-replacement"]


class LoggingEnabled(Model):
    type: Literal["logging-enabled"]
    trail: str | None = None


class SessionsRevoked(Model):
    """Every temporary session the attacker minted is dead: revoked, expired or its role gone."""

    type: Literal["sessions-revoked"]


class Manual(Model):
    type: Literal["manual"]
    instructions: str = ""


Check = Annotated[
    AccessKeyDisabled
    | KeysRotated
    | AttackerLeftoversRemoved
    | PolicyAttached
    | QuarantineKept
    | ApiCalled
    | CaseState
    | RepositoryState
    | SecretRotated
    | WorkloadHealthy
    | LeakedKeyUsedByResponder
    | ProductionKeyDeletedWithoutReplacement
    | LoggingEnabled
    | SessionsRevoked
    | Manual,
    Field(discriminator="type"),
]


class Step(Model):
    id: Slug
    title: Line
    phase: Literal["acknowledge", "contain", "eradicate", "recover", "communicate"]
    check: Check
    points: int = Field(ge=0, le=100)
    target: RunTime = Field(description="full points if satisfied by then (from detection)")
    deadline: RunTime = Field(description="zero points after this (from detection)")
    critical: bool = Field(default=False, description="the run fails if this step is not met")
    keep: bool = Field(
        default=False,
        description="something the team must not break: credited when it holds at detection "
        "and stays true; lost if it breaks",
    )
    after: list[Slug] = Field(
        default=[],
        description="steps that must be satisfied before this step's check becomes true",
    )
    throughout: Check | None = Field(
        default=None,
        description="a check that must hold over the step's whole window, from detection to "
        "its deadline (the outage a title's 'without an outage' promises to avoid): the step "
        "is lost the moment it breaks",
    )
    hint: str = ""


class Penalty(Model):
    id: Slug
    title: Line
    check: Check
    points: int = Field(ge=0, le=100)
    per_minute: bool = Field(default=False, description="points per minute the check holds")
    max_points: int | None = Field(default=None, ge=0, le=100)


class Collateral(Model):
    """The default penalty for collateral damage: what the team destroyed or disabled that the
    attacker did not create and no step asked to remove."""

    points: int = Field(default=5, ge=0, le=100, description="points per item damaged")
    max_points: int = Field(default=30, ge=0, le=100, description="the most it can cost")


class DebriefNote(Model):
    title: Line
    body: str


# ── the detection drill ───────────────────────────────────────────────────────────────────

# The drill's built-in scanner profiles, by name (gameday.drill.scanners runs each).
DRILL_SCANNERS = ("git-secrets", "detect-secrets", "trufflehog", "gitleaks")


def _drill_scanner(value: str) -> str:
    """A built-in profile's name, or a command of the team's own (it has arguments, or
    `{path}`); a single unknown word is taken for a misspelt name."""
    try:
        words = shlex.split(value)
    except ValueError as error:
        raise ValueError(
            f"'{printable(value)}' is not a command: {str(error).lower()} — close the quote"
        ) from None
    if not words:
        raise ValueError(
            "an empty scanner — name a built-in profile (git-secrets, detect-secrets, "
            "trufflehog, gitleaks) or give a command: 'my-scanner --strict {path}'"
        )
    if len(words) == 1 and "{path}" not in value and value not in DRILL_SCANNERS:
        raise ValueError(
            f"unknown scanner '{printable(value)}' — {did_you_mean(value, DRILL_SCANNERS)} "
            f"(a command of your own takes the folder to scan: '{printable(value)} {{path}}')"
        )
    return value


DrillScanner = Annotated[
    Line,
    AfterValidator(_drill_scanner),
    WithJsonSchema(
        {
            "anyOf": [
                {"enum": list(DRILL_SCANNERS), "description": "a built-in profile"},
                {
                    "type": "string",
                    "description": "a command of your own: with arguments, or `{path}`",
                },
            ]
        }
    ),
]


class Drill(Model):
    """The detection drill, played on the scenario's leak when a run ends: would the team's
    scanners have stopped the key, and at which stage (docs/leak-vectors.md)?"""

    scanners: list[DrillScanner] = items(
        "scanners",
        default=list(DRILL_SCANNERS),
        min_length=1,
        description="built-in profiles (git-secrets, detect-secrets, trufflehog, gitleaks; "
        "each skipped with a note where it is not installed) or a command of the team's own, "
        "run with the folder to scan appended or in place of `{path}` (a non-zero exit means "
        "it found something)",
    )


class Scenario(Model):
    """One game day, as written in a scenario YAML file."""

    id: Slug
    title: Line
    summary: str
    difficulty: Literal["introductory", "intermediate", "advanced", "expert"]
    duration: RunLength
    tags: list[Slug] = items("tags", default=[])
    account: Account
    leak: Leak
    timeline: list[Inject] = items("timeline", default=[])
    attacker: Attacker = Attacker()
    workload: Workload | None = None
    responders: Responders = Responders()
    steps: list[Step] = items("steps", min_length=1)
    penalties: list[Penalty] = items("penalties", default=[])
    pass_mark: int = Field(default=70, ge=0, le=100)
    collateral: Collateral | bool = Field(
        default=True,
        description="the collateral-damage penalty: `false` waives it, a mapping tunes it",
    )
    debrief: list[DebriefNote] = items("debrief", default=[])
    drill: Drill | None = Field(
        default=None,
        description="a detection drill on the leak, part of the run's report: which scanner "
        "would have stopped the key, and where",
    )
