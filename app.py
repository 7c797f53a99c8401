#!/usr/bin/env python3
"""CDK app: the credential-compromise responder. Configuration comes from cdk.json context.

One home stack (the responder) in `homeRegion`, and a forwarder stack in each of `regions` that
sends that region's detection events to the home region (see infra/forwarder.py).
"""

from __future__ import annotations

import os

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks, ServerlessChecks

from infra.config import ConfigError, ResponderConfig
from infra.forwarder import HEALTH_REGION, ForwarderStack, HomeBusPolicy, forwarder_stack_name
from infra.stack import ResponderStack

HOME_STACK = "CredentialResponder"


def build_app(context: dict | None = None, outdir: str | None = None) -> cdk.App:
    app = cdk.App(context=context, outdir=outdir)
    try:
        config = ResponderConfig.from_context(
            app.node.try_get_context, default_region=os.environ.get("CDK_DEFAULT_REGION")
        )
    except ConfigError as exc:
        raise SystemExit(f"Invalid configuration: {exc}") from exc
    account = os.environ.get("CDK_DEFAULT_ACCOUNT")
    home = ResponderStack(
        app,
        HOME_STACK,
        config=config,
        env=cdk.Environment(account=account, region=config.home_region),
        description="Credential-compromise responder: contains exposed keys and stolen instance credentials",
    )
    if config.regions:
        HomeBusPolicy(home, "ForwardedEvents", config=config)
    for region in config.regions:
        forwarder = ForwarderStack(
            app,
            forwarder_stack_name(region),
            config=config,
            env=cdk.Environment(account=account, region=region),
            description=f"Credential-compromise responder: forwards {region}'s detection "
            f"events to {config.home_region}",
        )
        # Ordering only (no reference): the home bus accepts forwarded events before any are sent.
        forwarder.add_stack_dependency(home, "the home bus policy admits the forwarding rules")
    if config.home_region and HEALTH_REGION not in (config.home_region, *config.regions):
        cdk.Annotations.of(home).add_warning_v2(
            "credential-responder:health-region",
            f"AWS Health delivers exposed-key events only in {HEALTH_REGION}: add it to regions, "
            "or exposed keys are never contained",
        )
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app))
    return app


if __name__ == "__main__":
    build_app().synth()
