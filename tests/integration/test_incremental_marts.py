"""Incremental marts equal a full refresh, row for row, after nights that change old rows.

In its own database: the history is built once, then each simulated day is landed and built incrementally. The
days carry what an incremental build can get wrong — tickets created before the day and updated on it (three months-old
tickets moved to another root cause, to none and to another category: their old groups lose them), customers
re-sent with a change (their old tickets take the change), reference tables re-sent whole, a day re-delivered, late
logins (for an earlier day of the run and for a day months back; added to the stored login totals), a login re-sent
with its time corrected (its day's customers recounted instead), customers crossing each churn threshold (30, 60
and 120 days without a login) as the as-of date moves — and each night's build must merge exactly the tickets whose
rows that night's loads wrote (by the load log's committed sequence), and the period marts replace only the periods
holding a changed ticket; the churn activity marks as recomputed (`_merged_at`, what the churn view's nightly tests
check) every row whose own columns changed, and not a row whose last login alone moved. At the end every mart and
the incremental login activity behind the churn mart are fingerprinted, rebuilt with `--full-refresh`, and
fingerprinted again: identical. Then the tests on new rows: a weekday's churn view tests read the customers the
activity recomputed last (all of them after a build that recomputed all), the weekly run every customer; an old
login broken behind the nightly tests' back, and an old login's id written again with a blank in front, are not what
a weekday's tests read, and the weekly full run finds both.
"""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from pathlib import Path

import pytest

from include.config import Settings
from include.ingest.batch import load_batch
from include.simulator import generate
from include.warehouse.connect import connect
from tests import hostile
from tests.integration.test_dbt_build import dbt, drop_database, fresh_database

pytestmark = pytest.mark.integration

DATABASE = "sa_dbt_incremental"
DAYS = [(date(2025, 11, 1) + timedelta(days=i)).isoformat() for i in range(6)]
MARTS = {name: "true" for name in ("mart_ticket_analytics", "mart_top_root_causes", "mart_root_causes_by_period",
                                   "mart_tickets_by_day", "mart_churned_customers", "mart_churn_summary")}
MARTS.update({name: "true" for name in ("int_customer_login_totals", "int_customer_churn_activity",
                                        "int_ticket_groups_by_month", "int_customer_contact_tokens")})
# The snapshots keep every as-of date's lists (the export's history; a full refresh keeps only the latest): the
# latest date's lists must match.
MARTS["churn_list_snapshots"] = "as_of_date = (select max(as_of_date) from marts.churn_list_snapshots)"


# When the churn activity's last build ran (audit.build_watermarks.built_at): the `_merged_at` of what it recomputed.
ACTIVITY_BUILT_AT = ("(select built_at from audit.build_watermarks"
                     " where model_name = 'marts.int_customer_churn_activity')")


# The indexes the models' post-hooks keep (macros/ensure_index.sql): (table, columns, unique).
MODEL_INDEXES = {
    ("mart_ticket_analytics", "ticket_id", True), ("mart_ticket_analytics", "created_date", False),
    ("mart_ticket_analytics", "product_id", False), ("mart_ticket_analytics", "category_id", False),
    ("mart_ticket_analytics", "root_cause_id", False), ("int_customer_login_totals", "customer_id", True),
    ("int_customer_churn_activity", "customer_id", True), ("int_customer_churn_activity", "estimated_clv", False),
    ("int_customer_churn_activity", "_merged_at", False), ("int_customer_contact_tokens", "customer_id", True),
}


def _indexed_columns(settings: Settings) -> set[tuple[str, str, bool]]:
    with connect("admin", settings) as conn:
        return {(str(r[0]), str(r[1]), bool(r[2])) for r in conn.execute(
            "select c.relname, string_agg(a.attname, ',' order by k.position), i.indisunique from pg_index i"
            " join pg_class c on c.oid = i.indrelid join pg_namespace n on n.oid = c.relnamespace"
            " cross join unnest(i.indkey::int2[]) with ordinality k(attnum, position)"
            " join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum"
            " where n.nspname = 'marts' and c.relname = any(%s) group by i.indexrelid, c.relname, i.indisunique",
            (sorted({t for t, _, _ in MODEL_INDEXES}),))}


def _fingerprints(settings: Settings, lists_of: str | None = None) -> dict[str, tuple[int, str]]:
    """Per mart, its rows' count and hash; `lists_of`: the as-of date whose churn lists count (default the latest).
    The churn activity's `_merged_at` (when the build that merged a row ran) is left out: it differs by design."""
    out = {}
    with connect("admin", settings) as conn:
        for mart, rows_of in MARTS.items():
            if mart == "churn_list_snapshots" and lists_of is not None:
                rows_of = f"as_of_date = date '{lists_of}'"
            row = "(to_jsonb(t) - '_merged_at')::text"
            rows = [r[0] for r in conn.execute(f"select {row} from marts.{mart} t where {rows_of} order by 1")]
            out[mart] = (len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest())
    return out


# The tickets a night must merge, counted after its loads and before its build: the ticket or its customer row was
# written by that day's load, or the day's load rewrote its product, category or root cause with a value the mart
# shows that differs from the ticket's row in the mart (a product's fee alone changes no mart row).
CHANGED_TICKETS = """
select count(*) from analytics.support_tickets t
left join analytics.customers c using (customer_id)
left join marts.mart_ticket_analytics m on m.ticket_id = trim(t.ticket_id)
left join staging.stg_products p on p.product_id = m.product_id and p._batch_id = %s
left join staging.stg_ticket_categories g on g.category_id = m.category_id and g._batch_id = %s
left join staging.stg_root_causes r on r.root_cause_id = m.root_cause_id and r._batch_id = %s
where %s in (t._batch_id, c._batch_id)
or p.product_id is not null
    and (m.product_name, m.product_category, m.product_type) is distinct from
        (p.product_name, p.product_category, p.product_type)
or g.category_id is not null and m.category_name is distinct from g.category_name
or r.root_cause_id is not null
    and (m.root_cause_name, m.root_cause_severity, m.root_cause_release) is distinct from
        (r.root_cause_name, r.severity, r.related_release)
"""


def reference_resent(settings: Settings, day: str) -> bool:
    """A reference table (products, categories, root causes) is re-sent whole on a day one of its rows changed:
    every ticket pointing at it is then re-merged, legitimately."""
    return bool(_scalar(settings, "select count(*) from (select _batch_id from analytics.products union all"
                        " select _batch_id from analytics.ticket_categories union all"
                        " select _batch_id from analytics.root_causes) r where _batch_id = %s", day))


def add_late_logins(landing: Path, day: str, late_day: str, months_back: str) -> None:
    """Append to `day`'s login file two late logins of a customer who logged in on `late_day` (that file's first):
    one more on `late_day` (the customer-day must be recounted, not replaced) and one on `months_back`."""
    customer = hostile.text(landing / late_day, "customer_logins").decode().splitlines()[1].split(",")[1]

    def edit(data: bytes) -> bytes:
        return data + (f"LLATE000001,{customer},{late_day}T23:00:00+00:00,web,\n"
                       f"LLATE000002,{customer},{months_back}T10:00:00+00:00,web,\n").encode()
    hostile.content(edit, table="customer_logins", rows_delta=2)(landing / day)


def move_old_tickets(landing: Path, day: str, days: list[str]) -> None:
    """Append to `day`'s ticket file three tickets of the history, months old and in no day's file, each moved to
    another group of the period marts: one to another root cause, one to none (undiagnosed again), one to another
    category. Their old groups lose a ticket that is not in them any more (the groups model must find them by count)."""
    import csv
    import io

    records = list(csv.reader(io.StringIO(hostile.text(landing / "history").decode(), newline="")))
    header, rows = records[0], records[1:]
    column = {name: header.index(name) for name in header}
    in_days = {line.split(",", 1)[0] for d in days for line in hostile.text(landing / d).decode().splitlines()[1:]}
    cutoff = (date.fromisoformat(day) - timedelta(days=60)).isoformat()
    old = [r for r in rows if r[column["created_at"]] < cutoff and r[column["root_cause_id"]]
           and r[0] not in in_days]
    root_causes = sorted({r[column["root_cause_id"]] for r in rows if r[column["root_cause_id"]]})
    categories = sorted({r[column["category_id"]] for r in rows})
    moved = [list(r) for r in (old[0], old[len(old) // 2], old[-1])]
    moved[0][column["root_cause_id"]] = next(rc for rc in root_causes if rc != moved[0][column["root_cause_id"]])
    moved[1][column["root_cause_id"]] = ""
    moved[2][column["category_id"]] = next(c for c in categories if c != moved[2][column["category_id"]])
    for row in moved:
        row[column["updated_at"]] = f"{day}T12:00:00+00:00"
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(moved)
    hostile.content(lambda data: data + out.getvalue().encode(), rows_delta=len(moved))(landing / day)


def resend_changed_login(landing: Path, day: str, earlier_day: str) -> None:
    """Append to `day`'s login file the first login of `earlier_day` again, its time corrected to noon on `day`: a
    rewritten key, so that day's logins cannot simply be added to the totals."""
    login_id, customer, *_ = hostile.text(landing / earlier_day, "customer_logins").decode().splitlines()[1].split(",")

    def edit(data: bytes) -> bytes:
        return data + f"{login_id},{customer},{day}T12:00:00+00:00,web,\n".encode()
    hostile.content(edit, table="customer_logins", rows_delta=1)(landing / day)


def login_totals_paths(artifacts: Path) -> tuple[str, str]:
    """The login batches the last build of int_customer_login_totals added to the stored totals, and those whose
    customers it recounted from all their logins (its compiled SQL says)."""
    compiled = next((artifacts / "target" / "compiled").rglob("int_customer_login_totals.sql")).read_text()
    line = next(x for x in compiled.splitlines() if "logins added to the stored totals:" in x)
    added, recounted = line.split("logins added to the stored totals:")[1].split("; customers recounted:")
    return added.strip(), recounted.strip()


def _rows(settings: Settings, query: str, *params: object) -> list[tuple]:  # type: ignore[type-arg]
    with connect("admin", settings) as conn:
        return conn.execute(query, params).fetchall()


def _scalar(settings: Settings, query: str, *params: object) -> int:
    with connect("admin", settings) as conn:
        return int(conn.execute(query, params).fetchone()[0])


def _activity(settings: Settings) -> dict[str, tuple[str, str, str]]:
    """The churn activity per customer: (its own columns, last_login_at, _merged_at), as text — its own columns
    without the login days copied from the login totals, which a login changes like the last login."""
    return {str(r[0]): (str(r[1]), str(r[2]), str(r[3])) for r in _rows(
        settings, "select customer_id, (to_jsonb(a) - 'last_login_at' - 'login_days' - '_merged_at')::text,"
        " last_login_at::text,"
        " _merged_at::text from marts.int_customer_churn_activity a")}


def _login_moved_only(before: dict[str, tuple[str, str, str]], after: dict[str, tuple[str, str, str]],
                      built_at: str) -> int:
    """How many of the night's rows kept their `_merged_at` while their last login moved (the activity merged a new
    last login without recomputing the row); fails when a row whose own columns changed was not marked recomputed by
    this build (`_merged_at` = the watermark's built_at: the rows the churn view's nightly tests check)."""
    moved = 0
    for customer, (columns, last_login, merged_at) in after.items():
        old = before.get(customer)
        if old is None or old[0] != columns:
            assert merged_at == built_at, f"{customer}: recomputed, but not marked by this build"
        elif old[1] != last_login and merged_at == old[2]:
            moved += 1
    return moved


def _read_by_churn_view_tests(settings: Settings, artifacts: Path, as_of_date: str) -> int:
    """How many rows of the churn view its data tests read (their where: macro customers_merged_by) on that date."""
    shown = dbt(["show", "--inline", "select count(*) from {{ ref('mart_churned_customers') }}"
                 " where {{ customers_merged_by('int_customer_churn_activity') }}",
                 "--vars", f"{{as_of_date: '{as_of_date}'}}"], settings, artifacts)
    assert shown.success, shown.summary()
    return int(shown.raw.results[0].agate_table.rows[0][0])


def test_nightly_incremental_builds_equal_a_full_refresh(warehouse: Settings, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    landing = tmp_path / "landing"
    generate(landing, scale=0.2, start=date.fromisoformat(DAYS[0]), end=date.fromisoformat(DAYS[-1]))
    settings = fresh_database(DATABASE, landing, monkeypatch)
    artifacts = tmp_path / "dbt"
    try:
        add_late_logins(landing, DAYS[3], DAYS[1], (date.fromisoformat(DAYS[0]) - timedelta(days=100)).isoformat())
        resend_changed_login(landing, DAYS[4], DAYS[1])
        move_old_tickets(landing, DAYS[2], DAYS)
        load_batch("history", settings)
        first = dbt(["run"], settings, artifacts)
        assert first.success, first.summary()

        old_tickets_updated = customers_changed = renamed = 0
        thresholds_crossed: set[int] = set()
        login_moved_only = 0
        activity = _activity(settings)
        for number, day in enumerate([*DAYS, DAYS[2]]):  # the last night re-delivers an earlier day
            load_batch(day, settings)
            old_tickets_updated += _scalar(
                settings, "select count(*) from analytics.support_tickets where _batch_id = %s"
                " and created_at < %s::date", day, day)
            customers_changed += _scalar(
                settings, "select count(*) from analytics.customers c where c._batch_id = %s and exists"
                " (select from analytics.support_tickets t where t.customer_id = c.customer_id"
                " and t._batch_id <> %s)", day, day)
            changed = _scalar(settings, CHANGED_TICKETS, day, day, day, day)
            renamed += _scalar(settings, "select count(*) from staging.stg_ticket_categories g where _batch_id = %s"
                               " and exists (select from marts.mart_ticket_analytics m where m.category_id ="
                               " g.category_id and m.category_name <> g.category_name)", day)
            night = dbt(["run"], settings, artifacts)
            assert night.success, night.summary()
            # a new day's logins (late ones included) are added to the totals; the customers of a day that rewrote a
            # login, or of a re-delivered day, are recounted from all their logins
            none, this_day = "array[]::text[]", f"array['{day}']::text[]"
            recounts = number == len(DAYS) or day == DAYS[4]
            assert login_totals_paths(artifacts) == ((none, this_day) if recounts else (this_day, none)), day
            built_at = str(_rows(settings, f"select {ACTIVITY_BUILT_AT}::text")[0][0])
            activity, before = _activity(settings), activity
            login_moved_only += _login_moved_only(before, activity, built_at)
            message = next(n.message for n in night.nodes if n.name == "mart_ticket_analytics")
            assert message and message.startswith("MERGE "), message
            merged = int(message.split()[1])
            tickets = _scalar(settings, "select count(*) from marts.mart_ticket_analytics")
            assert 0 < merged == changed, (day, merged, changed, tickets)
            assert merged < tickets / 4 or reference_resent(settings, day), (day, merged, tickets)
            # the period marts replace only the periods holding a changed ticket (months here: the day's and the
            # months of the old tickets it updated), unless a reference table was re-sent
            month_rows = _scalar(settings, "select count(*) from marts.mart_top_root_causes")
            message = next(n.message for n in night.nodes if n.name == "mart_top_root_causes")
            assert message and message.startswith("INSERT 0 "), message
            replaced = int(message.split()[2])
            assert 0 < replaced < month_rows / 2 or reference_resent(settings, day), (day, replaced, month_rows)
            thresholds_crossed |= {int(r[0]) for r in _rows(
                settings, "select distinct days_since_last_login from marts.mart_churned_customers"
                " where days_since_last_login in (30, 60, 120)")}
        assert old_tickets_updated > 0 and customers_changed > 0, "the days must change old rows"
        assert renamed == 1, "a day must rename a category its tickets show (2025-11-06: TC08)"
        assert thresholds_crossed == {30, 60, 120}, f"customers crossed only {sorted(thresholds_crossed)} days"
        assert login_moved_only > 0, "no night merged a new last login without recomputing its customer"
        assert _scalar(settings, "select count(*) from analytics.customer_logins where login_id like 'LLATE%%'") == 2
        assert tickets == _scalar(settings, "select count(*) from analytics.support_tickets")

        incremental = _fingerprints(settings)
        full = dbt(["run", "--full-refresh"], settings, artifacts)
        assert full.success, full.summary()
        assert _fingerprints(settings) == incremental
        assert _indexed_columns(settings) == MODEL_INDEXES, "a full refresh must keep the models' indexes"

        # a backfill: the as-of date moves back to a day with logins after it (counted off the totals, the last
        # login before it looked up) — incremental again equals a full refresh for that date
        backfill = ["--vars", f"{{as_of_date: '{DAYS[1]}'}}"]
        back = dbt(["run", *backfill], settings, artifacts)
        assert back.success, back.summary()
        assert _scalar(settings, "select count(*) from marts.int_customer_churn_activity a"
                       " join marts.int_customer_login_totals t using (customer_id)"
                       " where t.last_login_at is distinct from a.last_login_at") > 0, "no login after the as-of date"
        incremental = _fingerprints(settings, lists_of=DAYS[1])
        full = dbt(["run", "--full-refresh", *backfill], settings, artifacts)
        assert full.success, full.summary()
        assert _fingerprints(settings, lists_of=DAYS[1]) == incremental

        # a backfill further back than the lists' retention (7 days) keeps that date's lists for its export, and a
        # build of the newest date then drops them (and keeps its own week)
        long_ago = (date.fromisoformat(DAYS[0]) - timedelta(days=30)).isoformat()
        for as_of, expected in ((long_ago, {DAYS[1], long_ago}), (DAYS[-1], {DAYS[1], DAYS[-1]})):
            night = dbt(["run", "--vars", f"{{as_of_date: '{as_of}'}}"], settings, artifacts)
            assert night.success, night.summary()
            kept = {str(r[0]) for r in _rows(settings, "select distinct as_of_date from marts.churn_list_snapshots")}
            assert kept == expected, (as_of, sorted(kept))

        # the churn view's tests on a weekday read the customers the activity recomputed in its last build; Sunday's,
        # and a weekday's after a build that recomputed every customer, read all of them
        recomputed = ("select count(*) from marts.mart_churned_customers where customer_id in (select customer_id"
                      f" from marts.int_customer_churn_activity where _merged_at = {ACTIVITY_BUILT_AT})")
        everyone = _scalar(settings, "select count(*) from marts.mart_churned_customers")
        assert 0 < _scalar(settings, recomputed) < everyone
        assert _read_by_churn_view_tests(settings, artifacts, "2025-11-10") == _scalar(settings, recomputed)
        assert _read_by_churn_view_tests(settings, artifacts, "2025-11-09") == everyone
        with connect("admin", settings) as conn:
            conn.execute(f"update marts.int_customer_churn_activity set _merged_at = {ACTIVITY_BUILT_AT}")
        assert _read_by_churn_view_tests(settings, artifacts, "2025-11-10") == everyone

        # tests on new rows: a Monday's tests read only the logins loaded since the last build; Sunday's read all
        with connect("admin", settings) as conn:
            conn.execute("update analytics.customer_logins set device = 'blackberry'"
                         " where login_id = (select min(login_id) from analytics.customer_logins)")
            # an old login's id again, with a blank in front: a different primary key, the same id once trimmed
            conn.execute("insert into analytics.customer_logins select ' ' || login_id, customer_id, login_at, device,"
                         " app_version, _batch_id, _loaded_at from analytics.customer_logins"
                         " where login_id = (select max(login_id) from analytics.customer_logins)")
        weekday = dbt(["test", "--select", "stg_customer_logins", "--vars", "{as_of_date: '2025-11-10'}"],
                      settings, artifacts)
        assert weekday.success, weekday.summary()
        sunday = dbt(["test", "--select", "stg_customer_logins", "--vars", "{as_of_date: '2025-11-09'}"],
                     settings, artifacts)
        assert not sunday.success
        assert sorted(n.name for n in sunday.failed_nodes) == [
            "accepted_values_stg_customer_logins_device__ios__android__web",
            "unique_trimmed_key_stg_customer_logins_login_id__source_analytics_customer_logins_"], sunday.summary()
    finally:
        drop_database(settings)
