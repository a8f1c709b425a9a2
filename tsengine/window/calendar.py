"""Calendar window edges: local days, weeks, months and years in a time zone.

A calendar window starts at a local wall time (local midnight of its first day, plus
``offset`` applied in wall time) and is resolved to a UTC instant:

- a day across a DST change lasts 23 or 25 hours, because both of its edges are local
  midnights;
- an edge on a local time that does not exist (a spring-forward gap, e.g. midnight in
  America/Santiago on its September transition) moves to the first instant that exists,
  which is the transition itself;
- an edge on a local time that occurs twice (fall-back overlap) takes the first
  occurrence.

Weeks start on Monday; ``Nw`` windows count weeks from Monday 1969-12-29, ``Nd`` windows
count days from 1970-01-01 and ``Nmo``/``Ny`` windows count months from January 1970,
all in local time. ``tz=None`` means UTC.

Window ``k`` covers ``[start(k), end(k))``; ``end(k)`` is ``start`` plus ``period`` in
wall time, so with ``period == every`` it is exactly ``start(k + 1)``. Edges are
computed for whole arrays of ``k`` at once: wall times with numpy, their resolution to
UTC with Arrow's ``assume_timezone`` (earliest of an ambiguous pair, latest -- i.e. the
end of the gap -- for a missing one), which reads the same system zone database as
``zoneinfo``.
"""

from __future__ import annotations

import zoneinfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tsengine.errors import ParseError, TimestampError
from tsengine.window.duration import NS_PER_DAY, Duration

# Monday 1969-12-29 is day -3: weeks count from there
_MONDAY0 = -3
_WALL = pa.timestamp("ns")


def load_zone(tz: str | None) -> str | None:
    """Check a zone name; None and ``"UTC"`` mean UTC (returned as None).

    Raises
    ------
    ParseError
        If the zone name is unknown to the system's or ``tzdata``'s database.
    """
    if tz is None or tz == "UTC":
        return None
    if not isinstance(tz, str):
        raise ParseError(f"tz={tz!r} is not a time zone name")
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ParseError(f"tz={tz!r} is not a known time zone") from None
    return tz


def local_to_utc(zone: str | None, walls: np.ndarray) -> np.ndarray:
    """Resolve local wall times (ns since 1970-01-01 00:00 local) to UTC ns."""
    if zone is None:
        return walls
    try:
        utc = pc.assume_timezone(
            pa.array(walls, _WALL),
            timezone=zone,
            ambiguous="earliest",
            nonexistent="latest",
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise TimestampError(f"cannot place local times in {zone!r}: {exc}") from None
    return utc.view(pa.int64()).to_numpy(zero_copy_only=False)


def utc_to_local(zone: str | None, utc: np.ndarray) -> np.ndarray:
    """Local wall time (ns since 1970-01-01 00:00 local) of UTC instants."""
    if zone is None:
        return utc
    aware = pa.array(utc, pa.timestamp("ns", zone))
    return pc.local_timestamp(aware).view(pa.int64()).to_numpy(zero_copy_only=False)


def _days_from_months(months: np.ndarray) -> np.ndarray:
    """Days from 1970-01-01 to the first day of each month (0 = January 1970)."""
    if months.size and (months.min() < -12 * 300 or months.max() > 12 * 400):
        bad = int(months.min() if months.min() < -12 * 300 else months.max())
        raise TimestampError(
            f"calendar month {bad!r} after January 1970 is out of range"
        )
    return months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)


class CalendarGrid:
    """Window starts and ends for a calendar ``every`` in a zone.

    Parameters
    ----------
    every : Duration
        A single calendar unit count: months only, weeks only or days only.
    tz : str or None
        IANA zone name; None means UTC.
    offset : Duration
        Shift of every window start, applied in local wall time (months only with a
        month ``every``).
    """

    def __init__(self, every: Duration, tz: str | None, offset: Duration):
        # One calendar unit per grid: mixed units have no single alignment
        parts = [bool(every.months), bool(every.weeks), bool(every.days)]
        if sum(parts) != 1 or every.ns:
            raise ParseError(
                f"calendar every={every!r} must be whole months, weeks or days "
                "(no mixed units such as '1d12h')"
            )
        if offset.months and not every.months:
            raise ParseError(
                f"offset={offset!r} has months but every={every!r} has not"
            )
        self.every = every
        self.zone = load_zone(tz)
        self.offset = offset
        if every.months:
            self._unit, self._step = "mo", every.months
        elif every.weeks:
            self._unit, self._step = "w", every.weeks * 7
        else:
            self._unit, self._step = "d", every.days

    def _walls(self, ks: np.ndarray, extra: Duration | None = None) -> np.ndarray:
        """Local wall ns of windows ``ks``' starts, plus ``extra`` in wall time."""
        ks = np.asarray(ks, np.int64)
        months = np.full(ks.size, self.offset.months, np.int64)
        days = np.full(ks.size, self.offset.weeks * 7 + self.offset.days, np.int64)
        ns = self.offset.ns
        if extra is not None:
            months += extra.months
            days += extra.weeks * 7 + extra.days
            ns += extra.ns
        if self._unit == "mo":
            months += ks * self._step
        elif self._unit == "w":
            days += _MONDAY0 + ks * self._step
        else:
            days += ks * self._step
        days = _days_from_months(months) + days
        # Keep wall times inside int64 ns (about 1677-09-22 to 2262-04-10)
        if days.size and (days.min() < -106_700 or days.max() > 106_700):
            bad = int(days.min() if days.min() < -106_700 else days.max())
            raise TimestampError(
                f"calendar edge {bad!r} days from 1970 is outside the int64 ns range"
            )
        return days * NS_PER_DAY + ns

    def starts(self, k0: int, k1: int) -> np.ndarray:
        """Starts of windows ``k0..k1`` inclusive, int64 UTC ns."""
        return local_to_utc(self.zone, self._walls(np.arange(k0, k1 + 1)))

    def ends(self, k0: int, k1: int, period: Duration) -> np.ndarray:
        """Ends of windows ``k0..k1`` inclusive for width ``period``, int64 UTC ns."""
        if period == self.every:
            return self.starts(k0 + 1, k1 + 1)
        return local_to_utc(self.zone, self._walls(np.arange(k0, k1 + 1), period))

    def index_of(self, utc: np.ndarray) -> np.ndarray:
        """Index of the window whose start is the last one at or before each instant."""
        utc = np.asarray(utc, np.int64)
        if utc.size == 0:
            return np.empty(0, np.int64)

        # Guess from the local calendar position, then step to the exact window
        day = utc_to_local(self.zone, utc) // NS_PER_DAY
        if self._unit == "mo":
            month = day.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
            k = (month - self.offset.months) // self._step
        elif self._unit == "w":
            k = (day - _MONDAY0) // self._step
        else:
            k = day // self._step
        for _ in range(8):
            ahead = local_to_utc(self.zone, self._walls(k)) > utc
            behind = local_to_utc(self.zone, self._walls(k + 1)) <= utc
            if not (ahead.any() or behind.any()):
                return k
            k = k - ahead + behind
        raise TimestampError(f"no calendar window found for times near {int(utc[0])!r}")
