"""The Airflow UI in a real browser (headless Debian Chromium via Playwright; no browser download).

What a person does: log in through the form, see the three DAGs with their schedules and tags, trigger the extract
for a day with the Trigger button, watch the Asset chain (extract → transform → export) finish green in each DAG's
grid, then deliver a day with a bad row, trigger it, and read the failed task's log, which names the file and line.
REST is used only to wait for runs and to cross-check what the page shows.

Screenshots land in `tests/artifacts/ui/` (ignored by git). Chromium comes from `make browser` (Debian's package at
/usr/bin/chromium); without it the tests skip, except under CI (`CI=true`), where a missing browser is a failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import urllib.parse
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from include import airflow_local
from include.airflow_api import TERMINAL, AirflowApi, AirflowApiError
from include.config import get_settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "ui"
UI_TIMEOUT_MS = 30_000
GOOD_DAY = date(2025, 11, 1)
BACKFILL_DAYS = (date(2025, 11, 2), date(2025, 11, 3))  # in the session's landing zone (tests/conftest.py)
NIGHTLY = "0 2 * * *"
BAD_DAY = date(2025, 11, 4)
BAD_DEFECT = f"null_required:support_tickets:{BAD_DAY.isoformat()}"
# What the list page shows per DAG: the Asset an asset-scheduled DAG waits for (None: a cron or no schedule, whose
# text comes from the REST API's timetable_summary) and its tags.
DAG_LIST = {
    "support_extract": (None, ["extract", "support-analytics"]),
    "support_transform": ("support_analytics.validated_batch", ["dbt", "support-analytics", "transform"]),
    "support_churn_export": ("serving/churn_list_snapshots", ["export", "support-analytics"]),
    "support_freshness": (None, ["monitoring", "support-analytics"]),
    "support_dbt_docs": ("serving/churn_list_snapshots", ["dbt", "docs", "support-analytics"]),
}
# The local source system's DAG exists only where SA_SIMULATED_SOURCE is on (the local runtime); when it is listed,
# it is a cron DAG with these tags.
SOURCE_SYSTEM_DAG = ("source_system_simulator", (None, ["local-only", "simulator", "support-analytics"]))


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def _require_chromium() -> None:
    """Skip when Debian's Chromium is missing — but fail under CI, whose set-up (`make browser`) installs it."""
    if CHROMIUM.exists():
        return
    reason = f"{CHROMIUM} is missing: run `make browser` (apt-get install chromium) for the UI tests"
    if _in_ci():
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.mark.ui
def test_chromium_is_installed_where_ci_runs_the_ui_tests() -> None:
    _require_chromium()
    version = subprocess.run([str(CHROMIUM), "--version"], capture_output=True, text=True, timeout=60, check=False)
    assert version.returncode == 0 and "Chromium" in version.stdout, version.stdout + version.stderr


# --- browser fixtures ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def _nightly_schedule(monkeypatch_module: pytest.MonkeyPatch) -> None:
    """The production schedule (the list shows it and the next run; backfills need one). Autouse: it is set before
    the module's Airflow starts."""
    monkeypatch_module.setenv("SA_NIGHTLY_SCHEDULE", NIGHTLY)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def ui(browser: Any, running_airflow: AirflowApi) -> Iterator[tuple[Any, AirflowApi, str]]:
    """A page logged in through the login form (`/` redirects to `/auth/login`), the REST client and the base URL."""
    from playwright.sync_api import expect

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    base = airflow_local.base_url(get_settings())
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="en-US", timezone_id="UTC")
    context.set_default_timeout(UI_TIMEOUT_MS)
    expect.set_options(timeout=UI_TIMEOUT_MS)  # assertions wait as long as actions: a loaded CI machine is slow
    page = context.new_page()
    try:
        page.goto(base + "/")
        page.wait_for_url(re.compile(r"/auth/login"))
        page.fill("input[name=username]", airflow_local.ADMIN_USER)
        page.fill("input[name=password]", airflow_local.admin_password(get_settings()))
        page.click("button[type=submit]")
        expect(page.get_by_test_id("nav-dags-link")).to_be_visible(timeout=UI_TIMEOUT_MS)
        assert "/auth/login" not in page.url
        yield page, running_airflow, base
    finally:
        context.close()


# --- helpers ---------------------------------------------------------------------------------------------------------


def _trigger_from_ui(page: Any, base: str, dag_id: str, day: date) -> str:
    """Trigger button → single run, logical date `day` 02:00 UTC (the nightly slot) → Trigger; returns the run id."""
    from playwright.sync_api import expect

    page.goto(f"{base}/dags/{dag_id}")
    page.get_by_test_id("trigger-dag-button").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading")).to_contain_text(dag_id)
    dialog.get_by_test_id("datetime-input").click()
    date_field = page.get_by_placeholder("YYYY/MM/DD")
    date_field.fill(day.strftime("%Y/%m/%d"))
    date_field.press("Enter")
    time_field = page.get_by_placeholder("HH:mm")
    time_field.fill("02:00")
    time_field.press("Enter")
    expect(dialog.get_by_test_id("datetime-input")).to_have_text(f"{day:%b %d, %Y} 02:00")
    dialog.get_by_test_id("trigger-dag-submit").click()
    expect(page.get_by_text("Dag run has been successfully triggered").last).to_be_visible()
    page.wait_for_url(re.compile(rf"/dags/{dag_id}/runs/[^/]+$"))
    return urllib.parse.unquote(page.url.rsplit("/runs/", 1)[1])


def _wait_for_run(api: AirflowApi, dag_id: str, run_id: str, timeout_s: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    run = api.run(dag_id, run_id)
    while run["state"] not in TERMINAL and time.monotonic() < deadline:
        time.sleep(3)
        run = api.run(dag_id, run_id)
    assert run["state"] in TERMINAL, f"{dag_id} {run_id} still {run['state']} after {timeout_s:.0f}s"
    return run


def _grid_cell(page: Any, run_id: str, task_id: str) -> Any:
    return page.locator(f'[id="grid-{run_id}-{task_id}"]')


def _assert_green_grid(page: Any, api: AirflowApi, base: str, dag_id: str, run_id: str, shot: str) -> None:
    """The DAG page's grid shows every task of the run in the success colour; the latest-run badge says success."""
    from playwright.sync_api import expect

    task_ids = sorted(t["task_id"] for t in api.task_instances(dag_id, run_id))
    page.goto(f"{base}/dags/{dag_id}")
    cells = page.locator(f'[id^="grid-{run_id}-"]')
    expect(cells).to_have_count(len(task_ids), timeout=UI_TIMEOUT_MS)
    success_badge = page.locator('[data-testid="state-badge"][aria-label="success"]').first
    expect(success_badge).to_be_visible(timeout=UI_TIMEOUT_MS)
    for task_id in task_ids:
        expect(_grid_cell(page, run_id, task_id)).to_be_visible()
        expect(page.get_by_test_id(f"task-{task_id}")).to_be_visible()
    green = success_badge.evaluate("e => getComputedStyle(e).backgroundColor")
    colours = cells.locator('[data-testid="task-state-badge"]').evaluate_all(
        "els => els.map(e => getComputedStyle(e).backgroundColor)")
    assert len(colours) == len(task_ids) and set(colours) == {green}, (dag_id, green, colours)
    page.screenshot(path=str(ARTIFACTS / shot))
    cells.first.hover()  # the cell's tooltip spells the state out
    expect(page.get_by_text("State: Success").first).to_be_visible()


# --- the tests -------------------------------------------------------------------------------------------------------


@pytest.mark.ui
@pytest.mark.e2e
@pytest.mark.slow
def test_dag_list_shows_the_three_dags_with_schedules_and_tags(ui: tuple[Any, AirflowApi, str]) -> None:
    from playwright.sync_api import expect

    page, api, _ = ui
    page.get_by_test_id("nav-dags-link").click()
    page.wait_for_url(re.compile(r"/dags$"))
    expected = dict(DAG_LIST)
    assert api.dag("support_extract")["timetable_summary"] == NIGHTLY
    try:
        api.dag(SOURCE_SYSTEM_DAG[0])
        expected[SOURCE_SYSTEM_DAG[0]] = SOURCE_SYSTEM_DAG[1]
    except AirflowApiError:
        pass
    expect(page.get_by_text(f"{len(expected)} Dags", exact=True)).to_be_visible()
    for dag_id, (asset, tags) in expected.items():
        card = page.get_by_test_id("dag-card").filter(
            has=page.get_by_test_id("dag-id").get_by_text(dag_id, exact=True))
        expect(card).to_have_count(1)
        schedule = card.get_by_test_id("schedule")
        listed = api.dag(dag_id)
        summary = listed["timetable_summary"]  # a cron, "(Partitioned) Asset", or None (SA_NIGHTLY_SCHEDULE=off)
        if asset:
            assert summary in {"Asset", "Partitioned Asset"}, (dag_id, summary)
            if summary == "Asset":
                expect(schedule).to_contain_text(asset)
            else:  # the card of a partitioned-Asset DAG names no Asset; its details do
                expect(schedule).to_contain_text("Asset Triggered")
                assert asset in json.dumps(api.dag_details(dag_id)["asset_expression"]), dag_id
        elif summary:
            expect(schedule).to_contain_text(summary)  # e.g. "0 2 * * *"
            if not listed["is_paused"]:  # a paused DAG has no next run
                next_run = str(listed["next_dagrun_run_after"]).replace("T", " ")[:19]
                expect(card.get_by_test_id("next-run")).to_contain_text(next_run)
        else:
            expect(schedule).to_have_text("Schedule")  # the heading alone: triggered runs only
        toggle = card.get_by_test_id("toggle-pause").locator("input")
        if listed["is_paused"]:
            expect(toggle).not_to_be_checked()
        else:
            expect(toggle).to_be_checked()
        for tag in tags:
            expect(card.get_by_role("link", name=tag, exact=True)).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "01-dag-list.png"))


@pytest.mark.ui
@pytest.mark.e2e
@pytest.mark.slow
def test_trigger_from_ui_and_the_chain_finishes_green(ui: tuple[Any, AirflowApi, str]) -> None:
    page, api, base = ui
    run_id = _trigger_from_ui(page, base, "support_extract", GOOD_DAY)
    extract = api.run("support_extract", run_id)
    assert extract["run_type"] == "manual" and extract["logical_date"].startswith(f"{GOOD_DAY}T02:00:00")

    extract = _wait_for_run(api, "support_extract", run_id, timeout_s=300)
    failed = [t["task_id"] for t in api.task_instances("support_extract", run_id) if t["state"] != "success"]
    assert extract["state"] == "success", failed
    [transform] = api.wait_for_runs("support_transform", 1, timeout_s=600)
    failed = [t["task_id"] for t in api.task_instances("support_transform", transform["dag_run_id"])
              if t["state"] != "success"]
    assert transform["run_type"] == "asset_triggered" and transform["state"] == "success", failed
    [export] = api.wait_for_runs("support_churn_export", 1, timeout_s=300)
    assert export["run_type"] == "asset_triggered" and export["state"] == "success"

    _assert_green_grid(page, api, base, "support_extract", run_id, "02-extract-grid-green.png")
    _assert_green_grid(page, api, base, "support_transform", transform["dag_run_id"], "03-transform-grid-green.png")
    _assert_green_grid(page, api, base, "support_churn_export", export["dag_run_id"], "04-export-grid-green.png")


@pytest.mark.ui
@pytest.mark.e2e
def test_support_kpis_page_renders_non_empty_charts_in_the_ui(ui: tuple[Any, AirflowApi, str]) -> None:
    """Browse → Support KPIs: the plugin's page, embedded in the UI, over the marts the chain above built."""
    from playwright.sync_api import expect

    page, _, base = ui
    page.goto(f"{base}/dags")
    page.get_by_role("button", name="Browse").click()
    page.get_by_role("menuitem", name="Support KPIs").click()
    page.wait_for_url(re.compile(r"/plugin/support-kpis$"))
    frame = page.frame_locator("iframe")
    expect(frame.get_by_test_id("marts-stamp")).to_contain_text("Marts as of")
    for chart in ("root-causes", "tickets-per-day", "churn"):
        bars = frame.locator(f'svg[data-chart="{chart}"] rect.bar')
        expect(bars.first).to_be_visible()
        assert bars.count() > 0, chart
    page.screenshot(path=str(ARTIFACTS / "06-support-kpis.png"), full_page=True)

    # the page itself is behind the UI's login: a browser without its cookie gets none of it
    anonymous = page.context.browser.new_context()
    try:
        response = anonymous.request.get(f"{base}/support-kpis/")
        assert response.status in (401, 403), response.status
    finally:
        anonymous.close()


@pytest.mark.ui
@pytest.mark.e2e
def test_gx_data_docs_render_in_the_ui_without_internet_access(ui: tuple[Any, AirflowApi, str]) -> None:
    """Browse → GX Data Docs, with every request off this machine refused: styled, and the results list filled."""
    from playwright.sync_api import expect

    page, _, base = ui
    external: list[str] = []

    def offline(route: Any) -> None:
        external.append(route.request.url)
        route.abort()

    page.context.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/]).*"), offline)
    try:
        page.goto(f"{base}/dags")
        page.get_by_role("button", name="Browse").click()
        page.get_by_role("menuitem", name="GX Data Docs").click()
        page.wait_for_url(re.compile(r"/plugin/gx-data-docs$"))
        frame = page.frame_locator("iframe")
        rows = frame.locator("table tbody tr")
        expect(rows.first).to_be_visible()
        assert rows.count() > 0
        expect(frame.locator("table tbody tr", has_text="support_tickets").first).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "08-gx-data-docs.png"))
    finally:
        page.context.unroute(re.compile(r"^https?://(?!127\.0\.0\.1[:/]).*"))
    stylesheets_or_scripts = [u for u in external if u.endswith((".css", ".js"))]
    assert stylesheets_or_scripts == [], stylesheets_or_scripts


@pytest.mark.ui
@pytest.mark.e2e
def test_dbt_docs_page_shows_the_project_overview(ui: tuple[Any, AirflowApi, str]) -> None:
    """support_dbt_docs publishes (a real run), Cosmos' plugin serves: Browse → dbt Docs shows our overview."""
    from playwright.sync_api import expect

    from include.pipeline import DBT_DOCS_SLUG, DOCS_DAG

    page, api, base = ui
    api.unpause(DOCS_DAG)  # the session unpauses only the chain
    run_id = api.trigger(DOCS_DAG)
    assert _wait_for_run(api, DOCS_DAG, run_id, timeout_s=300)["state"] == "success"
    page.goto(f"{base}/dags")
    page.get_by_role("button", name="Browse").click()
    expect(page.get_by_role("menuitem", name="dbt Docs")).to_be_visible()
    page.goto(f"{base}/cosmos/{DBT_DOCS_SLUG}/dbt_docs_index.html")
    expect(page.get_by_text("Support analytics — the warehouse behind").first).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "07-dbt-docs.png"))


@pytest.mark.ui
@pytest.mark.e2e
def test_the_trigger_forms_date_picker_refuses_an_impossible_date(ui: tuple[Any, AirflowApi, str]) -> None:
    """support_transform's `as_of_date` Param is a date: the form's picker takes no 30 February, and a real date."""
    from playwright.sync_api import expect

    page, api, base = ui
    runs_before = len(api.runs("support_transform"))
    page.goto(f"{base}/dags/support_transform")
    page.get_by_test_id("trigger-dag-button").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_text("As-of date")).to_be_visible()
    picker = dialog.locator("input[type=date]")
    picker.click()
    page.keyboard.type("02302025")  # mm dd yyyy: 30 February
    assert picker.evaluate("e => e.validity.badInput") and picker.input_value() == ""
    picker.fill("2025-11-01")  # a real day is taken as YYYY-MM-DD
    assert picker.input_value() == "2025-11-01" and not picker.evaluate("e => e.validity.badInput")
    page.screenshot(path=str(ARTIFACTS / "09-trigger-form-date.png"))
    dialog.get_by_role("button", name="Close").click()
    assert len(api.runs("support_transform")) == runs_before  # nothing was triggered


@pytest.mark.ui
@pytest.mark.e2e
@pytest.mark.slow
def test_a_backfill_from_the_ui_dialog_runs_every_day_to_green(ui: tuple[Any, AirflowApi, str]) -> None:
    """Trigger → Backfill → From/To → All Runs → Run Backfill: each day's extract, transform and export succeed."""
    from datetime import UTC, datetime

    from playwright.sync_api import expect

    from include.chain_watch import watch_chain

    page, api, base = ui
    since = datetime.now(UTC)
    page.goto(f"{base}/dags/support_extract")
    page.get_by_test_id("trigger-dag-button").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text("Backfill", exact=True).click()
    fields = dialog.get_by_test_id("datetime-input")
    for field, day, hour in ((fields.nth(0), BACKFILL_DAYS[0], "00:00"), (fields.nth(1), BACKFILL_DAYS[-1], "23:59")):
        field.click()
        date_field = page.get_by_placeholder("YYYY/MM/DD").last
        date_field.fill(day.strftime("%Y/%m/%d"))
        date_field.press("Enter")
        time_field = page.get_by_placeholder("HH:mm").last
        time_field.fill(hour)
        time_field.press("Enter")
        expect(field).to_have_text(f"{day:%b %d, %Y} {hour}")
        dialog.get_by_role("heading").first.click()  # away from the picker: its popover closes
    all_runs = dialog.get_by_role("radio", name="All Runs")
    for _ in range(3):  # a click that lands while a popover closes is lost: click until the radio shows it
        dialog.get_by_text("All Runs", exact=True).click()
        try:
            expect(all_runs).to_be_checked(timeout=2_000)
            break
        except AssertionError:
            continue
    expect(all_runs).to_be_checked()
    expect(dialog.get_by_text(f"{len(BACKFILL_DAYS)} runs will be triggered.")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "10-backfill-dialog.png"))
    dialog.get_by_role("button", name="Run Backfill").click()
    expect(page.get_by_text("Backfill generated").last).to_be_visible()

    first = BACKFILL_DAYS[0].isoformat()
    [backfill] = [b for b in api.backfills("support_extract") if b["from_date"].startswith(first)]
    runs = watch_chain(api, since, backfill, timeout_s=900, poll_s=1.0)
    days = [d.isoformat() for d in BACKFILL_DAYS]
    states = {dag_id: sorted((r.get("partition_key") or str(r.get("logical_date"))[:10], r["state"])
                             for r in dag_runs) for dag_id, dag_runs in runs.items()}
    for dag_id in ("support_extract", "support_transform", "support_churn_export"):
        assert states[dag_id] == [(day, "success") for day in days], states


@pytest.mark.ui
@pytest.mark.e2e
@pytest.mark.slow
def test_bad_delivery_fails_and_the_task_log_names_file_and_line(ui: tuple[Any, AirflowApi, str],
                                                                 tmp_path: Path) -> None:
    from playwright.sync_api import expect

    from include.simulator import generate

    page, api, base = ui
    # A consistent 2025-11-04 delivery with one ticket whose customer_id is empty (a day folder does not depend on
    # the end date, so it is generated aside and copied into the landing zone).
    report = generate(tmp_path / "landing", start=GOOD_DAY, end=BAD_DAY, defects=[BAD_DEFECT])
    [defect] = report.defects
    assert defect.line is not None and defect.column
    day_folder = Path(get_settings().landing_root) / BAD_DAY.isoformat()
    delivered = tmp_path / "delivered"  # the session's landing zone may hold the good delivery: set it aside
    if day_folder.exists():
        shutil.move(day_folder, delivered)
    shutil.copytree(tmp_path / "landing" / BAD_DAY.isoformat(), day_folder)
    try:
        run_id = _trigger_from_ui(page, base, "support_extract", BAD_DAY)
        run = _wait_for_run(api, "support_extract", run_id, timeout_s=300)
        states = {t["task_id"]: t["state"] for t in api.task_instances("support_extract", run_id)}
        assert run["state"] == "failed", states
        assert [t for t, s in states.items() if s == "failed"] == ["load_support_tickets"], states
        assert states["validate_batch"] == "upstream_failed", states

        # From the grid: the failed cell opens the task instance, whose first tab is its log (last try).
        page.goto(f"{base}/dags/support_extract")
        _grid_cell(page, run_id, "load_support_tickets").click()
        page.wait_for_url(re.compile(r"/tasks/load_support_tickets$"))
        expect(page.get_by_test_id("state-badge").filter(has_text="Failed").first).to_be_visible()
        expect(page.locator('a[title="Logs"]')).to_have_attribute("aria-current", "page")  # the Logs tab is open
        page.get_by_test_id("log-settings-button").click()
        page.get_by_role("menuitem", name="Wrap").click()
        error = page.get_by_text("QuarantineThresholdExceeded").first
        expect(error).to_be_visible()
        for fragment in (f"{defect.table}.csv.gz", f"line {defect.line}", f"{defect.column} is empty",
                         "audit.quarantine", f"batch_id='{BAD_DAY}'"):
            expect(error).to_contain_text(fragment)
        page.screenshot(path=str(ARTIFACTS / "05-failed-task-log.png"))
    finally:
        shutil.rmtree(day_folder, ignore_errors=True)  # the landing zone is shared by the whole session
        if delivered.exists():
            shutil.move(delivered, day_folder)
