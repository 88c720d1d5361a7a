"""CloudTrail event history, answered from the journal (moto has no `LookupEvents`).

Every `api.call` the gateway journals is also an event here, kept in an in-memory index fed
by `Journal.subscribe`, so a lookup never re-reads the journal file. Only what CloudTrail's
event history really shows is kept: management events of authenticated callers, not S3
object-level (data) events, not requests rejected for bad credentials. Of the framework's
calls (`actor: framework`), only AWS's own acts on the account are events — the quarantine
policy AWS attaches (`AWS_ACTS`) — and they read as AWS's: a `userIdentity` of type
`AWSService` invoked by "AWS Internal", from "AWS Internal", with no access key; the
exercise's plumbing (warm-up, the Health event it puts on the bus) is not there at all.
Each event lives in the region it happened in (IAM's in us-east-1), and a lookup sees only
its own region's history, as in AWS.

`lookup_events` takes the request as boto3 sends it and returns CloudTrail's response shape:
`Events[]` with `EventId`, `EventName`, `ReadOnly`, `AccessKeyId`, `EventTime`, `EventSource`,
`Username`, `Resources` and the full record as the `CloudTrailEvent` JSON string; newest
first; one `LookupAttributes` filter; `StartTime`/`EndTime`; `MaxResults` up to 50;
`NextToken` paging.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from gameday.journal import Event

LOOKUP_ATTRIBUTES = (
    "EventId",
    "EventName",
    "ReadOnly",
    "Username",
    "ResourceType",
    "ResourceName",
    "EventSource",
    "AccessKeyId",
)
MAX_RESULTS = 50
HISTORY = timedelta(days=90)

# Requests AWS refuses before it knows who is calling are never in the event history.
UNAUTHENTICATED_ERRORS = frozenset(
    {
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "InvalidAccessKeyId",
        "AuthFailure",
        "SignatureDoesNotMatch",
        "MissingAuthenticationToken",
        "IncompleteSignature",
    }
)
# Global services record their events in us-east-1 whatever endpoint was called.
GLOBAL_SERVICES = frozenset({"iam", "organizations", "support", "cloudfront", "route53"})
READ_ONLY_PREFIXES = ("Get", "List", "Describe", "Lookup", "Head", "Search", "Check", "BatchGet")
EVENT_SOURCES = {"cloudwatch": "monitoring.amazonaws.com", "ses": "ses.amazonaws.com"}
_S3_MANAGEMENT_OBJECT_ACTIONS = frozenset(
    {"PutObjectLockConfiguration", "GetObjectLockConfiguration"}
)
# What AWS itself does to a customer's account that the account's event history shows: the
# quarantine of a user whose key leaked (a managed policy, or the old inline one).
AWS_ACTS = frozenset({("iam", "AttachUserPolicy"), ("iam", "PutUserPolicy")})
AWS_INTERNAL = "AWS Internal"


class CloudTrailError(Exception):
    """A request CloudTrail refuses, with the exception name its API uses."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def event_source(service: str) -> str:
    return EVENT_SOURCES.get(service, f"{service}.amazonaws.com")


def is_read_only(service: str, action: str) -> bool:
    return action.startswith(READ_ONLY_PREFIXES)


def is_data_event(service: str, action: str) -> bool:
    """S3 object-level and Lambda invocations are data events, off the event history."""
    if service == "s3":
        if action in _S3_MANAGEMENT_OBJECT_ACTIONS:
            return False
        return "Object" in action or "Multipart" in action or action == "UploadPart"
    return service == "lambda" and action in {"Invoke", "InvokeAsync", "InvokeWithResponseStream"}


def trail_region(service: str, region: str) -> str:
    return "us-east-1" if service in GLOBAL_SERVICES else region


@dataclass(frozen=True)
class TrailEvent:
    """One event of the history, with what a lookup filters on."""

    seq: int
    event_id: str
    time: datetime
    region: str
    attributes: Mapping[str, tuple[str, ...]]
    summary: Mapping[str, Any]


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _trail_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _camel(params: Mapping[str, Any]) -> dict[str, Any]:
    # CloudTrail writes request parameters in lower camel case (`userName`, `accessKeyId`).
    return {(k[:1].lower() + k[1:]): v for k, v in params.items()}


def _user_identity(event: Event) -> dict[str, Any]:
    principal: Mapping[str, Any] = event.get("principal") or {}
    if principal.get("type") == "AWSService":
        return {
            "type": "AWSService",
            "invokedBy": principal.get("invoked_by") or AWS_INTERNAL,
            "accountId": principal.get("account_id", ""),
        }
    identity: dict[str, Any] = {
        "type": principal.get("type", "IAMUser"),
        "principalId": principal.get("principal_id", ""),
        "arn": principal.get("arn", ""),
        "accountId": principal.get("account_id", ""),
        "accessKeyId": event.get("access_key_id") or "",
    }
    if identity["type"] == "IAMUser":
        identity["userName"] = principal.get("user_name", "")
    elif identity["type"] == "AssumedRole":
        identity["sessionContext"] = {
            "sessionIssuer": {
                "type": "Role",
                "principalId": principal.get("role_id", ""),
                "arn": principal.get("role_arn", ""),
                "accountId": principal.get("account_id", ""),
                "userName": principal.get("role_name", ""),
            },
            "attributes": {"mfaAuthenticated": "false"},
        }
    return identity


def record_of(event: Event, account_id: str) -> dict[str, Any] | None:
    """The CloudTrail record of a journal event, or None when CloudTrail would not show it."""
    if event.get("kind") != "api.call":
        return None
    service = str(event.get("service", ""))
    action = str(event.get("action", ""))
    by_aws = event.get("actor") == "framework"
    if by_aws and (service, action) not in AWS_ACTS:
        return None
    error_code = event.get("error_code")
    if error_code in UNAUTHENTICATED_ERRORS or not event.get("access_key_id"):
        return None
    if not event.get("principal"):
        return None  # refused before AWS knew who signed it (a bad signature, a browser's)
    if is_data_event(service, action):
        return None
    region = trail_region(service, str(event.get("region") or "us-east-1"))
    event_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"gameday:{account_id}:{event['seq']}"))
    record: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": _user_identity(event),
        "eventTime": _trail_time(_parse_time(str(event["time"]))),
        "eventSource": event_source(service),
        "eventName": action,
        "awsRegion": region,
        "sourceIPAddress": AWS_INTERNAL if by_aws else event.get("source_ip") or "127.0.0.1",
        "userAgent": AWS_INTERNAL if by_aws else event.get("user_agent") or "",
        "requestParameters": _camel(event.get("params") or {}) or None,
        "responseElements": event.get("response") or None,
        "requestID": event.get("request_id") or event_id,
        "eventID": event_id,
        "readOnly": is_read_only(service, action),
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": account_id,
        "eventCategory": "Management",
    }
    if error_code:
        # EC2 prefixes the codes it records with the side at fault.
        record["errorCode"] = f"Client.{error_code}" if service == "ec2" else str(error_code)
        record["errorMessage"] = event.get("error_message") or ""
    return record


class CloudTrailEvents:
    """The event history of one account, indexed by every lookup attribute."""

    def __init__(self, account_id: str) -> None:
        self.account_id = account_id
        self._lock = threading.Lock()
        self._events: list[TrailEvent] = []
        self._index: dict[tuple[str, str], list[int]] = defaultdict(list)
        # Events recorded but not yet indexed: a call only queues its event, and the first
        # lookup after it does the indexing, so serving a call costs an append.
        self._pending: list[Event] = []

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()
            self._events.clear()
            self._index.clear()

    def load(self, events: Iterable[Event]) -> None:
        """Rebuild the history from a journal (after a restart)."""
        for event in events:
            self.record(event)

    def record(self, event: Event) -> None:
        """Journal listener: add an `api.call` event if CloudTrail would show it.

        The event is queued and indexed by the next lookup, in the order recorded. Journal
        events are not changed once written, so what a lookup shows is what was recorded.
        """
        if event.get("kind") != "api.call":
            return
        with self._lock:
            self._pending.append(event)

    def _index_pending(self) -> None:
        """Index every queued event (the caller holds the lock)."""
        pending, self._pending = self._pending, []
        for event in pending:
            self._add(event)

    def _add(self, event: Event) -> None:
        record = record_of(event, self.account_id)
        if record is None:
            return
        resources = tuple(event.get("resources") or ())
        attributes = {
            "EventId": (record["eventID"],),
            "EventName": (record["eventName"],),
            "ReadOnly": ("true" if record["readOnly"] else "false",),
            "Username": (_username(record),),
            "ResourceType": tuple(str(r["type"]) for r in resources),
            "ResourceName": tuple(str(r["name"]) for r in resources),
            "EventSource": (record["eventSource"],),
            "AccessKeyId": (str(record["userIdentity"].get("accessKeyId") or ""),),
        }
        summary: dict[str, Any] = {
            "EventId": record["eventID"],
            "EventName": record["eventName"],
            "ReadOnly": attributes["ReadOnly"][0],
            "AccessKeyId": attributes["AccessKeyId"][0],
            "EventSource": record["eventSource"],
            "Username": attributes["Username"][0],
            "Resources": [
                {"ResourceType": r["type"], "ResourceName": r["name"]} for r in resources
            ],
            "CloudTrailEvent": json.dumps(record, separators=(",", ":")),
        }
        for name in ("AccessKeyId", "Username"):
            if not summary[name]:
                del summary[name]  # AWS's own acts have neither
        trail_event = TrailEvent(
            seq=int(event["seq"]),
            event_id=record["eventID"],
            time=_parse_time(str(event["time"])),
            region=record["awsRegion"],
            attributes=attributes,
            summary=summary,
        )
        position = len(self._events)
        self._events.append(trail_event)
        for key, values in attributes.items():
            for value in set(values) - {""}:
                self._index[(key, value)].append(position)

    def __len__(self) -> int:
        with self._lock:
            self._index_pending()
            return len(self._events)

    def lookup_events(
        self, request: Mapping[str, Any], region: str, now: datetime
    ) -> dict[str, Any]:
        """Answer a `LookupEvents` request made in `region` at run-clock time `now`."""
        attributes = request.get("LookupAttributes") or []
        if len(attributes) > 1:
            raise CloudTrailError(
                "InvalidLookupAttributesException",
                "You cannot specify more than one lookup attribute.",
            )
        max_results = int(request.get("MaxResults") or MAX_RESULTS)
        if not 1 <= max_results <= MAX_RESULTS:
            raise CloudTrailError(
                "InvalidMaxResultsException",
                f"Value {max_results} for MaxResults is invalid: it must be between 1 and 50.",
            )
        start = _request_time(request.get("StartTime")) or now - HISTORY
        end = _request_time(request.get("EndTime")) or now
        if start > end:
            raise CloudTrailError(
                "InvalidTimeRangeException", "The start time must be earlier than the end time."
            )
        before = _decode_token(request["NextToken"]) if request.get("NextToken") else None

        with self._lock:
            self._index_pending()
            if attributes:
                key = str(attributes[0].get("AttributeKey", ""))
                if key not in LOOKUP_ATTRIBUTES:
                    raise CloudTrailError(
                        "InvalidLookupAttributesException",
                        f"'{key}' is not a valid lookup attribute; use one of "
                        + ", ".join(LOOKUP_ATTRIBUTES),
                    )
                value = str(attributes[0].get("AttributeValue", ""))
                positions: list[int] = list(self._index.get((key, value), []))
            else:
                positions = list(range(len(self._events)))
            candidates = [self._events[p] for p in positions]

        page: list[dict[str, Any]] = []
        next_token: str | None = None
        page_last_seq = 0
        for trail_event in reversed(candidates):
            if before is not None and trail_event.seq >= before:
                continue
            if trail_event.region != region or not start <= trail_event.time <= end:
                continue
            if len(page) == max_results:
                next_token = _encode_token(page_last_seq)
                break
            page.append({**trail_event.summary, "EventTime": trail_event.time.timestamp()})
            page_last_seq = trail_event.seq
        response: dict[str, Any] = {"Events": page}
        if next_token:
            response["NextToken"] = next_token
        return response


def _username(record: Mapping[str, Any]) -> str:
    identity = record["userIdentity"]
    if identity["type"] == "AssumedRole":
        return str(identity["arn"]).rsplit("/", 1)[-1]
    return str(identity.get("userName") or "")


def _request_time(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    text = str(value)
    try:
        return datetime.fromtimestamp(float(text), UTC)
    except ValueError:
        pass
    try:
        return _parse_time(text)
    except ValueError as error:
        raise CloudTrailError("InvalidTimeRangeException", f"'{text}' is not a time.") from error


def _encode_token(seq: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"before": seq}).encode()).decode()


def _decode_token(token: str) -> int:
    try:
        return int(json.loads(base64.urlsafe_b64decode(token.encode()))["before"])
    except (ValueError, KeyError, TypeError, binascii.Error) as error:
        raise CloudTrailError("InvalidNextTokenException", "Invalid NextToken.") from error
