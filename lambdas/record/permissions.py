"""The record package is a library (no handler of its own): the functions that import it
declare its calls in their own permissions (incident: PutItem/UpdateItem; report: UpdateItem)."""

GRANTS: tuple[dict, ...] = ()
