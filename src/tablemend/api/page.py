"""The operations page: ``/`` (a static shell), ``/ui/…`` (server-rendered HTML fragments), ``/static/…``.

The shell asks for an API key (kept in the tab's sessionStorage) and loads fragments with it; every fragment and JSON
call goes through the same auth and restaurant scope as the API. No build step: one HTML file, one script, one sheet.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from html import escape
from importlib import resources
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import HTMLResponse, Response

from tablemend import doctor
from tablemend.api import auth
from tablemend.api.doctor import booking_restaurant
from tablemend.api.service import Service
from tablemend.doctor.rules import Finding
from tablemend.errors import InvalidParameter

#: the axis starts here (local hours) unless something starts earlier
_AXIS_START_HOUR = 8
_STATIC = {"page.js": "text/javascript; charset=utf-8", "page.css": "text/css; charset=utf-8"}


def _asset(name: str) -> str:
    return (resources.files("tablemend.api") / "static" / name).read_text(encoding="utf-8")


def _hhmm(value: dt.datetime, tz: dt.tzinfo) -> str:
    return value.astimezone(tz).strftime("%H:%M")


def _zone(name: str) -> dt.tzinfo:
    from zoneinfo import ZoneInfo

    try:
        return ZoneInfo(name)
    except (ValueError, KeyError):
        return dt.UTC


class _Axis:
    def __init__(self, start: dt.datetime, end: dt.datetime) -> None:
        self.start, self.end = start, end
        self.span = (end - start).total_seconds()

    def place(self, start: dt.datetime, end: dt.datetime) -> str:
        left = max(0.0, (start - self.start).total_seconds() / self.span)
        right = min(1.0, (end - self.start).total_seconds() / self.span)
        return f"left:{left * 100:.3f}%;width:{max(right - left, 0.004) * 100:.3f}%"


def timeline(service: Service, restaurant_id: uuid.UUID, day: dt.date) -> str:
    restaurant = service.one("restaurant", {"restaurant_id": restaurant_id})
    if restaurant is None:
        raise InvalidParameter(f"no restaurant {restaurant_id}")
    tz = _zone(restaurant["timezone"])
    bounds = service.one("day_bounds", {"restaurant_id": restaurant_id, "day": day})
    assert bounds is not None
    params = {"restaurant_id": restaurant_id, **bounds}
    floor = service.all("floor", params)
    assignments = service.all("day_assignments", params)
    holds = service.all("day_holds", params)
    with service.doctor_conn() as conn:
        findings = list(doctor.scan(conn, ctx=doctor.context(conn, restaurant_id=restaurant_id)))
    for f in findings:
        service.metrics.findings.labels(f.code).inc()
    flagged = _flagged(findings)
    starts = [r["start_at"] for r in assignments + holds]
    axis_start = bounds["day_start"] + dt.timedelta(hours=_AXIS_START_HOUR)
    if starts:
        axis_start = max(bounds["day_start"], min([axis_start, *starts]))
    axis = _Axis(axis_start, bounds["day_end"])
    by_table: dict[uuid.UUID, list[str]] = defaultdict(list)
    for a in assignments:
        bad = a["booking_id"] in flagged["bookings"]
        label = (f"{a['customer_name'] or 'booking'}, {a['party_size']} guests, {_hhmm(a['start_at'], tz)}–"
                 f"{_hhmm(a['end_at'], tz)}, {a['status']}{', has a finding' if bad else ''}")
        by_table[a["table_id"]].append(
            f'<button type="button" class="bar status-{escape(a["status"])}{" finding" if bad else ""}" '
            f'style="{axis.place(a["start_at"], a["end_at"])}" data-booking="{a["booking_id"]}" '
            f'aria-label="{escape(label)}" title="{escape(label)}">{escape(a["customer_name"] or "")}</button>')
    for h in holds:
        bad = h["hold_id"] in flagged["holds"] or h["booking_id"] in flagged["bookings"]
        label = (f"hold {_hhmm(h['start_at'], tz)}–{_hhmm(h['end_at'], tz)}, expires "
                 f"{h['expires_at'].astimezone(tz):%H:%M %d %b}{', has a finding' if bad else ''}")
        booking = f' data-booking="{h["booking_id"]}"' if h["booking_id"] else ""
        by_table[h["table_id"]].append(
            f'<button type="button" class="bar hold{" finding" if bad else ""}" '
            f'style="{axis.place(h["start_at"], h["end_at"])}" data-hold="{h["hold_id"]}"{booking} '
            f'aria-label="{escape(label)}" title="{escape(label)}">hold · exp '
            f'{h["expires_at"].astimezone(tz):%H:%M}</button>')
    hours = []
    t = axis.start.astimezone(tz).replace(minute=0, second=0, microsecond=0)
    while t < axis.end:
        if t >= axis.start:
            hours.append(f'<span class="tick" style="{axis.place(t, t + dt.timedelta(hours=1))}">{t:%H}:00</span>')
        t += dt.timedelta(hours=1)
    zones: dict[tuple[uuid.UUID, str], list[dict[str, Any]]] = defaultdict(list)
    for row in floor:
        zones[(row["zone_id"], row["zone_name"])].append(row)
    out = [f'<div id="timeline" data-restaurant="{restaurant_id}" data-day="{day.isoformat()}">',
           f'<h2>{escape(restaurant["name"])} — {day:%A %d %B %Y} <small>({escape(restaurant["timezone"])})</small>'
           f'</h2>', '<p class="legend"><span class="bar status-confirmed">confirmed</span> '
           '<span class="bar status-pending">pending</span> <span class="bar status-checked_in">checked in</span> '
           '<span class="bar hold">hold</span> <span class="bar finding">finding</span></p>']
    for (_, zone_name), tables in zones.items():
        out.append(f'<section class="zone" aria-label="zone {escape(zone_name)}"><h3>{escape(zone_name)}</h3>'
                   f'<div class="scroll"><div class="grid"><div class="row axis"><div class="label"></div>'
                   f'<div class="track">{"".join(hours)}</div></div>')
        for tb in tables:
            bad = tb["table_id"] in flagged["tables"]
            out.append(f'<div class="row{" finding-row" if bad else ""}" data-table="{tb["table_id"]}">'
                       f'<div class="label">{escape(tb["table_number"])} <small>{tb["capacity"]}p</small></div>'
                       f'<div class="track">{"".join(by_table.get(tb["table_id"], []))}</div></div>')
        out.append("</div></div></section>")
    out.append(_findings_list(findings))
    out.append("</div>")
    return "\n".join(out)


def _flagged(findings: list[Finding]) -> dict[str, set[uuid.UUID]]:
    flagged: dict[str, set[uuid.UUID]] = {"bookings": set(), "tables": set(), "holds": set()}
    for f in findings:
        scope = f.scope()
        flagged["bookings"] |= scope.bookings
        flagged["tables"] |= scope.tables
        flagged["holds"] |= scope.holds
    return flagged


def _findings_list(findings: list[Finding]) -> str:
    if not findings:
        return '<section id="findings" aria-label="findings"><h3>Findings</h3><p class="ok">No findings.</p></section>'
    items = []
    for f in findings:
        action = ("<em>needs a person</em>" if f.safety.value == "human" else
                  f'<button type="button" class="plan" data-finding="{escape(f.id)}">Plan repair…</button>')
        items.append(f'<li class="finding-item level-{f.level.value}" data-finding="{escape(f.id)}">'
                     f'<strong>{escape(f.code)}</strong> <span class="tag">{f.level.value}</span> '
                     f'<span class="tag">{f.safety.value}</span> {escape(f.detail)} {action}</li>')
    return (f'<section id="findings" aria-label="findings"><h3>Findings ({len(findings)})</h3>'
            f'<ul>{"".join(items)}</ul></section>')


def booking_panel(service: Service, restaurant_id: uuid.UUID, booking_id: uuid.UUID) -> str:
    b = service.one("booking_detail", {"booking_id": booking_id, "restaurant_id": restaurant_id})
    assert b is not None  # its restaurant was just checked
    with service.doctor_conn() as conn:
        explained = doctor.explain(conn, booking_id=booking_id)
    tz = _zone((service.one("restaurant", {"restaurant_id": restaurant_id}) or {}).get("timezone", "UTC"))
    answer = explained.allocator
    said = "succeeds" if answer is None or answer.ok else f"fails [{answer.sqlstate}] {answer.message}"
    verdict = "" if answer is None else f"<p>The allocator now: {escape(said)}</p>"
    blockers = "".join(f"<li><strong>{escape(bl.finding.id)}</strong> {escape(bl.finding.detail)} — causes "
                       f"{escape(bl.error)}</li>" for bl in explained.blockers)
    return (f'<div id="booking" data-booking="{booking_id}"><h3>Booking {escape(b["customer_name"] or "")} '
            f'<small>{escape(b["reference"] or "")}</small></h3><dl>'
            f'<dt>Window</dt><dd>{_hhmm(b["start_at"], tz)}–{_hhmm(b["end_at"], tz)} '
            f'{b["start_at"].astimezone(tz):%d %b}</dd><dt>Party</dt><dd>{b["party_size"]}</dd>'
            f'<dt>Status</dt><dd>{escape(b["status"])}</dd>'
            f'<dt>Tables</dt><dd>{escape(", ".join(b["tables"])) or "none"}</dd></dl>'
            f'<h4>Explain</h4>{verdict}'
            f'{"<ul>" + blockers + "</ul>" if blockers else "<p>Nothing in the doctor checks blocks it.</p>"}</div>')


def install(app: FastAPI, service: Service) -> None:

    @app.get("/", tags=["page"], response_class=HTMLResponse, summary="The operations page (asks for an API key).")
    def index() -> HTMLResponse:
        return HTMLResponse(_asset("index.html"))

    @app.get("/static/{name}", tags=["page"], summary="The page's script and style sheet.")
    def static(name: str) -> Response:
        if name not in _STATIC:
            raise InvalidParameter(f"no static file {name[:60]}")
        return Response(_asset(name), media_type=_STATIC[name])

    @app.get("/api/restaurants", tags=["page"], summary="The restaurants this key may see.")
    def restaurants(request: Request) -> Any:
        key = auth.authenticate(service, request, "read")
        rows = service.all("restaurants", {"all": key.all_restaurants, "ids": sorted(key.restaurant_ids)})
        return jsonable_encoder(rows)

    @app.get("/ui/timeline", tags=["page"], response_class=HTMLResponse, summary="The day's timeline fragment (HTML).")
    def timeline_fragment(request: Request, restaurant_id: uuid.UUID, day: dt.date) -> HTMLResponse:
        key = auth.authenticate(service, request, "read")
        auth.require_restaurant(key, restaurant_id)
        return HTMLResponse(timeline(service, restaurant_id, day))

    @app.get("/ui/booking/{booking_id}", tags=["page"], response_class=HTMLResponse,
               summary="A booking's panel (HTML).")
    def booking_fragment(request: Request, booking_id: uuid.UUID) -> HTMLResponse:
        key = auth.authenticate(service, request, "read")
        restaurant = booking_restaurant(service, key, booking_id)
        return HTMLResponse(booking_panel(service, restaurant, booking_id))

