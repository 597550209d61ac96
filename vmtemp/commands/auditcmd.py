"""vmtemp audit: show and verify the audit log of mount operations."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from vmtemp import audit, names
from vmtemp.errors import OperationFailed, UsageError
from vmtemp.output import print_json, say, table

UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600, "hours": 3600, "d": 86400, "day": 86400,
         "days": 86400, "w": 604800, "week": 604800, "weeks": 604800}
RELATIVE_RE = re.compile(r"^(\d{1,7})\s*([a-z]+)$")
SINCE_HINT = "e.g. --since 2h, --since 3d, --since 2024-05-01 or --since 2024-05-01T14:30 (local time) or ...Z (UTC)"


def parse_since(text: str, now: dt.datetime | None = None) -> dt.datetime:
    """An aware datetime from '2h', '3d', '90m', 'today', 'yesterday' or an ISO 8601 date/time
    (without a zone: local time)."""
    now = now or dt.datetime.now(dt.UTC)
    value = text.strip().lower()
    m = RELATIVE_RE.match(value)
    if m and m.group(2) in UNITS:
        return now - dt.timedelta(seconds=int(m.group(1)) * UNITS[m.group(2)])
    if value in ("today", "yesterday"):
        local = now.astimezone().replace(hour=0, minute=0, second=0, microsecond=0)
        return local - dt.timedelta(days=1 if value == "yesterday" else 0)
    try:
        when = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        shown = text.encode("unicode_escape").decode()
        raise UsageError(f"cannot read --since {shown!r}", hint=SINCE_HINT) from None
    return when.astimezone() if when.tzinfo is None else when


def _entry_time(entry: dict[str, Any]) -> dt.datetime | None:
    try:
        return dt.datetime.strptime(str(entry.get("time")), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        return None


def run(*, name: str | None, since: str | None, as_json: bool, verify: bool) -> int:
    if name is not None:
        names.validate(name)
    cutoff = parse_since(since) if since is not None else None
    if verify:
        return _verify(as_json)
    shown = []
    for entry in audit.entries():
        if "corrupt" in entry:
            if name is None and cutoff is None:
                shown.append(entry)
            continue
        if name is not None and entry.get("vm") != name:
            continue
        if cutoff is not None:
            when = _entry_time(entry)
            if when is None or when < cutoff:
                continue
        shown.append(entry)
    if as_json:
        print_json(shown)
        return 0
    if not shown:
        what = "no entries" + (f" for {name!r}" if name else "") + (f" since {since}" if since else "")
        say(f"{what} in the audit log ({audit.log_path()})")
        return 0
    rows = []
    for e in shown:
        if "corrupt" in e:
            rows.append(["?", "?", "?", "(corrupt line)", str(e["corrupt"])[:60], "", "", "run: vmtemp audit --verify"])
            continue
        result = str(e.get("result"))
        if e.get("rule"):
            result += f" ({e['rule']})"
        rows.append([e.get("time") or "-", e.get("user") or "-", e.get("vm") or "-", e.get("action") or "-",
                     e.get("source") or "-", e.get("target") or "-", e.get("mode") or "-", result])
    say(table(["TIME", "USER", "VM", "ACTION", "SOURCE", "TARGET", "MODE", "RESULT"], rows))
    return 0


def _verify(as_json: bool) -> int:
    checked, bad, why = audit.verify()
    if as_json:
        print_json({"ok": bad is None, "entries": checked, "bad_entry": bad, "reason": why or None,
                    "log": str(audit.log_path())})
    if bad is not None:
        raise OperationFailed(
            f"audit log {audit.log_path()}: entry {bad} is bad: {why}",
            hint=(f"entries 1 to {bad - 1} are intact; " if bad > 1 else "")
            + "keep a copy of the file to find out what happened (vmtemp never rewrites it)",
        )
    if not as_json:
        say(f"audit log intact: {checked} entr{'y' if checked == 1 else 'ies'} ({audit.log_path()})")
    return 0
