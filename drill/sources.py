"""Where a scenario's calls come from: the address CloudTrail writes as sourceIPAddress, the client's user
agent, and a VPC endpoint when the call went through one.

Agents are written as each client writes them, per call (tests/events/cloudtrail/SOURCES.md says from which
public shapes): AWS CLI v2 names the command it ran (`md/command#iam.create-role`), boto3 lists the features the
call used (`m/C,Z,b`: paginator, checksums; `0`: credentials from the instance metadata service), Terraform names
the SDK module of the service (`api/iam#1.37.2`). A hosted CI runner gets a new public address for each job, from
its cloud's ranges (GitHub-hosted runners run in Azure).

    source = resolve_source("github-actions", declared={}, context=context)
    source.at(call, index)  ->  Origin(ip="20.55.14.201", agent="aws-cli/2.22.9 ... md/command#iam.create-role", ...)
"""

from __future__ import annotations

import hashlib
import ipaddress
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore import xform_name

from drill.history import HistoryError, Source


@dataclass(frozen=True)
class Call:
    """What an agent or an address may depend on: the call, and the record's place in the history."""

    event_name: str
    service: str  # the event source's prefix: "iam", "sts", "s3", "ec2", ...
    region: str
    index: int  # the entry's place in the history (a stable seed for per-call addresses)


@dataclass(frozen=True)
class Origin:
    ip: str
    agent: str
    vpc_endpoint: str | None = None
    invoked_by_service: bool = False  # an AWS service acting for the principal (CloudFormation): no TLS details


# -- user agents --------------------------------------------------------------------------------------------

# The CLI's top-level command for a service whose API name differs from its endpoint prefix.
CLI_SERVICE = {"s3": "s3api", "monitoring": "cloudwatch", "email": "ses", "states": "stepfunctions"}
# aws-sdk-go-v2 service module versions as Terraform's AWS provider 5.72.1 pinned them (its go.mod).
GO_MODULES = {"iam": "1.37.2", "sts": "1.32.2", "ec2": "1.187.0", "s3": "1.66.0", "lambda": "1.64.0"}


def _command(call: Call) -> str:
    return f"{CLI_SERVICE.get(call.service, call.service)}.{xform_name(call.event_name, '-')}"


def _cli_v2(os_part: str, extra: str) -> Callable[[Call], str]:
    def agent(call: Call) -> str:
        return (
            f"aws-cli/2.22.9 md/awscrt#0.23.4 ua/2.1 os/{os_part} md/arch#x86_64 lang/python#3.12.6 "
            f"md/pyimpl#CPython {extra}md/prompt#off md/command#{_command(call)}"
        )

    return agent


def _cli_v2_macos(call: Call) -> str:
    return (
        "aws-cli/2.22.9 md/awscrt#0.23.4 ua/2.1 os/macos#24.1.0 md/arch#arm64 lang/python#3.12.6 md/pyimpl#CPython "
        f"cfg/retry-mode#standard md/installer#source md/prompt#off md/command#{_command(call)}"
    )


def _cli_v2_older(call: Call) -> str:
    # CLI v2 before 2.20 wrote its agent this way (Kali ships an older CLI).
    return f"aws-cli/2.13.25 Python/3.11.8 Linux/6.6.9-amd64 exe/x86_64.kali.2024 prompt/off command/{_command(call)}"


def _boto3(imds: bool) -> Callable[[Call], str]:
    def agent(call: Call) -> str:
        features = {"Z", "b"}  # botocore's default checksum settings (request and response)
        if call.event_name.startswith("List"):
            features.add("C")  # the paginator
        if imds:
            features.add("0")  # credentials from the instance metadata service
        platform = "os/linux#6.1.112-124.190.amzn2023.x86_64" if imds else "os/linux#5.15"
        python = "lang/python#3.9.16" if imds else "lang/python#3.12.3"
        return (
            f"Boto3/1.35.36 md/Botocore#1.35.36 ua/2.0 {platform} md/arch#x86_64 {python} md/pyimpl#CPython "
            f"m/{','.join(sorted(features))} cfg/retry-mode#legacy Botocore/1.35.36"
        )

    return agent


def _terraform(call: Call) -> str:
    module = GO_MODULES.get(call.service, "1.30.0")
    return (
        "APN/1.0 HashiCorp/1.0 Terraform/1.9.8 (+https://www.terraform.io) terraform-provider-aws/5.72.1 "
        "(+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.32.2 ua/2.1 os/linux lang/go#1.23.2 "
        f"md/GOOS#linux md/GOARCH#amd64 api/{call.service}#{module}"
    )


def _cdk_cli(call: Call) -> str:
    return (
        "aws-sdk-js/3.699.0 ua/2.1 os/linux#6.8.0-1017-azure lang/js md/nodejs#20.18.1 "
        f"api/{call.service}#3.699.0 m/E,N aws-cdk/2.172.0"
    )


def _go_script(call: Call) -> str:
    return (
        "aws-sdk-go-v2/1.32.3 os/linux lang/go#1.23.1 md/GOOS#linux md/GOARCH#amd64 "
        f"api/{call.service}#{GO_MODULES.get(call.service, '1.30.0')}"
    )


AGENTS: dict[str, Callable[[Call], str]] = {
    "aws-cli-github": _cli_v2(
        "linux#6.8.0-1017-azure",
        "exec-env/GitHubActions cfg/retry-mode#standard md/installer#exe md/distrib#ubuntu.24 ",
    ),
    "aws-cli-linux": _cli_v2("linux#6.1.112-124.190.amzn2023.x86_64", "cfg/retry-mode#standard md/installer#exe "),
    "aws-cli-macos": _cli_v2_macos,
    "aws-cli-kali": _cli_v2_older,
    "boto3": _boto3(imds=False),
    "boto3-ec2": _boto3(imds=True),
    "terraform": _terraform,
    "cdk": _cdk_cli,
    "go-sdk": _go_script,
    "python-requests": lambda call: "python-requests/2.32.3",
    "cloudformation": lambda call: "cloudformation.amazonaws.com",
}


# -- addresses ----------------------------------------------------------------------------------------------

# Azure prefixes GitHub-hosted runners are seen from (Azure's published AzureCloud ranges; GitHub's meta API
# lists the runners' ranges as Azure's).
AZURE = ["4.227.0.0/16", "20.55.0.0/16", "20.169.0.0/16", "52.225.0.0/16", "172.183.0.0/16", "40.84.0.0/16"]
DIGITALOCEAN = ["159.223.0.0/16", "146.190.0.0/16"]


@dataclass(frozen=True)
class Preset:
    what: str
    agent: str
    ip: str | None = None
    networks: tuple[str, ...] = ()
    # Resolved from the staged event: "instance-public", "instance-private", "finding-remote", "sequence-endpoint".
    address_of: str | None = None
    vpc_endpoint: bool = False
    service: bool = False


PRESETS: dict[str, Preset] = {
    "github-actions": Preset("AWS CLI v2 on a GitHub-hosted runner: a new Azure address for each job", "aws-cli-github",
                             networks=tuple(AZURE)),
    "github-actions-terraform": Preset("Terraform on a GitHub-hosted runner", "terraform", networks=tuple(AZURE)),
    "github-actions-cdk": Preset("the CDK CLI on a GitHub-hosted runner", "cdk", networks=tuple(AZURE)),
    "cloudformation": Preset("CloudFormation acting for a stack (a CDK deployment)", "cloudformation",
                             ip="cloudformation.amazonaws.com", service=True),
    "workstation": Preset("an engineer's laptop at the office, AWS CLI v2 on macOS", "aws-cli-macos",
                          ip="82.165.177.154"),
    "instance": Preset("the instance's workload, from its public address (boto3, credentials from IMDS)",
                       "boto3-ec2", address_of="instance-public"),
    "instance-vpce": Preset("the instance's workload through an interface VPC endpoint of its VPC, from its "
                            "private address", "boto3-ec2", address_of="instance-private", vpc_endpoint=True),
    "finding-remote": Preset("the GuardDuty finding's remote address (whoever used the stolen credentials), "
                             "AWS CLI v2 on Kali", "aws-cli-kali", address_of="finding-remote"),
    "sequence-endpoint": Preset("the attack sequence's endpoint, a python-requests script", "python-requests",
                                address_of="sequence-endpoint"),
    "vps-go": Preset("a Go SDK script on a rented server (DigitalOcean)", "go-sdk", ip="159.223.47.19"),
    "vps-requests": Preset("a python-requests script on a rented server (DigitalOcean)", "python-requests",
                           ip="146.190.112.73"),
    "kali": Preset("AWS CLI v2 on Kali Linux, from a rented server (DigitalOcean)", "aws-cli-kali",
                   ip="159.223.201.5"),
}  # fmt: skip


@dataclass(frozen=True)
class Context:
    """What presets read from the staged account."""

    origin: str  # the scenario's file: the seed of per-call addresses
    addresses: dict[str, str]  # "instance-public" -> ..., from the event
    vpc_endpoint: Callable[[str], str] | None  # service -> an interface endpoint id in the instance's VPC


@dataclass(frozen=True)
class ResolvedSource:
    name: str
    agent: Callable[[Call], str]
    ip: str | None
    networks: tuple[str, ...]
    vpc_endpoint: str | bool | None
    service: bool
    context: Context

    def at(self, call: Call) -> Origin:
        ip = self.ip
        if ip is None:
            ip = _address_in(self.networks, f"{self.context.origin}:{self.name}:{call.index}")
        endpoint: str | None = None
        if self.vpc_endpoint is True:
            if self.context.vpc_endpoint is None:
                raise HistoryError(f"source {self.name}: a VPC endpoint needs the instance the event names")
            endpoint = self.context.vpc_endpoint(call.service)
        elif isinstance(self.vpc_endpoint, str):
            endpoint = self.vpc_endpoint
        return Origin(ip=ip, agent=self.agent(call), vpc_endpoint=endpoint, invoked_by_service=self.service)


def _address_in(networks: tuple[str, ...], seed: str) -> str:
    """A stable address for this call: the same scenario gives the same addresses on every run."""
    rng = random.Random(hashlib.sha256(seed.encode()).hexdigest())
    network = ipaddress.ip_network(rng.choice(networks))
    return str(network[rng.randrange(1, network.num_addresses - 1)])


def _agent(spec: str) -> Callable[[Call], str]:
    if spec in AGENTS:
        return AGENTS[spec]
    return lambda call: spec  # a user agent as written


def resolve_source(value: str | Source, *, declared: dict[str, Source], context: Context) -> ResolvedSource:
    name = value if isinstance(value, str) else "inline"
    if isinstance(value, str):
        if value in declared:
            value = declared[value]
        elif value in PRESETS:
            value = Source(preset=value)
        else:
            known = ", ".join([*declared, *PRESETS])
            raise HistoryError(f"source {name!r} is neither declared in 'sources' nor a preset ({known})")
    preset = PRESETS.get(value.preset or "")
    if value.preset and preset is None:
        raise HistoryError(f"source {name}: no preset {value.preset!r} (presets: {', '.join(PRESETS)})")
    ip = value.ip
    networks = tuple(value.networks)
    for cidr in networks:
        try:
            ipaddress.ip_network(cidr)
        except ValueError as exc:
            raise HistoryError(f"source {name}: {exc}") from None
    if ip is None and not networks and preset is not None:
        ip, networks = preset.ip, preset.networks
        if preset.address_of:
            ip = context.addresses.get(preset.address_of)
            if ip is None:
                raise HistoryError(
                    f"source {name}: preset {preset_name(value)} takes its address from the event "
                    f"({preset.address_of}), which this event does not give"
                )
    agent = value.agent or (preset.agent if preset else None)
    if agent is None:
        raise HistoryError(f"source {name}: no agent (name one of {', '.join(AGENTS)}, or write one)")
    endpoint = value.vpc_endpoint if value.vpc_endpoint is not None else (preset.vpc_endpoint if preset else None)
    return ResolvedSource(
        name=name,
        agent=_agent(agent),
        ip=ip,
        networks=networks,
        vpc_endpoint=endpoint or None,
        service=bool(preset and preset.service),
        context=context,
    )


def preset_name(value: Any) -> str:
    return str(getattr(value, "preset", value))
