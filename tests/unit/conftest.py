"""Fixtures shared by the unit tests."""

from __future__ import annotations

import boto3
import pytest


@pytest.fixture
def dynamodb(aws):
    """A DynamoDB client with the incident table (`incidents`, keyed on `id`) in moto."""
    client = boto3.client("dynamodb")
    client.create_table(
        TableName="incidents",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
    )
    return client
