"""The local drill: the real response, synthesized by CDK, run against a simulated AWS account.

Nothing here is part of the product. It synthesizes the CDK app, takes the state machine
definition from the template, and runs it in moto's Step Functions interpreter with each
Lambda task dispatched in-process to the real handler, after staging the resources an event
names. What it reports as `observed` is read back from the simulated account.
"""
