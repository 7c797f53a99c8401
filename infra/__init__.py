"""The CDK app's constructs. infra reads the functions' own declarations (lambdas/<package>/action.py,
permissions.py), so lambdas/ is on the path as in Lambda, where its packages are top-level."""

import sys
from pathlib import Path

LAMBDAS_DIR = Path(__file__).resolve().parent.parent / "lambdas"
if str(LAMBDAS_DIR) not in sys.path:
    sys.path.insert(0, str(LAMBDAS_DIR))
