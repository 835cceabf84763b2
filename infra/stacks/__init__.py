from .application import ApplicationStack
from .stateful import StatefulStack

__all__ = ["ApplicationStack", "StatefulStack"]
