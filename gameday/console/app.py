"""The console's web application: routes that parse a request, call `TeamAccount`, render.

Server-rendered Jinja templates and one stylesheet, all in this package: no script, no
build step, nothing fetched from elsewhere. A responder signs in once with the run's console
token (a session cookie follows); every form that changes something carries the session's
form token, so another site's page cannot press a button on a responder's behalf.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError
from flask import (
    Flask,
    abort,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from jinja2 import StrictUndefined
from werkzeug.wrappers import Response

from gameday.console.aws import TeamAccount
from gameday.console.inbox import read_inbox, read_mail
from gameday.errors import UserError

MARKER = "SIMULATION — game day exercise"
PACKAGE = Path(__file__).resolve().parent
LOOKUP_ATTRIBUTES = (
    ("AccessKeyId", "Access key"),
    ("Username", "User name"),
    ("EventName", "Event name"),
    ("EventSource", "Event source"),
    ("ResourceName", "Resource name"),
    ("ReadOnly", "Read-only"),
)
View = TypeVar("View", bound=Callable[..., Any])


def create_app(account: TeamAccount, mail: Path, token: str, account_id: str) -> Flask:
    """The console for `account`, the team's inbox at `mail`, behind `token`."""
    app = Flask(
        "gameday.console",
        template_folder=str(PACKAGE / "templates"),
        static_folder=str(PACKAGE / "static"),
    )
    app.secret_key = secrets.token_bytes(32)
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_NAME="gameday_console",
        TEMPLATES_AUTO_RELOAD=False,
    )
    app.jinja_env.undefined = StrictUndefined
    app.jinja_env.filters["when"] = _when

    @app.context_processor
    def everywhere() -> dict[str, Any]:
        return {
            "marker": MARKER,
            "account_id": account_id,
            "user_key": account.profile.access_key_id,
            "form_token": session.get("form", ""),
            "signed_in": bool(session.get("in")),
        }

    @app.before_request
    def door() -> Response | None:
        if request.endpoint in ("login", "static"):
            return None
        if not session.get("in"):
            return redirect(url_for("login", next=request.full_path.rstrip("?")))
        if request.method == "POST":
            given = request.form.get("form_token", "")
            if not hmac.compare_digest(given, str(session.get("form", ""))):
                abort(403)
        return None

    @app.errorhandler(ClientError)
    def aws_refused(error: ClientError) -> Response:
        code = error.response.get("Error", {}).get("Code", "Error")
        message = error.response.get("Error", {}).get("Message", "")
        flash(f"{code}: {message}", "error")
        return redirect(_back())

    @app.errorhandler(BotoCoreError)
    def aws_unreachable(error: BotoCoreError) -> tuple[str, int]:
        return render_template(
            "error.html", message=f"The mock account did not answer: {error}"
        ), 502

    @app.errorhandler(UserError)
    def user_error(error: UserError) -> tuple[str, int]:
        return render_template("error.html", message=str(error)), 404

    # ── signing in ───────────────────────────────────────────────────────────────────────

    @app.route("/login", methods=["GET", "POST"])
    def login() -> Any:
        wanted = request.values.get("next") or url_for("home")
        if not wanted.startswith("/") or wanted.startswith("//"):
            wanted = url_for("home")
        given = request.values.get("token", "")
        if given:
            if hmac.compare_digest(given.strip(), token):
                session.clear()
                session["in"] = True
                session["form"] = secrets.token_urlsafe(24)
                return redirect(wanted)
            flash("That is not this exercise's console token (see your handout).", "error")
        return render_template("login.html", next=wanted)

    @app.post("/logout")
    def logout() -> Response:
        session.clear()
        return redirect(url_for("login"))

    @app.get("/")
    def home() -> str:
        identity = account.whoami()
        return render_template("home.html", identity=identity, mails=len(read_inbox(mail)))

    # ── IAM ──────────────────────────────────────────────────────────────────────────────

    @app.get("/iam/users")
    def users() -> str:
        return render_template("users.html", users=account.users())

    @app.get("/iam/users/<name>")
    def user(name: str) -> str:
        created = session.pop("created_key", None)
        return render_template("user.html", user=account.user(name), created=created)

    @app.post("/iam/users/<name>/keys/<key_id>")
    def key_action(name: str, key_id: str) -> Response:
        action = request.form.get("action")
        if action == "deactivate":
            account.set_key_status(name, key_id, "Inactive")
            flash(f"Access key {key_id} deactivated.", "ok")
        elif action == "activate":
            account.set_key_status(name, key_id, "Active")
            flash(f"Access key {key_id} activated.", "ok")
        elif action == "delete":
            account.delete_key(name, key_id)
            flash(f"Access key {key_id} deleted.", "ok")
        else:
            abort(400)
        return redirect(url_for("user", name=name))

    @app.post("/iam/users/<name>/keys")
    def create_key(name: str) -> Response:
        key = account.create_key(name)
        session["created_key"] = {
            "AccessKeyId": key["AccessKeyId"],
            "SecretAccessKey": key["SecretAccessKey"],
        }
        flash(f"Access key {key['AccessKeyId']} created: copy its secret now.", "ok")
        return redirect(url_for("user", name=name))

    @app.post("/iam/users/<name>/policies")
    def policy_action(name: str) -> Response:
        if request.form.get("arn"):
            account.detach_user_policy(name, request.form["arn"])
            flash(f"Policy {request.form['arn']} detached.", "ok")
        elif request.form.get("inline"):
            account.delete_user_policy(name, request.form["inline"])
            flash(f"Inline policy {request.form['inline']} deleted.", "ok")
        else:
            abort(400)
        return redirect(url_for("user", name=name))

    @app.post("/iam/users/<name>/login-profile")
    def delete_login_profile(name: str) -> Response:
        account.delete_login_profile(name)
        flash(f"Console password of {name} removed.", "ok")
        return redirect(url_for("user", name=name))

    @app.get("/iam/roles")
    def roles() -> str:
        return render_template("roles.html", roles=account.roles())

    @app.get("/iam/roles/<name>")
    def role(name: str) -> str:
        return render_template("role.html", role=account.role(name))

    # ── EC2 ──────────────────────────────────────────────────────────────────────────────

    @app.get("/ec2/instances")
    def instances() -> str:
        regions = account.regions()
        region = request.args.get("region") or account.profile.region
        if region != "all" and region not in regions:
            abort(404)
        shown = account.instances(regions if region == "all" else [region])
        return render_template("instances.html", regions=regions, region=region, instances=shown)

    @app.post("/ec2/instances/terminate")
    def terminate() -> Response:
        chosen: dict[str, list[str]] = {}
        for value in request.form.getlist("instance"):
            region, _, instance_id = value.partition("/")
            if region and instance_id:
                chosen.setdefault(region, []).append(instance_id)
        if not chosen:
            flash("Choose the instances to terminate first.", "error")
        for region, ids in sorted(chosen.items()):
            account.terminate(region, ids)
            flash(f"Terminating {', '.join(ids)} in {region}.", "ok")
        return redirect(url_for("instances", region=request.form.get("region") or "all"))

    # ── CloudTrail ───────────────────────────────────────────────────────────────────────

    @app.get("/cloudtrail")
    def cloudtrail() -> str:
        attribute = request.args.get("attribute") or ""
        value = (request.args.get("value") or "").strip()
        if attribute not in {key for key, _ in LOOKUP_ATTRIBUTES}:
            attribute = ""
        start = _moment(request.args.get("start"))
        end = _moment(request.args.get("end"))
        # CloudTrail's event history is a region's, as in AWS: global services' in us-east-1
        regions = account.regions()
        region = request.args.get("region") or account.profile.region
        if region not in regions:
            abort(404)
        events = account.events(attribute or None, value or None, start, end, region=region)
        return render_template(
            "cloudtrail.html",
            regions=regions,
            region=region,
            events=events,
            attributes=LOOKUP_ATTRIBUTES,
            attribute=attribute,
            value=value,
            start=request.args.get("start") or "",
            end=request.args.get("end") or "",
        )

    # ── Support ──────────────────────────────────────────────────────────────────────────

    @app.get("/support")
    def cases() -> str:
        return render_template("cases.html", cases=account.cases())

    @app.get("/support/<case_id>")
    def case(case_id: str) -> str:
        return render_template("case.html", case=account.case(case_id))

    @app.post("/support/<case_id>/reply")
    def reply(case_id: str) -> Response:
        body = (request.form.get("body") or "").strip()
        if not body:
            flash("Write the reply first.", "error")
        else:
            account.reply(case_id, body)
            flash("Reply sent to AWS Support.", "ok")
        return redirect(url_for("case", case_id=case_id))

    # ── Secrets Manager ──────────────────────────────────────────────────────────────────

    @app.get("/secrets")
    def secrets_list() -> str:
        regions = account.regions()
        region = request.args.get("region") or account.profile.region
        if region not in regions:
            abort(404)
        return render_template(
            "secrets.html", regions=regions, region=region, secrets=account.secrets(region)
        )

    @app.get("/secrets/<region>/<path:name>")
    def secret(region: str, name: str) -> str:
        reveal = request.args.get("reveal") == "1"
        return render_template(
            "secret.html", region=region, secret=account.secret(region, name, reveal=reveal)
        )

    @app.post("/secrets/<region>/<path:name>")
    def put_secret(region: str, name: str) -> Response:
        value = request.form.get("value") or ""
        if not value:
            flash("Give the new value first.", "error")
        else:
            version = account.put_secret(region, name, value)
            flash(f"New value stored (version {version}).", "ok")
        return redirect(url_for("secret", region=region, name=name))

    # ── the inbox ────────────────────────────────────────────────────────────────────────

    @app.get("/inbox")
    def inbox() -> str:
        return render_template("inbox.html", mails=read_inbox(mail))

    @app.get("/inbox/<key>")
    def message(key: str) -> str:
        found = read_mail(mail, key)
        if found is None:
            abort(404)
        return render_template("mail.html", mail=found)

    return app


def _back() -> str:
    referrer = request.referrer or ""
    origin = request.host_url.rstrip("/")
    if referrer.startswith(origin + "/"):
        return referrer[len(origin) :]
    return url_for("home")


def _moment(text: str | None) -> datetime | None:
    """A `datetime-local` form value (taken as UTC), or None."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)
    except ValueError:
        return None


def _when(value: Any) -> str:
    """A time as the console shows it: UTC, to the second."""
    if isinstance(value, datetime):
        moment = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    if value in (None, ""):
        return "—"
    try:  # an ISO-8601 text, as the Support API gives its times
        return _when(datetime.fromisoformat(str(value).replace("Z", "+00:00")))
    except ValueError:
        return str(value)
