"""The wall clock watched against the monotonic one, at every dispatch.

The schedule is stored in wall time (it outlives the process); a wall clock stepped
back would leave every poll in the future, so the schedule is moved back by the step,
as far as the monotonic clock says the wall one went back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ingest.state.store import Store
from ingest.units import format_duration

log = logging.getLogger("ingest.daemon")
CLOCK_STEP = 5.0  # seconds the wall clock may fall behind the monotonic one unnoticed


class ClockStepWatch:
    """The last dispatch by both clocks, and the schedule moved back when the wall clock
    went back since then."""

    def __init__(self, store: Store, wall: Callable[[], float],
                 monotonic: Callable[[], float]) -> None:
        self._store = store
        self._wall = wall
        self._monotonic = monotonic
        self._last = (wall(), monotonic())

    def tick(self) -> None:
        """Note a dispatch; first move the schedule back if the wall clock stepped back
        (if the store fails, the step is still there at the next tick)."""
        wall, mono = self._wall(), self._monotonic()
        step = self._last[0] + (mono - self._last[1]) - wall
        if step > CLOCK_STEP:
            moved = self._store.shift_schedule(-step)
            log.warning("daemon: the wall clock went back %s; %d scheduled polls moved back "
                        "with it", format_duration(round(step)), moved)
        self._last = (wall, mono)

    def silent_for(self) -> float:
        """Seconds since the last dispatch, by the monotonic clock."""
        return self._monotonic() - self._last[1]
