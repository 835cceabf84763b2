"""The AWS CDK app: a stateful stack (connection table, secret) and an application stack (WebSocket API,
stage, Django Lambda), built from the reusable :class:`infra.constructs.DjangoWebSocketApi` construct."""
