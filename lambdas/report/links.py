"""AWS console deep links for the report: one click from the message to the page that matters.

Region-aware: regional consoles (CloudTrail, GuardDuty, EC2, Step Functions) open in the region named
in the URL, so the link lands on the right data instead of the reader's last-used region. IAM is
global and has no region. Only the commercial partition (console.aws.amazon.com) is covered.

Values are URL-quoted: IAM names may contain `+=,.@` and a `|` or `>` would break a Slack link.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple
from urllib.parse import quote

GLOBAL_CONSOLE = "https://console.aws.amazon.com"
# IAM is a global service: its CloudTrail events are recorded in us-east-1.
GLOBAL_EVENTS_REGION = "us-east-1"


class Link(NamedTuple):
    label: str
    url: str


def _q(value: str) -> str:
    return quote(value, safe="")


# A region goes into a host name: only what a region name can be (the event's region is data).
_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d{1,2}$")


def is_region(value: Any) -> bool:
    return isinstance(value, str) and bool(_REGION.fullmatch(value))


def _regional(region: str, service: str, fragment: str) -> str:
    if not is_region(region):
        # Not a region: the global console, which opens in the reader's last region.
        return f"{GLOBAL_CONSOLE}/{service}/home#{fragment}"
    return f"https://{region}.console.aws.amazon.com/{service}/home?region={region}#{fragment}"


def iam_user(user_name: str) -> str:
    return f"{GLOBAL_CONSOLE}/iam/home#/users/details/{_q(user_name)}"


def iam_role(role_name: str) -> str:
    return f"{GLOBAL_CONSOLE}/iam/home#/roles/details/{_q(role_name)}"


def cloudtrail_events(region: str, attribute: str, value: str) -> str:
    """Event history filtered by one lookup attribute (AccessKeyId, Username, EventName...)."""
    return _regional(region, "cloudtrail", f"/events?{attribute}={_q(value)}")


def guardduty_finding(region: str, finding_id: str) -> str:
    return _regional(region, "guardduty", f"/findings?macros=current&fId={_q(finding_id)}")


def ec2_instance(region: str, instance_id: str) -> str:
    return _regional(region, "ec2", f"InstanceDetails:instanceId={_q(instance_id)}")


def ami(region: str, image_id: str) -> str:
    return _regional(region, "ec2", f"ImageDetails:imageId={_q(image_id)}")


def sfn_execution(execution_arn: str) -> str | None:
    """The execution's own region comes from its ARN: arn:aws:states:REGION:ACCOUNT:execution:..."""
    parts = execution_arn.split(":")
    if len(parts) < 7 or parts[2] != "states":
        return None
    return _regional(parts[3], "states", f"/v2/executions/details/{quote(execution_arn, safe=':')}")


def support_center() -> str:
    return "https://support.console.aws.amazon.com/support/home#/"


def cloudtrail_regions(incident: dict[str, Any]) -> list[str]:
    """Where to look first: the incident's region and us-east-1 (IAM and other global calls).
    The attacker may have used any region; the next steps say so."""
    regions = [incident.get("region") or GLOBAL_EVENTS_REGION, GLOBAL_EVENTS_REGION]
    return list(dict.fromkeys(regions))


def incident_links(
    incident: dict[str, Any] | None, steps: Sequence[Mapping[str, Any]], execution_arn: str | None
) -> list[Link]:
    """Every console page the responder may need, in reading order."""
    links: list[Link] = []
    if incident:
        region = incident.get("region") or GLOBAL_EVENTS_REGION
        if incident.get("kind") == "exposed-access-key":
            # Only here are the names IAM users; for instance credentials they name the role.
            for user in incident.get("user_names") or []:
                links.append(Link(f"IAM user {user}", iam_user(user)))
        if incident.get("role_name"):
            links.append(Link(f"IAM role {incident['role_name']}", iam_role(incident["role_name"])))
        for key in incident.get("access_key_ids") or []:
            for events_region in cloudtrail_regions(incident):
                links.append(
                    Link(f"CloudTrail {events_region}: key {key}", cloudtrail_events(events_region, "AccessKeyId", key))
                )
        if incident.get("instance_id"):
            # EC2 role credentials use the instance id as the session name, which CloudTrail
            # shows as the user name: this finds the session even without the ASIA key id.
            links.append(
                Link(
                    f"CloudTrail {region}: session {incident['instance_id']}",
                    cloudtrail_events(region, "Username", incident["instance_id"]),
                )
            )
        if incident.get("finding_id"):
            links.append(Link("GuardDuty finding", guardduty_finding(region, incident["finding_id"])))
        if incident.get("instance_id"):
            links.append(Link(f"EC2 instance {incident['instance_id']}", ec2_instance(region, incident["instance_id"])))
        for step in steps:
            data = step.get("data") or {}
            if data.get("image_id"):
                image_region = data.get("region") or region
                links.append(Link(f"Evidence AMI {data['image_id']}", ami(image_region, data["image_id"])))
    if execution_arn and (url := sfn_execution(execution_arn)):
        links.append(Link("Step Functions execution", url))
    return links
