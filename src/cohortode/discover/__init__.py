"""The discovery loop: propose structures, screen them, feed back, fit the best with NUTS, compare and weigh them."""

from ._discovery import Discovery as Discovery
from ._executor import SerialExecutor as SerialExecutor
from ._executor import default_executor as default_executor
from ._loop import discover as discover
from ._rundir import RunDirectory as RunDirectory
from ._screen import ScreenResult as ScreenResult
from ._screen import screen_structure as screen_structure
from ._settings import Budget as Budget
from ._settings import FitSettings as FitSettings

__all__ = ["Budget", "Discovery", "FitSettings", "RunDirectory", "ScreenResult", "SerialExecutor",
           "default_executor", "discover", "screen_structure"]
