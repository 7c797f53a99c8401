"""The local drill: the real response, synthesized by CDK, run against a simulated AWS account.

Nothing here is part of the product. It synthesizes the CDK app, takes the state machine
definition from the template, and runs it in moto's Step Functions interpreter with each
Lambda task dispatched in-process to the real handler, after staging the resources an event
names. What it reports as `observed` is read back from the simulated account.
"""

import sys
from pathlib import Path

# The product's packages run top-level, as in Lambda (`from common.times import iso`): the drill's modules use a few.
LAMBDAS_DIR = Path(__file__).resolve().parent.parent / "lambdas"
if str(LAMBDAS_DIR) not in sys.path:
    sys.path.insert(0, str(LAMBDAS_DIR))
