"""The figures docs/operations.md states (§7 the cost, §1.3 the outputs), checked against the
synthesized template and against each other, so that a change to the stack cannot leave the
runbook's counts and costs behind.

- §7.3: the alarms (how many, on what) are the template's; their cost is the count at the
  per-alarm price the row states; the total is the rows' sum.
- §7.2: each function's memory and timeout are the template's; its invocations per event are the
  Lambda tasks among the states §7.1 lists; the GB-s, the dollars and the totals are computed from
  the table at the unit prices the rows state.
- §7.1: each listed state is one of the definition's, and the transitions are the states listed
  (which states the drill really enters: tests/e2e/test_runbook_states.py).
- §1.3: the outputs table lists the home stack's outputs, in order.
- README.md "Cost": its words ("a few dollars a month", "about a tenth of a cent") hold for §7.3's and §7.2's sums.

The template is that of the README's deploy (one e-mail address, Slack), so the e-mail dead-letter
queue's alarm exists (tests/infra/configurations.py "one-email-slack").
"""

from __future__ import annotations

import json
import re
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.infra.configurations import synth_configuration

pytestmark = pytest.mark.xdist_group("synth")

RUNBOOK = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
EVENTS = ("Exposed access key", "Stolen instance credentials")  # §7.1 rows; §7.2 columns "Exposed key", ...
FUNCTION_ID = re.compile(r"^([A-Za-z]+?)Function[0-9A-F]{8}$")
TIMES = "\N{MULTIPLICATION SIGN}"  # as the runbook writes a product
MONEY = re.compile(r"\$([0-9][0-9,]*(?:\.[0-9]+)?)")


# --- the runbook, read ---------------------------------------------------------------------------


def section(number: str) -> str:
    text = RUNBOOK.read_text()
    start = text.index(f"### {number} ")
    following = text.find("\n### ", start + 1)
    return text[start : following if following != -1 else len(text)]


def tables(text: str) -> list[list[list[str]]]:
    """Each markdown table of `text`: its rows (header first, the |---| line left out) as cells."""
    found, rows = [], []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            if not re.fullmatch(r"\|(\s*:?-+:?\s*\|)+", line.strip()):
                rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
        elif rows:
            found.append(rows)
            rows = []
    return found


def table_with(text: str, header: str) -> list[list[str]]:
    (table,) = [t for t in tables(text) if t[0][0] == header]
    return table


def dollars(cell: str) -> Decimal:
    """The last dollar amount of a cell (the result of its sum)."""
    return Decimal(MONEY.findall(cell)[-1].replace(",", ""))


def stated_as(computed: Decimal, stated: Decimal) -> bool:
    """`computed`, rounded to as many decimals as `stated` shows, is `stated`."""
    places = Decimal(1).scaleb(stated.as_tuple().exponent)  # type: ignore[arg-type]
    return computed.quantize(places) == stated


def at_most(computed: Decimal, stated: Decimal) -> bool:
    """`stated` is an upper bound of `computed` that is tight to its last decimal."""
    places = Decimal(1).scaleb(stated.as_tuple().exponent)  # type: ignore[arg-type]
    return computed <= stated < computed + places


def states_of(row: str) -> list[str]:
    (states,) = [r[1] for r in table_with(section("7.1"), "Event")[1:] if r[0].startswith(row)]
    return [state.strip() for state in states.split(",")]


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    synth = synth_configuration("one-email-slack")
    assert synth.error is None, synth.error
    return synth.template()


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {lid: r for lid, r in template["Resources"].items() if r["Type"] == kind}


def functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The template's functions by the name the runbook gives them (the logical id's prefix)."""
    named = {}
    for logical_id, resource in resources(template, "AWS::Lambda::Function").items():
        match = FUNCTION_ID.match(logical_id)
        assert match, f"{logical_id}: not a responder function's logical id"
        named[match.group(1)] = {**resource["Properties"], "LogicalId": logical_id}
    return named


def definition(template: dict[str, Any]) -> dict[str, Any]:
    """The state machine's definition, each intrinsic replaced by the logical id it names."""
    (machine,) = resources(template, "AWS::StepFunctions::StateMachine").values()
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    return dict(
        json.loads("".join(p if isinstance(p, str) else (p.get("Ref") or p.get("Fn::GetAtt", ["?"])[0]) for p in parts))
    )


def all_states(states: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every state, those of Parallel branches and Map iterators included."""
    found = {}
    for name, state in states.items():
        found[name] = state
        for branch in state.get("Branches", []):
            found |= all_states(branch["States"])
        for inner in ("Iterator", "ItemProcessor"):
            if inner in state:
                found |= all_states(state[inner]["States"])
    return found


# --- §7.3: the alarms and the cost at rest -------------------------------------------------------

ALARMS = re.compile(
    r"CloudWatch alarms: (?P<total>\d+) \((?P<executions>\d+) on executions, (?P<events>\d+) on the event "
    r"dead-letter queue, (?P<emails>\d+) on the e-mail dead-letter queue[^,]*, (?P<per>\d+) on each of the "
    rf"(?P<functions>\d+) functions\) {TIMES} \$(?P<price>[0-9.]+)"
)


def test_the_alarm_count_and_its_cost_are_the_templates(template: dict[str, Any]) -> None:
    rows = {row[0]: row[1] for row in table_with(section("7.3"), "Item")[1:]}
    (label,) = [item for item in rows if item.startswith("CloudWatch alarms:")]
    stated = ALARMS.match(label)
    assert stated, label
    alarms = list(resources(template, "AWS::CloudWatch::Alarm").values())

    def on(namespace: str, queue: str = "") -> int:
        return sum(
            a["Properties"]["Namespace"] == namespace and queue in json.dumps(a["Properties"]["Dimensions"])
            for a in alarms
        )

    assert int(stated["total"]) == len(alarms)
    assert int(stated["executions"]) == on("AWS/States")
    assert int(stated["events"]) == on("AWS/SQS", "DetectionDeadLetters")
    assert int(stated["emails"]) == on("AWS/SQS", "NotificationEmailDeadLetters")
    assert int(stated["functions"]) == len(functions(template)) == on("AWS/Lambda")
    assert int(stated["per"]) == 1
    assert dollars(rows[label]) == len(alarms) * Decimal(stated["price"])


def test_the_monthly_total_is_the_sum_of_the_rows() -> None:
    rows = {row[0]: row[1] for row in table_with(section("7.3"), "Item")[1:]}
    (alarms,) = [cell for item, cell in rows.items() if item.startswith("CloudWatch alarms:")]
    (slack,) = [cell for item, cell in rows.items() if item.startswith("Secrets Manager")]
    at_rest = dollars(rows["KMS customer-managed key"]) + dollars(alarms)
    total = rows["**Total**"]
    assert f"≈ ${at_rest:.2f} / month" in total, total
    assert f"(≈ ${at_rest + dollars(slack):.2f} with Slack)" in total, total


# --- §7.2: the functions, the invocations and the cost per incident -----------------------------


def function_table() -> dict[str, dict[str, Any]]:
    table = table_with(section("7.2"), "Function")
    header = table[0]
    assert header[4:] == ["Exposed key", "Stolen instance credentials"], header

    def number(cell: str, unit: str) -> int:
        assert cell.endswith(f" {unit}"), cell
        return int(cell.removesuffix(f" {unit}").replace(",", ""))

    return {
        name: {
            "memory": number(memory, "MB"),
            "timeout": number(timeout, "s"),
            "typical": number(typical, "s"),
            EVENTS[0]: int(key),
            EVENTS[1]: int(instance),
        }
        for name, memory, timeout, typical, key, instance in table[1:]
    }


def test_each_functions_memory_and_timeout_are_the_templates(template: dict[str, Any]) -> None:
    deployed = functions(template)
    stated = function_table()
    assert set(stated) == set(deployed)
    for name, function in stated.items():
        assert function["memory"] == deployed[name]["MemorySize"], name
        assert function["timeout"] == deployed[name]["Timeout"], name
    assert all(f["Architectures"] == ["arm64"] for f in deployed.values())
    assert "run on arm64" in section("7.2")


@pytest.mark.parametrize("event", EVENTS)
def test_the_invocations_are_the_lambda_tasks_among_the_states_entered(template: dict[str, Any], event: str) -> None:
    states = all_states(definition(template)["States"])
    by_id = {f["LogicalId"]: name for name, f in functions(template).items()}
    invoked = Counter(
        by_id[states[name]["Resource"]]
        for name in states_of(event)
        if states[name]["Type"] == "Task" and states[name].get("Resource") in by_id
    )
    assert {name: f[event] for name, f in function_table().items() if f[event]} == dict(invoked)


def test_every_state_listed_is_the_definitions_and_the_transitions_are_their_count(template: dict[str, Any]) -> None:
    states = all_states(definition(template)["States"])
    for row in table_with(section("7.1"), "Event")[1:]:
        listed = [state.strip() for state in row[1].split(",")]
        assert set(listed) <= set(states), set(listed) - set(states)
        assert int(re.match(r"\**(\d+)", row[2]).group(1)) == len(listed), row[0]  # type: ignore[union-attr]


def cost_rows() -> dict[str, list[str]]:
    return {row[0]: row for row in table_with(section("7.2"), "Item")[1:]}


def price(row: list[str], rows: dict[str, list[str]]) -> Decimal:
    """The unit price of a row, per one unit (a transition, a request, a GB-s)."""
    cell = row[1] if row[1] != "same" else rows["Lambda compute, typical"][1]
    amount = dollars(cell)
    per = re.search(r"/ ([0-9,.]+)(M)?\b", cell)
    if per:
        amount /= Decimal(per.group(1).replace(",", "")) * (1_000_000 if per.group(2) else 1)
    return amount


@pytest.mark.parametrize("column", [2, 3])
def test_each_cost_per_incident_is_computed_from_the_tables(column: int) -> None:
    event = EVENTS[column - 2]
    rows = cost_rows()
    table = function_table()
    transitions = len(states_of(event))
    invocations = sum(f[event] for f in table.values())

    cell = rows["Step Functions Standard"][column]
    assert cell.startswith(f"{transitions} {TIMES} ${price(rows['Step Functions Standard'], rows)} = ")
    assert dollars(cell) == transitions * price(rows["Step Functions Standard"], rows)
    cell = rows["Lambda requests"][column]
    assert cell.startswith(f"{invocations} invocations = ")
    assert stated_as(invocations * price(rows["Lambda requests"], rows), dollars(cell)), cell

    for row, seconds in (("Lambda compute, typical", "typical"), ("Lambda compute, bound", "timeout")):
        gb_s = sum((Decimal(f[event] * f[seconds] * f["memory"]) / 1024 for f in table.values()), Decimal(0))
        cell = rows[row][column]
        stated_gb_s = Decimal(re.match(r"([0-9.,]+) GB-s = ", cell).group(1).replace(",", ""))  # type: ignore[union-attr]
        assert stated_as(gb_s, stated_gb_s), f"{row}, {event}: {gb_s} GB-s"
        assert stated_as(gb_s * price(rows[row], rows), dollars(cell)), (
            f"{row}, {event}: {gb_s * price(rows[row], rows)}"
        )


@pytest.mark.parametrize("column", [2, 3])
def test_the_totals_per_incident_are_the_sums_of_the_rows(column: int) -> None:
    rows = cost_rows()
    summed = {
        name: dollars(row[column] if row[column] != "same" else row[2])
        for name, row in rows.items()
        if not name.startswith("**") and "/ month" not in row[column] and row[column] != "—"
    }
    typical = sum((v for name, v in summed.items() if name != "Lambda compute, bound"), Decimal(0))
    bound = sum((v for name, v in summed.items() if name != "Lambda compute, typical"), Decimal(0))
    total = rows["**Total, typical (bound)**"][column]
    stated = re.fullmatch(r"\*\*≈ \$([0-9.]+) \(≤ \$([0-9.]+)\)\*\*", total)
    assert stated, total
    assert stated_as(typical, Decimal(stated.group(1))), f"typical {typical}"
    assert at_most(bound, Decimal(stated.group(2))), f"bound {bound}"


# --- §1.3: the stack outputs --------------------------------------------------------------------


def test_the_outputs_table_is_the_home_stacks_outputs(template: dict[str, Any]) -> None:
    listed = [row[0].strip("`") for row in table_with(section("1.3"), "Output")[1:]]
    assert listed == list(template["Outputs"])


# --- README: the figures its "Cost" section states ------------------------------------------------

README = RUNBOOK.parents[1] / "README.md"


def readme_cost() -> str:
    text = README.read_text()
    return " ".join(text.split("\n## Cost\n", 1)[1].split("\n## ", 1)[0].split())


def test_the_readmes_cost_words_hold_for_the_runbooks_figures() -> None:
    """The README says the cost in words that stay true as functions come and go; the runbook has the figures."""
    text = readme_cost()
    assert "At rest: a few dollars a month" in text and "Per incident: about a tenth of a cent" in text, text
    rows = {row[0]: row[1] for row in table_with(section("7.3"), "Item")[1:]}
    items = [cell.split("(")[0] for item, cell in rows.items() if not item.startswith("**")]
    at_rest = sum(dollars(cell) for cell in items if MONEY.search(cell))
    assert Decimal(1) <= at_rest < Decimal(10), at_rest
    totals = cost_rows()["**Total, typical (bound)**"]
    for column in (2, 3):
        typical = Decimal(MONEY.findall(totals[column])[0])
        assert Decimal("0.0005") <= typical < Decimal("0.002"), (column, totals[column])
