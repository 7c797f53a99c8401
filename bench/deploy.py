"""Deployed size and the list-price cost of one incident."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

from drill.template import Synthesized

# List prices, us-east-1 (https://aws.amazon.com/step-functions/pricing/, https://aws.amazon.com/lambda/pricing/).
SFN_STANDARD_PER_TRANSITION = 0.025 / 1000
LAMBDA_ARM64_PER_GB_SECOND = 0.0000133334
LAMBDA_PER_REQUEST = 0.20 / 1_000_000
# An assumption, not a measurement: in-drill durations include moto and say nothing about Lambda.
ASSUMED_SECONDS_PER_INVOCATION = 0.3


def asset(synthesized: Synthesized) -> dict[str, Any]:
    """The functions' code asset (the asset.* folder their Code names), zipped in memory as CDK uploads it."""
    keys = {
        resource["Properties"]["Code"]["S3Key"] for resource in synthesized.resources("AWS::Lambda::Function").values()
    }
    folders = [Path(synthesized.outdir) / f"asset.{key.removesuffix('.zip')}" for key in sorted(keys)]
    sizes = []
    for folder in folders:
        files = sorted(path for path in folder.rglob("*") if path.is_file())
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in files:
                archive.write(path, path.relative_to(folder).as_posix())
        sizes.append(
            {
                "folder": folder.name,
                "files": len(files),
                "bytes": sum(p.stat().st_size for p in files),
                "zipped_bytes": buffer.getbuffer().nbytes,
            }
        )
    return {
        "assets": sizes,
        "functions_sharing": len(synthesized.resources("AWS::Lambda::Function")),
        "layers": "AWS's public Powertools layer (resolved from its public SSM parameter): not ours, not counted",
    }


def memory_by_function(synthesized: Synthesized) -> dict[str, int]:
    return {
        logical_id: int(resource["Properties"].get("MemorySize", 128))
        for logical_id, resource in synthesized.resources("AWS::Lambda::Function").items()
    }


def incident_cost(transitions: int, invoked_functions: list[str], memory: dict[str, int]) -> dict[str, Any]:
    """Step Functions Standard + Lambda (arm64) for one incident, at list prices, without free tiers."""
    gb_seconds = sum(memory[name] / 1024 * ASSUMED_SECONDS_PER_INVOCATION for name in invoked_functions)
    step_functions = transitions * SFN_STANDARD_PER_TRANSITION
    lambda_compute = gb_seconds * LAMBDA_ARM64_PER_GB_SECOND
    lambda_requests = len(invoked_functions) * LAMBDA_PER_REQUEST
    total = step_functions + lambda_compute + lambda_requests
    return {
        "transitions": transitions,
        "invocations": len(invoked_functions),
        "gb_seconds": round(gb_seconds, 4),
        "step_functions_usd": step_functions,
        "lambda_compute_usd": lambda_compute,
        "lambda_requests_usd": lambda_requests,
        "total_usd": total,
        "per_1000_incidents_usd": round(total * 1000, 4),
    }
