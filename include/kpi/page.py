"""The "Support KPIs" page of the Airflow UI: three charts over the serving views, as the reader role.

- top root causes of the latest complete month (`queries.top_root_causes`, as the MCP tool `kpi.top_root_causes`);
- tickets per day around the v1.2 release, v1.2-related ones apart (`queries.tickets_per_day_around_release`);
- churn by segment and risk level (`queries.churn_summary`, as the MCP tool `churn.summary`).

`gather` reads everything in one REPEATABLE READ snapshot; `render` turns it into one self-contained HTML page with
inline SVG charts — no script, stylesheet or font from a CDN, so it renders on a machine without internet access.
The plugin (`include/airflow_plugins/support_kpis.py`) only serves it.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

from include.kpi import queries as kpi

if TYPE_CHECKING:
    from include.config import Settings

STATEMENT_TIMEOUT_MS = 5_000
TOP_N = 10
DAYS_AROUND_RELEASE = 21
RISK_COLOURS = {"active": "#9ccc65", "low": "#4fc3f7", "medium": "#ffb74d", "high": "#ef6c00", "critical": "#c62828"}


@dataclass(frozen=True)
class KpiPage:
    build: kpi.MartsBuild
    root_causes: kpi.TopRootCauses
    release_date: date
    days: list[kpi.DayRow]
    churn: kpi.ChurnSummary


def latest_complete_month(as_of: date) -> kpi.Period:
    """The last calendar month that ended on or before the marts' as-of date."""
    first_of_next = (as_of + timedelta(days=1)).replace(day=1)
    last_complete = first_of_next - timedelta(days=1)
    if last_complete > as_of:  # as_of is not a month's last day: the month before its own
        last_complete = as_of.replace(day=1) - timedelta(days=1)
    return kpi.Period(last_complete.year, month=last_complete.month)


def gather(settings: Settings) -> KpiPage:
    """Every figure of the page from one snapshot of the serving views, as the reader role."""
    import psycopg

    from include.warehouse.connect import connect

    with connect("reader", settings) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        conn.execute("select set_config('statement_timeout', %s, true)", (f"{STATEMENT_TIMEOUT_MS}ms",))
        build = kpi.marts_build(conn)
        known = kpi.lookups(conn)
        as_of = build.as_of_date or known.last_ticket_date or build.built_at.date()
        root_causes = kpi.top_root_causes(conn, latest_complete_month(as_of), limit=TOP_N, known=known)
        release, days = kpi.tickets_per_day_around_release(conn, days=DAYS_AROUND_RELEASE, known=known)
        churn = kpi.churn_summary(conn)
    return KpiPage(build, root_causes, release, days, churn)


# --- rendering ----------------------------------------------------------------------------------------------------

def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _root_causes_chart(top: kpi.TopRootCauses) -> str:
    if not top.rows:
        return f'<p class="empty">No tickets in {_e(top.period)}.</p>'
    width, label_w, bar_h, gap = 900, 470, 22, 6
    most = max(r.total_tickets for r in top.rows)
    bars = []
    for i, row in enumerate(top.rows):
        y = i * (bar_h + gap)
        w = max(1.0, (width - label_w - 120) * row.total_tickets / most)
        label = f"{row.root_cause_name} ({row.category_name or '—'} / {row.product_category or '—'})"
        shown = label if len(label) <= 78 else label[:77] + "…"
        bars.append(
            f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end">{_e(shown)}</text>'
            f'<rect class="bar" x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="#1976d2">'
            f"<title>{_e(label)}: {row.total_tickets} tickets</title></rect>"
            f'<text x="{label_w + w + 6:.1f}" y="{y + 15}">{row.total_tickets} ({row.pct_of_period:.1f}%)</text>')
    height = len(top.rows) * (bar_h + gap)
    return (f'<svg class="chart" data-chart="root-causes" viewBox="0 0 {width} {height}" width="{width}" '
            f'height="{height}" role="img" aria-label="Top root causes of {_e(top.period)}">{"".join(bars)}</svg>')


def _days_chart(release: date, days: list[kpi.DayRow]) -> str:
    if not days:
        return '<p class="empty">No tickets around the release.</p>'
    width, height, left, bottom = 760, 240, 40, 30
    plot_w, plot_h = width - left - 10, height - bottom - 10
    most = max(d.tickets for d in days) or 1
    step = plot_w / len(days)
    parts = [f'<line x1="{left}" y1="{10 + plot_h}" x2="{width - 10}" y2="{10 + plot_h}" stroke="#999"/>',
             f'<text x="4" y="18">{most}</text>']
    for i, day in enumerate(days):
        x = left + i * step
        other = day.tickets - day.v12_related_tickets
        h_other = plot_h * other / most
        h_v12 = plot_h * day.v12_related_tickets / most
        y_other = 10 + plot_h - h_other
        parts.append(f'<rect class="bar" x="{x:.1f}" y="{y_other:.1f}" width="{step * 0.8:.1f}" '
                     f'height="{h_other:.1f}" fill="#90a4ae"><title>{day.created_date}: {other} other tickets'
                     f"</title></rect>")
        if day.v12_related_tickets:
            parts.append(f'<rect class="bar" x="{x:.1f}" y="{y_other - h_v12:.1f}" width="{step * 0.8:.1f}" '
                         f'height="{h_v12:.1f}" fill="#d84315"><title>{day.created_date}: '
                         f"{day.v12_related_tickets} v1.2-related tickets</title></rect>")
        if day.days_from_release == 0:
            parts.append(f'<line x1="{x:.1f}" y1="10" x2="{x:.1f}" y2="{10 + plot_h}" stroke="#000" '
                         f'stroke-dasharray="4 3"/><text x="{x + 4:.1f}" y="22">v1.2 released {release}</text>')
        if i % 7 == 0:
            parts.append(f'<text x="{x:.1f}" y="{height - 8}">{day.created_date:%m-%d}</text>')
    return (f'<svg class="chart" data-chart="tickets-per-day" viewBox="0 0 {width} {height}" width="{width}" '
            f'height="{height}" role="img" aria-label="Tickets per day around v1.2">{"".join(parts)}</svg>')


def _churn_chart(summary: kpi.ChurnSummary) -> str:
    cells = [c for c in summary.cells if c.customers > 0]
    if not cells:
        return '<p class="empty">No customers in the churn mart.</p>'
    segments = sorted({c.customer_segment or "unknown" for c in cells})
    levels = [level for level in kpi.RISK_LEVELS if any(c.churn_risk_level == level for c in cells)]
    by_key = {(c.customer_segment or "unknown", c.churn_risk_level): c for c in cells}
    width, height, left, bottom = 760, 260, 50, 40
    plot_h = height - bottom - 10
    most = max(c.customers for c in cells)
    group_w = (width - left - 10) / len(segments)
    bar_w = group_w * 0.8 / len(levels)
    parts = []
    for g, segment in enumerate(segments):
        x0 = left + g * group_w
        parts.append(f'<text x="{x0:.1f}" y="{height - 22}">{_e(segment)}</text>')
        for b, level in enumerate(levels):
            cell = by_key.get((segment, level))
            if cell is None:
                continue
            h = plot_h * cell.customers / most
            parts.append(f'<rect class="bar" x="{x0 + b * bar_w:.1f}" y="{10 + plot_h - h:.1f}" '
                         f'width="{bar_w * 0.9:.1f}" height="{h:.1f}" fill="{RISK_COLOURS.get(level, "#777")}">'
                         f"<title>{_e(segment)} / {level}: {cell.customers} customers, estimated CLV "
                         f"{cell.estimated_clv:,.0f}</title></rect>")
    legend = "".join(f'<rect x="{left + i * 110}" y="{height - 14}" width="10" height="10" '
                     f'fill="{RISK_COLOURS.get(level, "#777")}"/><text x="{left + i * 110 + 14}" '
                     f'y="{height - 5}">{level}</text>' for i, level in enumerate(levels))
    return (f'<svg class="chart" data-chart="churn" viewBox="0 0 {width} {height}" width="{width}" '
            f'height="{height}" role="img" aria-label="Churn by segment and risk level">{"".join(parts)}{legend}'
            "</svg>")


def _at_risk_table(summary: kpi.ChurnSummary) -> str:
    rows = "".join(f"<tr><td>{_e(s.customer_segment or 'unknown')}</td><td>{s.at_risk_customers:,}</td>"
                   f"<td>{s.clv_at_risk:,.0f}</td></tr>" for s in summary.at_risk_by_segment)
    return ("<table><tr><th>Segment</th><th>Customers at high or critical risk</th><th>Estimated CLV at risk</th>"
            f"</tr>{rows}</table>")


STYLE = """
body { font-family: system-ui, sans-serif; margin: 16px; color: #222; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 24px 0 8px; }
.stamp { color: #555; font-size: 13px; } svg text { font-size: 11px; fill: #333; }
table { border-collapse: collapse; font-size: 13px; margin-top: 8px; }
td, th { border: 1px solid #ddd; padding: 3px 8px; text-align: right; } td:first-child { text-align: left; }
.empty { color: #777; }
"""


def render(page: KpiPage) -> str:
    """The whole page as self-contained HTML."""
    build = page.build
    as_of = build.as_of_date.isoformat() if build.as_of_date else "the latest data"
    return (
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Support KPIs</title>"
        f"<style>{STYLE}</style></head><body>"
        "<h1>Support KPIs</h1>"
        f'<p class="stamp" data-testid="marts-stamp">Marts as of {_e(as_of)}, last built '
        f"{build.built_at:%Y-%m-%d %H:%M} UTC (read as the reader role through the masked serving views).</p>"
        f"<h2>Top root causes — {_e(page.root_causes.period)} ({page.root_causes.period_tickets:,} tickets)</h2>"
        f"{_root_causes_chart(page.root_causes)}"
        f"<h2>Tickets per day around the v1.2 release ({page.release_date})</h2>"
        '<p class="stamp">Orange: v1.2-related tickets; grey: all others.</p>'
        f"{_days_chart(page.release_date, page.days)}"
        "<h2>Churn by segment and risk level (customers)</h2>"
        f"{_churn_chart(page.churn)}{_at_risk_table(page.churn)}"
        "</body></html>")


def render_unavailable(reason: str) -> str:
    """The page when the marts cannot be read (not built yet, being rebuilt, warehouse down): says why."""
    return ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Support KPIs</title>"
            f"<style>{STYLE}</style></head><body><h1>Support KPIs</h1>"
            f'<p class="empty" data-testid="kpi-unavailable">{_e(reason)}</p></body></html>')
