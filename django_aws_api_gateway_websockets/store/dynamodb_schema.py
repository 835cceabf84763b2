"""The DynamoDB connection table's key schema: one definition used by the backend and by the CDK stack.

Pure constants, no Django or boto3 import, so ``infra/`` can import it.

Items (one table, on-demand):

================================  ===================  =======================================================
PK                                SK                   what
================================  ===================  =======================================================
``CONN#<connection id>``          ``META``             the connection; ``GSI1PK = USER#<user id>`` while open
``CONN#<connection id>``          ``GROUP#<name>``     reverse membership (groups of a connection)
``GROUP#<name>``                  ``CONN#<id>``        membership, with the connection's endpoint facts
``TOKEN#<token id>``              ``USED``             a connect token already used (replay guard)
``RATE#<scope>:<key hash>``       ``WINDOW#<s>#<n>``   a connect rate-limit counter for one window
================================  ===================  =======================================================

Every item carries ``ttl`` (epoch seconds): API Gateway closes connections after 2 hours, so DynamoDB's TTL
removes what a lost ``$disconnect`` would leave behind.
"""

from __future__ import annotations

PARTITION_KEY = "PK"
SORT_KEY = "SK"
USER_INDEX = "GSI1"
USER_INDEX_PARTITION_KEY = "GSI1PK"
USER_INDEX_SORT_KEY = "GSI1SK"
TTL_ATTRIBUTE = "ttl"
# API Gateway's maximum connection duration, plus a margin for late $disconnect events.
CONNECTION_TTL_SECONDS = 2 * 60 * 60 + 15 * 60

CONNECTION_PREFIX = "CONN#"
GROUP_PREFIX = "GROUP#"
USER_PREFIX = "USER#"
TOKEN_PREFIX = "TOKEN#"
RATE_PREFIX = "RATE#"
WINDOW_PREFIX = "WINDOW#"
META = "META"
USED = "USED"


def create_table_arguments(table_name: str) -> dict[str, object]:
    """Arguments for ``dynamodb.create_table`` (tests, local development); the CDK stack mirrors them."""
    return {
        "TableName": table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": name, "AttributeType": "S"}
            for name in (PARTITION_KEY, SORT_KEY, USER_INDEX_PARTITION_KEY, USER_INDEX_SORT_KEY)
        ],
        "KeySchema": [{"AttributeName": PARTITION_KEY, "KeyType": "HASH"},
                      {"AttributeName": SORT_KEY, "KeyType": "RANGE"}],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": USER_INDEX,
                "KeySchema": [{"AttributeName": USER_INDEX_PARTITION_KEY, "KeyType": "HASH"},
                              {"AttributeName": USER_INDEX_SORT_KEY, "KeyType": "RANGE"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    }
