"""AWS actions the normalize function calls (through record.store), and on what."""

from record.permissions import FIRST_TASK_RECORD, FIRST_TASK_RECORD_KEY

GRANTS = FIRST_TASK_RECORD
INDIRECT_GRANTS = FIRST_TASK_RECORD_KEY
