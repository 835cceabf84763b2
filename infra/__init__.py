"""The AWS CDK app: a stateful stack (connection table, secret) and an application stack (WebSocket API,
stage, Django Lambda, dashboard, alarms) per environment, built from the reusable
:class:`infra.constructs.DjangoWebSocketApi` construct."""

import os

# jsii prints a Node end-of-life banner on every start under Node 20; the node process it starts inherits this,
# so `npx cdk synth`, the tests and any app importing the construct run quietly.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
