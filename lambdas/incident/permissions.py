"""AWS actions the normalize function calls: none yet (it only parses). infra grants exactly these."""

GRANTS: tuple[dict, ...] = ()
