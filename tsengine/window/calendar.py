"""Calendar window edges: local days, weeks, months and years in a time zone.

A calendar window starts at a local wall time (local midnight of its first day, plus
``offset`` applied in wall time) and is resolved to a UTC instant with ``zoneinfo``:

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
wall time, so with ``period == every`` it is exactly ``start(k + 1)``.
"""

from __future__ import annotations

import zoneinfo
from datetime import UTC, date, datetime, timedelta

import numpy as np

from tsengine.errors import ParseError, TimestampError
from tsengine.window.duration import NS_PER_DAY, Duration

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_NAIVE = datetime(1970, 1, 1)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
# Monday 1969-12-29 is day -3: weeks count from there
_MONDAY0 = -3


def load_zone(tz: str | None) -> zoneinfo.ZoneInfo | None:
    """Resolve a zone name; None and ``"UTC"`` mean UTC (returned as None).

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
        return zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ParseError(f"tz={tz!r} is not a known time zone") from None


def _td_ns(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1000


def utc_offset_ns(zone, utc_ns: int) -> int:
    """UTC offset of ``zone`` at an instant, in ns (0 for UTC)."""
    if zone is None:
        return 0
    moment = _EPOCH + timedelta(microseconds=utc_ns // 1000)
    return _td_ns(moment.astimezone(zone).utcoffset())


def local_to_utc(zone, wall_ns: int) -> int:
    """Resolve a local wall time (ns since 1970-01-01 00:00 local) to UTC ns.

    Ambiguous wall times take the earlier instant; non-existent ones the first instant
    after the gap (the transition).
    """
    if zone is None:
        return wall_ns

    # Try both readings of the wall time; keep the ones that round-trip
    naive = _EPOCH_NAIVE + timedelta(microseconds=wall_ns // 1000)
    readings = []
    for fold in (0, 1):
        utc = wall_ns - _td_ns(zone.utcoffset(naive.replace(fold=fold)))
        readings.append(utc)
    exists = [u for u in readings if u + utc_offset_ns(zone, u) == wall_ns]
    if exists:
        return min(exists)

    # In a gap: bisect for the first instant whose wall time is past the gap's start
    lo, hi = min(readings), max(readings)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if mid + utc_offset_ns(zone, mid) >= wall_ns:
            hi = mid
        else:
            lo = mid
    return hi


def _days_from_months(months: int) -> int:
    """Days from 1970-01-01 to the first day of month ``months`` (0 = January 1970)."""
    year, month0 = divmod(months, 12)
    try:
        first = date(1970 + year, month0 + 1, 1)
    except ValueError:
        raise TimestampError(
            f"calendar month {months!r} after January 1970 is outside the date range"
        ) from None
    return first.toordinal() - _EPOCH_ORDINAL


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
        parts = [
            bool(every.months),
            bool(every.weeks),
            bool(every.days),
            bool(every.ns),
        ]
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

    def _wall(self, k: int, extra: Duration | None = None) -> int:
        """Local wall ns of window ``k``'s start, plus ``extra`` in wall time."""
        months = self.offset.months + (extra.months if extra else 0)
        days = self.offset.weeks * 7 + self.offset.days
        ns = self.offset.ns
        if extra is not None:
            days += extra.weeks * 7 + extra.days
            ns += extra.ns
        if self._unit == "mo":
            months += k * self._step
        elif self._unit == "w":
            days += _MONDAY0 + k * self._step
        else:
            days += k * self._step
        return (_days_from_months(months) + days) * NS_PER_DAY + ns

    def start(self, k: int) -> int:
        """UTC ns where window ``k`` starts."""
        return local_to_utc(self.zone, self._wall(k))

    def end(self, k: int, period: Duration) -> int:
        """UTC ns where window ``k`` of width ``period`` (wall time) ends."""
        return local_to_utc(self.zone, self._wall(k, period))

    def index_of(self, utc_ns: int) -> int:
        """Index of the window whose start is the last one at or before ``utc_ns``."""
        # Guess from the local calendar position, then step to the exact window
        wall = utc_ns + utc_offset_ns(self.zone, utc_ns)
        day = wall // NS_PER_DAY
        if self._unit == "mo":
            local = date.fromordinal(_EPOCH_ORDINAL + day)
            pos = (local.year - 1970) * 12 + local.month - 1 - self.offset.months
        elif self._unit == "w":
            pos = day - _MONDAY0
        else:
            pos = day
        k = pos // self._step
        while self.start(k) > utc_ns:
            k -= 1
        while self.start(k + 1) <= utc_ns:
            k += 1
        return k

    def starts(self, k0: int, k1: int) -> np.ndarray:
        """Starts of windows ``k0..k1`` inclusive, int64 UTC ns."""
        return np.array([self.start(k) for k in range(k0, k1 + 1)], dtype=np.int64)

    def ends(self, k0: int, k1: int, period: Duration) -> np.ndarray:
        """Ends of windows ``k0..k1`` inclusive for width ``period``, int64 UTC ns."""
        if period == self.every:
            return np.array(
                [self.start(k) for k in range(k0 + 1, k1 + 2)], dtype=np.int64
            )
        return np.array([self.end(k, period) for k in range(k0, k1 + 1)], np.int64)
