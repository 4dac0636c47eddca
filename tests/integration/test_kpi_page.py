"""The Support KPIs page on marts built from simulator data (tests/served.py): its figures equal independent SQL on
the marts, the charts are not empty, no raw contact reaches it, and the dbt docs publisher leaves a complete set."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from include.config import Settings
from include.kpi import page
from include.kpi.queries import Period
from include.warehouse.connect import connect

pytestmark = pytest.mark.integration


def _sql(settings: Settings, query: str, params: tuple = ()) -> list[tuple]:
    with connect("transformer", settings) as conn:
        return conn.execute(query, params).fetchall()


@pytest.mark.parametrize(("as_of", "month"), [
    (date(2025, 11, 5), Period(2025, month=10)),
    (date(2025, 10, 31), Period(2025, month=10)),
    (date(2025, 1, 15), Period(2024, month=12)),
])
def test_the_page_shows_the_latest_complete_month(as_of: date, month: Period) -> None:
    assert page.latest_complete_month(as_of) == month


def test_page_figures_equal_independent_sql_and_every_chart_has_bars(served: Settings) -> None:
    data = page.gather(served)
    period = page.latest_complete_month(data.build.as_of_date)
    assert data.root_causes.period == period.describe()

    expected_top = _sql(served, "select root_cause_name, category_name, product_category, total_tickets"
                                " from marts.mart_top_root_causes where created_year = %s and created_month = %s"
                                " order by total_tickets desc, root_cause_name, category_id, product_category limit %s",
                        (period.year, period.month, page.TOP_N))
    assert [(r.root_cause_name, r.category_name, r.product_category, r.total_tickets)
            for r in data.root_causes.rows] == expected_top and expected_top

    release = _sql(served, "select min(created_date) from marts.mart_ticket_analytics where is_on_v12_app")[0][0]
    per_day = _sql(served, "select created_date, count(*), count(*) filter (where is_v12_related)"
                           " from marts.mart_ticket_analytics where created_date between %s::date - %s"
                           " and %s::date + %s group by 1 order by 1",
                   (release, page.DAYS_AROUND_RELEASE, release, page.DAYS_AROUND_RELEASE))
    assert data.release_date == release
    assert [(d.created_date, d.tickets, d.v12_related_tickets) for d in data.days] == per_day

    churn = _sql(served, "select coalesce(customer_segment, '?'), churn_risk_level, count(*)"
                         " from marts.mart_churned_customers group by 1, 2")
    assert {(c.customer_segment or "?", c.churn_risk_level, c.customers) for c in data.churn.cells} == set(churn)

    html = page.render(data)
    for chart in ("root-causes", "tickets-per-day", "churn"):
        svg = re.search(rf'<svg class="chart" data-chart="{chart}".*?</svg>', html, re.S)
        assert svg and svg.group(0).count('class="bar"') > 0, chart
    assert f"Marts as of {data.build.as_of_date}" in html
    assert "<script" not in html and "http" not in html  # self-contained: renders without internet access
    emails = _sql(served, "select email from marts.mart_churned_customers where email is not null limit 50")
    assert not any(e in html for (e,) in emails)


def test_dbt_docs_are_published_complete_with_the_project_overview(served: Settings, tmp_path: Path) -> None:
    from include.transform.docs import DOCS_FILES, publish_dbt_docs

    settings = replace(served, dbt_docs_root=tmp_path / "docs")
    published = publish_dbt_docs(settings)
    assert sorted(p.name for p in published.directory.iterdir()) == sorted(DOCS_FILES)  # no scratch left over
    manifest = json.loads((published.directory / "manifest.json").read_text())
    overview = manifest["docs"]["doc.support_analytics.__overview__"]["block_contents"]
    assert "Support analytics" in overview
    assert published.nodes >= 20  # staging, marts, serving relations in the catalog
