#!/usr/bin/env python3
"""CDK app: the credential-compromise responder. Configuration comes from cdk.json context."""

from __future__ import annotations

import os

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks, ServerlessChecks

from infra.config import ConfigError, ResponderConfig
from infra.stack import ResponderStack


def build_app(context: dict | None = None, outdir: str | None = None) -> cdk.App:
    app = cdk.App(context=context, outdir=outdir)
    try:
        config = ResponderConfig.from_context(app.node.try_get_context)
    except ConfigError as exc:
        raise SystemExit(f"Invalid configuration: {exc}") from exc
    env = cdk.Environment(
        account=os.environ.get("CDK_DEFAULT_ACCOUNT"),
        region=config.home_region or os.environ.get("CDK_DEFAULT_REGION"),
    )
    ResponderStack(app, "CredentialResponder", config=config, env=env,
                   description="Credential-compromise responder: contains exposed keys and stolen instance credentials")
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app))
    return app


if __name__ == "__main__":
    build_app().synth()
