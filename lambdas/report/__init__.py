"""The report: one message per incident, whatever the outcome, by e-mail (SNS) and Slack.

outcome.py decides (pure), links.py and render.py write (pure), slack.py delivers to Slack,
handler.py holds the two Lambda entry points, permissions.py the IAM actions they need.
"""
