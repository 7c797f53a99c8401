"""The message lint (tests/message_lint.py) catches each defect issue 26 found in real messages: every rule on a
crafted bad message taken from what a reader met, and a clean message that passes."""

from __future__ import annotations

import pytest

from tests.message_lint import cuts, problems, record_texts, slack_text

CUT_DETAIL = (
    "pass 1: 3 call(s) in the window; CloudTrail delivers events up to ~15 minutes late, so a back door made in the "
    "last minutes is not visible yet: the second look-up, after that lag, acts on what it finds"
)


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            "placeholder",
            "aws ec2 create-network-acl-entry --region eu-west-1 --network-acl-id <acl of the subnet> --ingress "
            "--rule-number 1 --protocol -1 --rule-action deny --cidr-block 81.2.69.144/32",
        ),
        ("placeholder", "aws iam delete-access-key --user-name <UserName> --access-key-id AKIAIOSFODNN7EXAMPLE"),
        ("placeholder", "Remote caller: 81.2.69.144, GeneratedFindingCountryName, GeneratedFindingASNOrg"),
        ("python", "   execution SUCCEEDED in 7 states; containment at None ms, total 843.33 ms"),
        ("python", "== burst of 10: 10 contained exactly once; executions {'SUCCEEDED': 10}"),
        ("python", '   observed: {"access_keys": {"AKIA1": "Inactive"}, "user_policies": {"u": []}}'),
        ("python", "keys ['AKIA1', 'AKIA2'] deactivated"),
        ("mangled", "IGNORED: unsupported-finding-type: 'Backdoor:EC2/C?CActivity.B?DNS' is not instance credential"),
        ("cut", f"  [done] evict-backdoors on i-1: {CUT_DETAIL[:140]}\n  [done] next step"),
        (
            "duplicate",
            "  [done] sweep-backdoor-keys on ci-deployer: 1 other access key(s) created after the exposure\n"
            "  [done] investigate-cloudtrail on AKIA1: pass 2\n"
            "  [done] sweep-backdoor-keys on ci-deployer: 1 other access key(s) created after the exposure",
        ),
        ("duplicate", "detach-attacker-policy on u: AdministratorAccess: arn:aws:iam::aws:policy/AdministratorAccess"),
        ("dangling", "FAILED: containment skipped: root user's key: the responder never acts on root; a person must"),
        ("shell", "aws iam update-access-key --user-name 'ci-deployer --access-key-id AKIA1 --status Inactive"),
        ("shell", 'for r in $(aws ec2 describe-regions --output text); do echo "$r"'),
    ],
)
def test_each_rule_catches_the_defect_a_reader_met(rule: str, message: str) -> None:
    found = problems(message, sources=[CUT_DETAIL])
    assert any(problem.startswith(f"{rule}:") for problem in found), found


def test_a_clean_message_passes() -> None:
    message = "\n".join(
        [
            "What happened:       AWS Health reported access key AKIAIOSFODNN7EXAMPLE exposed at 2026-11-20T19:13:05Z",
            "Outcome:             CONTAINED: every containment step succeeded: deactivate-access-key",
            "Time to containment: 412 ms after the response started (contained at 2026-11-20T19:13:07.532Z)",
            f"  [done] evict-backdoors on i-1: {CUT_DETAIL}",
            f"  [done] evict-backdoors on i-2: {CUT_DETAIL[:120]}…",
            "        aws iam delete-access-key --user-name ci-deployer --access-key-id AKIAIOSFODNN7EXAMPLE",
            "        user=$(aws iam get-access-key-last-used --access-key-id AKIA1 --query UserName --output text)",
            "  GuardDuty finding: https://eu-west-1.console.aws.amazon.com/guardduty/home?region=eu-west-1#/findings",
            "  Who: the role's sessions (none); the key ends with ARN arn:aws:iam::111122223333:user/ci-deployer",
        ]
    )
    assert problems(message, sources=[CUT_DETAIL]) == []


def test_slack_is_read_as_slack_shows_it() -> None:
    # The renderer's own links are not placeholders; an escaped <...> is one, as the reader sees it.
    linked = "*Links*\n• <https://console.aws.amazon.com/iam/home#/users/details/ci-deployer|IAM user ci-deployer>"
    assert problems(linked, slack=True) == []
    escaped = "Remote caller: --network-acl-id &lt;acl of the subnet&gt;"
    assert any(p.startswith("placeholder:") for p in problems(escaped, slack=True))
    # A code block's lines are command lines: a command cut inside one does not parse.
    code = "Do it by hand:\n```aws iam update-access-key --user-name 'ci-dep```"
    assert any(p.startswith("shell:") for p in problems(code, slack=True))


def test_a_quoted_message_is_read_as_the_message() -> None:
    quoted = "      |   aws iam update-access-key --user-name 'ci-dep --access-key-id AKIA1"
    assert any(p.startswith("shell:") for p in problems(quoted))
    command = 'aws ec2 revoke-security-group-egress --ip-permissions \'[{"IpProtocol": "-1"}]\''
    assert problems(f"      |   {command}") == []  # a command's JSON is not a state dumped in prose


def test_a_cut_with_its_marker_is_not_a_defect() -> None:
    marked = f"{CUT_DETAIL[:100]} […cut here: the full text is in the incident record]"
    assert cuts(marked, [CUT_DETAIL]) == []
    assert cuts(f"{CUT_DETAIL[:100]}…", [CUT_DETAIL]) == []
    assert cuts(CUT_DETAIL[:100], [CUT_DETAIL])


def test_the_channels_texts() -> None:
    payload = {"text": "fallback", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "body"}}]}
    assert slack_text(payload) == "fallback\nbody"
    step = {"name": "a", "status": "done", "target": "t", "detail": "d", "undo": "aws one\naws two"}
    # One text per step: two steps may rightly carry the same command (two keys of one user).
    assert record_texts({"reason": "why", "steps": [step, step]}) == ["why"] + ["a done on t: d\naws one\naws two"] * 2
