"""python -m responder check [--stack NAME] [--region R] [--no-probe]
python -m responder try EVENT.json [--stack NAME] [--region R] [--i-understand-this-acts] [--timeout S]
python -m responder release INCIDENT_ID [--yes] [--stack NAME] [--region R]

`--region` is the home region (where the stack is); by default AWS_REGION, then
AWS_DEFAULT_REGION, then the profile's region. The credentials are yours: AWS_PROFILE, a profile
from `aws configure` / `aws configure sso` (`aws sso login`), or AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY.

Exit codes:
  check    0 every check passed (warnings allowed), 1 a check failed
  try      0 the execution succeeded, 1 it failed or is still running
  release  0 every confirmed reversal read back, 1 one failed
  2        the command did not get that far: a bad argument or event file, no region, no
           credentials, the stack or the incident not found, refused, or another AWS error
Through make (`make check|try|release`) any failure exits 2, make's own code; make's last line,
`make: *** [Makefile:N: check] Error C`, gives the command's code C.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoRegionError, ProfileNotFound

from record.responses import release_steps
from responder import HOME_STACK, credentials_problem, stack_outputs
from responder import check as deployment
from responder.release import ReleaseError, Reversal, mark_released, plan, record_timeline, release, resolve
from responder.try_event import BadEventFile, Refused, load_event, try_event

# As the report prints it: the account, then the kind and the event's own id (ACCOUNT:guardduty:...,
# ACCOUNT:health:...). Only what no id holds is refused: `<`, `>` or a blank are a placeholder
# copied from the docs (`<finding id>`), which make's shell would also read as redirections.
INCIDENT_ID = re.compile(r"^\d{12}:[^\s<>]+$")
NO_REGION = (
    "no region: pass --region HOME_REGION (where the CredentialResponder stack is), "
    "or set AWS_REGION, or configure one in your profile (aws configure set region ...)"
)


def main(argv: list[str] | None = None, *, ask: Any = input) -> int:
    args = _parser().parse_args(argv)
    try:
        # The event file first: what is wrong with it needs neither a region nor credentials.
        event = load_event(args.event) if args.command == "try" else {}
    except BadEventFile as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.command == "release" and not INCIDENT_ID.match(args.incident_id):
        print(
            f"not an incident id: {args.incident_id!r}; give the report's Incident id, "
            "ACCOUNT:guardduty:FINDING_ID or ACCOUNT:health:EVENT_ID",
            file=sys.stderr,
        )
        return 2
    # boto3 reads AWS_DEFAULT_REGION but not AWS_REGION, which the AWS CLI and the SDKs honour.
    region = args.region or os.environ.get("AWS_REGION") or None
    try:
        session = boto3.session.Session(region_name=region)
    except ProfileNotFound as exc:
        print(credentials_problem(exc), file=sys.stderr)
        return 2
    if not session.region_name:
        print(NO_REGION, file=sys.stderr)
        return 2
    try:
        if args.command == "check":
            checks = deployment.run_checks(
                lambda service, region=None: session.client(service, region_name=region),
                stack_name=args.stack,
                region=session.region_name,
                probe=args.probe,
            )
            print(deployment.render(checks))
            return 1 if any(result.status == deployment.FAIL for result in checks) else 0
        if args.command == "try":
            return try_event(
                event,
                cloudformation=session.client("cloudformation"),
                lambda_client=session.client("lambda"),
                stepfunctions=session.client("stepfunctions"),
                stack_name=args.stack,
                acts=args.acts,
                timeout=args.timeout,
            )
        return _release(args, session, ask)
    except (Refused, ReleaseError) as exc:
        print(f"refused: {exc}" if isinstance(exc, Refused) else str(exc), file=sys.stderr)
        return 2
    except NoRegionError:
        print(NO_REGION, file=sys.stderr)
        return 2
    except (ClientError, BotoCoreError) as exc:
        print(aws_error(exc, session, args.stack), file=sys.stderr)
        return 2


def aws_error(exc: ClientError | BotoCoreError, session: Any, stack: str) -> str:
    """The error as one message that says what to do, when the error says enough to know."""
    problem = credentials_problem(exc, session.profile_name if session.profile_name != "default" else None)
    if problem:
        return problem
    error = exc.response.get("Error", {}) if isinstance(exc, ClientError) else {}
    if error.get("Code") == "ValidationError" and "does not exist" in error.get("Message", ""):
        return (
            f"no stack {stack} in {session.region_name} (account of your credentials): pass --region with the "
            "home region it was deployed to, or --stack with its name; `aws sts get-caller-identity` shows the account"
        )
    return f"AWS error: {exc}"


def _release(args: argparse.Namespace, session: Any, ask: Any) -> int:
    table = stack_outputs(session.client("cloudformation"), args.stack).get("IncidentTableName")
    if not table:
        raise ReleaseError(
            f"stack {args.stack} has no IncidentTableName output: is it the responder's home stack? (--stack NAME)"
        )
    dynamodb = session.client("dynamodb")
    # Any id a report prints: the incident's, or a joined finding's (its alias names the record).
    incident_id, record = resolve(dynamodb, table, args.incident_id)
    region = record.get("region")
    joined = f" (the record {args.incident_id} joined)" if incident_id != args.incident_id.strip() else ""
    print(
        f"incident {incident_id}{joined}: {record.get('kind')} in {record.get('account')}/{region}, "
        f"status {record.get('status')}"
    )
    reversals, notes = plan(
        # Every response's steps since the last release; those too large for the record are in S3.
        release_steps(record, session.client("s3")),
        iam=session.client("iam"),
        # EC2 and Auto Scaling act in the incident's region, which may not be the home region.
        ec2=session.client("ec2", region_name=region) if region else None,
        autoscaling=session.client("autoscaling", region_name=region) if region else None,
        elbv2=session.client("elbv2", region_name=region) if region else None,
        elb=session.client("elb", region_name=region) if region else None,
    )
    for note in notes:
        print(f"  note: {note}")
    if not reversals:
        print("nothing to release: no recorded step changed anything")

    def confirm(reversal: Reversal) -> bool:
        if args.yes:
            return True
        try:
            answer = ask(f"{reversal.what}? [y/N] ")
        except EOFError:
            raise ReleaseError(
                "no answer: standard input is closed (not a terminal); run release in a terminal, or pass --yes "
                "to make every reversal without asking. Nothing from this one on was reversed."
            ) from None
        return str(answer).strip().lower() in ("y", "yes")

    outcomes = release(
        reversals, confirm=confirm, record=lambda what: record_timeline(dynamodb, table, incident_id, what)
    )
    for outcome in outcomes:
        print(f"  [{outcome.status:>8}] {outcome.reversal.what}: {outcome.detail}")
    released = mark_released(dynamodb, table, incident_id, record, outcomes, notes)
    print(f"release recorded on incident {incident_id}: {released}")
    return 1 if any(outcome.status == "failed" for outcome in outcomes) else 0


TRY_DOC = """Start the deployed workflow with an event file, as its EventBridge rule would, wait for
the end and print the report (docs/operations.md section 4). It refuses unless every function is
deployed in dry-run (-c dryRun=true -c deactivateBackdoorKeys=false), or --i-understand-this-acts.

Exit code 0: the execution succeeded; 1: it failed or is still running (--timeout); 2: a bad event
file, refused, no region or credentials, or an AWS error (each message says what to do)."""
RELEASE_DOC = """Reverse what the responder changed for an incident after a false alarm, one reversal at a
time, each confirmed (y/N; --yes skips the questions), read back and recorded on the incident's
timeline (docs/operations.md section 5). Any id a report prints works (a finding that joined
another incident leads to that incident's record); every response of the incident is reversed,
and the release is recorded as a response of its own (status `released` when every reversal read
back). The evidence image is kept.

Exit code 0: every confirmed reversal read back; 1: one failed (the next still ran); 2: not an
incident id, no such incident, no region or credentials, or an AWS error."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m responder", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser(
        "check",
        help="prove a deployment before the first incident: permissions, layer, Slack, GuardDuty, ...",
        description=check_doc(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument(
        "--no-probe",
        dest="probe",
        action="store_false",
        help="skip the dry invocation in a temporary twin of each function (needs lambda:CreateFunction, iam:PassRole)",
    )
    try_ = commands.add_parser(
        "try",
        help="start the deployed workflow with an event file and print its report",
        description=TRY_DOC,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    try_.add_argument("event", help="an EventBridge event (AWS Health or GuardDuty), or a bare GuardDuty finding")
    try_.add_argument(
        "--i-understand-this-acts",
        dest="acts",
        action="store_true",
        help="run even though the stack is not deployed with dryRun=true",
    )
    try_.add_argument(
        "--timeout",
        type=float,
        default=1800,
        help="seconds to wait for the execution (default 1800; 0: start it and print its status)",
    )
    release_ = commands.add_parser(
        "release",
        help="reverse what the responder did for an incident (false alarm)",
        description=RELEASE_DOC,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    release_.add_argument(
        "incident_id",
        help="any id a report prints: 123456789012:guardduty:<finding id> (also of a finding that joined the "
        "incident), 123456789012:health:<event id>",
    )
    release_.add_argument("--yes", action="store_true", help="do not ask before each reversal")
    for command in (check, try_, release_):
        command.add_argument("--stack", default=HOME_STACK, help=f"the home stack's name (default {HOME_STACK})")
        command.add_argument(
            "--region", help="the home region (default: AWS_REGION, AWS_DEFAULT_REGION, the profile's)"
        )
    return parser


def check_doc() -> str:
    from responder import check

    return str(check.__doc__)


if __name__ == "__main__":
    raise SystemExit(main())
