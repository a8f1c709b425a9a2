"""Durations for window specs: ``"500ms"``, ``"15m"``, ``"1h30m"``, ``"1mo"``, int ns.

A duration keeps calendar parts (months, weeks, days) apart from the fixed part in
nanoseconds, because a month has no fixed length and a local day across a DST change
lasts 23 or 25 hours. Whether days and weeks are calendar units or plain multiples of
86,400 s is decided by the caller (see :meth:`Duration.is_calendar`).

Units, longest first: ``y`` (12 months), ``mo`` (month), ``w`` (week), ``d`` (day),
``h``, ``m`` (minute), ``s``, ``ms``, ``us`` (also ``µs``), ``ns``. Parts may be chained
(``"1h30m"``, ``"1d12h"``); a leading ``-`` negates the whole duration (offsets only).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tsengine.errors import ParseError

NS_PER_S = 1_000_000_000
NS_PER_DAY = 86_400 * NS_PER_S
NS_PER_WEEK = 7 * NS_PER_DAY

# Fixed units in nanoseconds; calendar units are handled apart.
_FIXED_NS = {
    "h": 3_600 * NS_PER_S,
    "m": 60 * NS_PER_S,
    "s": NS_PER_S,
    "ms": 1_000_000,
    "us": 1_000,
    "µs": 1_000,
    "ns": 1,
}
_PART = re.compile(r"(\d+)(mo|ms|us|µs|ns|y|w|d|h|m|s)")


@dataclass(frozen=True)
class Duration:
    """A parsed duration: calendar parts plus a fixed part.

    Attributes
    ----------
    months : int
        Calendar months (``1y`` is 12 months).
    weeks : int
        Weeks; a week window starts on Monday.
    days : int
        Days.
    ns : int
        Fixed part in nanoseconds (hours and shorter).
    """

    months: int = 0
    weeks: int = 0
    days: int = 0
    ns: int = 0

    def is_zero(self) -> bool:
        """True when every part is zero."""
        return not (self.months or self.weeks or self.days or self.ns)

    def is_negative(self) -> bool:
        """True when the duration points backwards (all parts share one sign)."""
        return min(self.months, self.weeks, self.days, self.ns) < 0

    def is_calendar(self, tz: str | None) -> bool:
        """Whether windows of this length need calendar arithmetic.

        Months always do. Days and weeks do only with a time zone other than UTC,
        where a local day may last 23 or 25 hours; in UTC they are fixed lengths.
        """
        if self.months:
            return True
        return bool(tz not in (None, "UTC") and (self.days or self.weeks))

    def fixed_ns(self) -> int:
        """Length in nanoseconds, counting a day as 86,400 s.

        Raises
        ------
        ParseError
            If the duration has a month part, which has no fixed length.
        """
        if self.months:
            raise ParseError(f"duration {self!r} has months and no fixed length")
        return self.weeks * NS_PER_WEEK + self.days * NS_PER_DAY + self.ns

    def negated(self) -> Duration:
        """The same duration pointing the other way."""
        return Duration(-self.months, -self.weeks, -self.days, -self.ns)


def parse_duration(
    value: str | int | Duration, *, name: str = "duration", allow_negative=False
) -> Duration:
    """Parse a duration string or a number of nanoseconds.

    Parameters
    ----------
    value : str, int or Duration
        ``"500ms"``, ``"1s"``, ``"15m"``, ``"1h30m"``, ``"1d"``, ``"1w"``, ``"1mo"``,
        ``"1y"``, or an integer count of nanoseconds.
    name : str
        Parameter name used in error messages (``"every"``, ``"offset"``, ...).
    allow_negative : bool
        Accept a leading ``-`` (offsets may point backwards; widths may not).

    Returns
    -------
    Duration

    Raises
    ------
    ParseError
        If the text is not a duration, or is negative where that is not allowed.

    Examples
    --------
    >>> parse_duration("1h30m")
    Duration(months=0, weeks=0, days=0, ns=5400000000000)
    >>> parse_duration("1y").months
    12
    """
    # Already parsed, or a plain count of nanoseconds
    if isinstance(value, Duration):
        out = value
    elif isinstance(value, bool):
        raise ParseError(f"{name}={value!r} is not a duration")
    elif isinstance(value, int):
        out = Duration(ns=int(value))
    elif isinstance(value, str):
        out = _parse_text(value.strip(), name)
    else:
        raise ParseError(
            f"{name}={value!r} is not a duration (expected a string such as '15m' "
            "or an integer number of nanoseconds)"
        )

    # Widths must point forwards
    if out.is_negative() and not allow_negative:
        raise ParseError(f"{name}={value!r} must not be negative")
    return out


def _parse_text(text: str, name: str) -> Duration:
    """Parse chained ``<int><unit>`` parts, with an optional leading sign."""
    sign = 1
    body = text
    if body[:1] in "+-" and body:
        sign = -1 if body[0] == "-" else 1
        body = body[1:]
    if not body:
        raise ParseError(f"{name}={text!r} is not a duration")

    # Every character must belong to a part: no gaps, no trailing junk
    months = weeks = days = ns = 0
    pos = 0
    for match in _PART.finditer(body):
        if match.start() != pos:
            break
        amount, unit = int(match.group(1)), match.group(2)
        if unit == "y":
            months += 12 * amount
        elif unit == "mo":
            months += amount
        elif unit == "w":
            weeks += amount
        elif unit == "d":
            days += amount
        else:
            ns += amount * _FIXED_NS[unit]
        pos = match.end()
    if pos != len(body):
        raise ParseError(
            f"{name}={text!r} is not a duration (expected parts such as '500ms', "
            "'15m', '1h30m', '1d', '1w', '1mo', '1y')"
        )
    return Duration(sign * months, sign * weeks, sign * days, sign * ns)
