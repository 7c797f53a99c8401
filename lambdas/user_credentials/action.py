"""user_credentials, as the workflow, the configuration, release, check, the drill and the bench know it."""

from common.action import Action, Switch
from user_credentials.actions import STEP
from user_credentials.permissions import GRANTS

ACTION = Action(
    package="user_credentials",
    state="UserCredentials",
    steps=(STEP,),
    containment=True,  # a live SSH key or Bedrock API key is a credential the attacker still holds
    reach=True,
    grants=GRANTS,
    manual=(
        "For the exposed key's user and each user the attacker made, list its SSH public keys, service-specific "
        "credentials and signing certificates and set each Inactive: aws iam list-ssh-public-keys --user-name USER; "
        "aws iam list-service-specific-credentials --user-name USER; aws iam list-signing-certificates --user-name "
        "USER (in {region}'s account)"
    ),
    switches=(
        Switch(
            "userCredentials",
            "USER_CREDENTIALS",
            "userCredentials",
            "DRY_RUN_USER_CREDENTIALS",
            "Sets Inactive every SSH public key, service-specific credential (CodeCommit, Keyspaces, Bedrock API keys) "
            "and signing certificate of the exposed key's user and of each user the attacker made, and each one the "
            "attacker added to another user; off, each is reported with its command",
        ),
    ),
    clients=("s3", "iam"),
    observe=("users",),
    undo="user_credentials.release",
    release_order=5,  # the credentials of a user come back before anything else of the incident
    timeout_seconds=120,  # a user's three listings and each update read back, for up to 40 reach items
    uses=("evidence",),
    answers=("user-credential",),
)
