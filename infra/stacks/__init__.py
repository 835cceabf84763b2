from .account import ApiGatewayAccountStack
from .application import ApplicationStack
from .stateful import StatefulStack

__all__ = ["ApiGatewayAccountStack", "ApplicationStack", "StatefulStack"]
