"""The benchmark's declarations stay true to the code they measure."""

from __future__ import annotations

import re
from pathlib import Path

from bench.coldstart import CLIENTS, CONDITIONAL_CLIENTS, FLOOR_CONFIG, floor_script, handler_script
from common.aws import RETRY_CONFIG

LAMBDAS = Path(__file__).resolve().parents[2] / "lambdas"
CREATED = re.compile(r"""\bclient\(\s*["'](\w+)["']""")


def services_created_by(package: str) -> set[str]:
    services: set[str] = set()
    for path in (LAMBDAS / package).glob("*.py"):
        text = path.read_text()
        services |= set(CREATED.findall(text))
        if "parameters.get_secret(" in text:  # Powertools Parameters builds a Secrets Manager client
            services.add("secretsmanager")
    return services


def test_every_client_a_package_creates_is_declared_for_one_of_its_entry_points() -> None:
    for package in sorted(p.name for p in LAMBDAS.iterdir() if (p / "handler.py").exists()):
        declared = {s for handler, services in CLIENTS.items() if handler.startswith(f"{package}.") for s in services}
        declared |= {
            s
            for handler, services in CONDITIONAL_CLIENTS.items()
            if handler.startswith(f"{package}.")
            for s in services
        }
        assert services_created_by(package) <= declared, package


def test_the_floor_uses_the_handlers_client_config() -> None:
    assert RETRY_CONFIG.retries == FLOOR_CONFIG["retries"]
    assert RETRY_CONFIG.connect_timeout == FLOOR_CONFIG["connect_timeout"]
    assert RETRY_CONFIG.read_timeout == FLOOR_CONFIG["read_timeout"]


def test_sample_scripts_are_python() -> None:
    for handler, services in CLIENTS.items():
        compile(handler_script(handler), handler, "exec")
        compile(floor_script(services), "floor", "exec")
