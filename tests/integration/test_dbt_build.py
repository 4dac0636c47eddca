"""dbt on real PostgreSQL (the embedded server) with simulator data at scale 1: the build, the marts, the spec's
sample queries (verbatim on `marts`, and as the reader on `serving`), grants, and churn evaluated as of a date.

The module works in its own database (`sa_dbt_clean`) and its own landing root, so other modules that truncate or
load the default test warehouse never see or disturb it. The sequence, run once by the module fixture:
1. generate scale 1 (history 2025-01-01.. + 2025-11-01..07), load `history` and `2025-11-01`;
2. build the churn mart as of 2025-11-01 and fingerprint it;
3. load 2025-11-02..07, build the churn mart as of 2025-11-01 twice more and fingerprint it each time;
4. `dbt build` (default as-of = the latest login date): the build every test below looks at.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

import psycopg
import pytest

from include.config import Settings, get_settings
from include.ingest.batch import load_batch
from include.simulator import generate
from include.transform.runner import DbtResult, build_manifest, run_dbt
from include.warehouse import bootstrap
from include.warehouse.connect import connect

pytestmark = pytest.mark.integration

DATABASE = "sa_dbt_clean"
DAYS = [(date(2025, 11, 1) + timedelta(days=i)).isoformat() for i in range(7)]
AS_OF = "2025-11-01"
MARTS = ("mart_ticket_analytics", "mart_top_root_causes", "mart_churned_customers")
SNAPSHOTS = ("churn_list_snapshots",)
AGGREGATES = ("mart_root_causes_by_period", "mart_tickets_by_day", "mart_churn_summary")  # for the MCP tools
INTERMEDIATE = ("int_customer_login_totals", "int_customer_churn_activity",  # not served
                "int_ticket_groups_by_month", "int_customer_contact_tokens")
SERVING_VIEWS = (*MARTS, *SNAPSHOTS, *AGGREGATES)  # the reader's views, named like the marts they serve
SERVING_MODELS = {f"serving_{name}" for name in (*SERVING_VIEWS, "marts_build")} | {"pii_churn_list_snapshots"}
STAGING = ("stg_tickets", "stg_customers", "stg_products", "stg_customer_products", "stg_ticket_categories",
           "stg_root_causes", "stg_customer_logins", "stg_committed_loads")

# The spec's sample queries (/work/shared/spec/dbt_models.md), verbatim but for trailing blanks.
SPEC_QUERIES = {
    "1 top root causes": """
SELECT
    root_cause_name,
    category_name,
    total_tickets,
    pct_of_period,
    pct_open
FROM marts.mart_top_root_causes
WHERE created_year = 2025
    AND created_month = 10
ORDER BY total_tickets DESC
LIMIT 5;""",
    "2 v1.2 impact": """
SELECT
    product_type,
    COUNT(*) as v12_tickets,
    AVG(resolution_time_hours) as avg_resolution
FROM marts.mart_ticket_analytics
WHERE is_v12_related = true
GROUP BY product_type;""",
    "3 high-value churn risk": """
SELECT
    customer_segment,
    COUNT(*) as at_risk_customers,
    SUM(estimated_clv) as clv_at_risk
FROM marts.mart_churned_customers
WHERE churn_risk_level IN ('high', 'critical')
GROUP BY customer_segment;""",
    "4 v1.2 tickets affecting Digital Lending": """SELECT * FROM marts.mart_ticket_analytics
       WHERE is_v12_related = true
       AND product_type = 'Digital Lending'""",
    "5 Premium churned in last 30 days": """SELECT * FROM marts.mart_churned_customers
       WHERE customer_segment = 'Premium'
       AND is_churned_30d = true
       ORDER BY estimated_clv DESC""",
}

# Columns that must not change when later data arrives, for a fixed as_of_date: everything but the customer's
# current attributes (the source keeps only the latest segment, so a later segment change shows through).
AS_OF_STABLE_COLUMNS = (
    "customer_id", "churn_risk_level", "days_since_last_login", "total_logins", "logins_last_30d",
    "logins_prior_60d", "active_products", "products_closed_90d", "total_tickets", "tickets_last_90d",
    "open_tickets", "unsatisfied_tickets", "unsatisfied_tickets_90d", "churn_risk_score", "monthly_revenue",
    "estimated_clv", "has_logged_in", "is_churned_30d", "is_churned_90d", "as_of_date", "signup_date",
    "last_login_date", "last_login_at",
)


@dataclass(frozen=True)
class Scenario:
    settings: Settings
    artifacts: Path
    build: DbtResult
    as_of_partial_data: str
    as_of_full_data: tuple[str, str]
    as_of_full_rows: tuple[str, str]


def fresh_database(name: str, landing: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Point the settings at database `name` (recreated empty) and at `landing`, and bootstrap it."""
    monkeypatch.setenv("WAREHOUSE_DB", name)
    monkeypatch.setenv("SA_LANDING_ROOT", str(landing))
    settings = get_settings()
    drop_database(settings)
    bootstrap.bootstrap(settings)
    return settings


def drop_database(settings: Settings) -> None:
    with connect("admin", settings, autocommit=True, database="postgres") as conn:
        conn.execute(f'drop database if exists "{settings.warehouse_db}" with (force)')


def dbt(args: list[str], settings: Settings, artifacts: Path) -> DbtResult:
    """In-process dbt with its target/log folders under `artifacts` (dbt/target stays Cosmos' manifest)."""
    return run_dbt(args, settings, target_path=artifacts / "target", log_path=artifacts / "logs")


def fingerprint(settings: Settings, columns: tuple[str, ...] | None = None) -> str:
    row = f"({', '.join(columns)})::text" if columns else "t::text"
    with connect("transformer", settings) as conn:
        return conn.execute(
            f"select count(*) || ':' || md5(string_agg({row}, '|' order by customer_id)) "
            "from marts.mart_churned_customers t"
        ).fetchone()[0]


def query(settings: Settings, sql: str, kind: str = "transformer") -> list[tuple]:
    with connect(kind, settings) as conn:  # type: ignore[arg-type]
        return conn.execute(sql).fetchall()


@pytest.fixture(scope="module")
def built(warehouse: Settings, tmp_path_factory: pytest.TempPathFactory,
          monkeypatch_module: pytest.MonkeyPatch) -> Iterator[Scenario]:
    landing = tmp_path_factory.mktemp("dbt-landing")
    generate(landing, scale=1.0, start=date(2025, 11, 1), end=date(2025, 11, 7))
    settings = fresh_database(DATABASE, landing, monkeypatch_module)
    artifacts = tmp_path_factory.mktemp("dbt-artifacts")
    as_of = ["--vars", f"{{as_of_date: '{AS_OF}'}}"]

    for batch in ["history", DAYS[0]]:
        load_batch(batch, settings)
    first = dbt(["run", "--select", "+mart_churned_customers", *as_of], settings, artifacts)
    assert first.success, first.summary()
    partial = fingerprint(settings, AS_OF_STABLE_COLUMNS)

    for batch in DAYS[1:]:
        load_batch(batch, settings)
    full, rows = [], []
    for _ in range(2):
        # the churn mart is a view: its counts are the activity's, merged for the customers the later days touched
        rerun = dbt(["run", "--select", "+mart_churned_customers", *as_of], settings, artifacts)
        assert rerun.success, rerun.summary()
        full.append(fingerprint(settings, AS_OF_STABLE_COLUMNS))
        rows.append(fingerprint(settings))

    build = dbt(["build"], settings, artifacts)
    yield Scenario(settings, artifacts, build, partial, (full[0], full[1]), (rows[0], rows[1]))
    drop_database(settings)


def test_build_passes_every_model_and_test(built: Scenario) -> None:
    result = built.build
    assert result.success and result.exception is None, result.summary()
    by_type: dict[str, list[str]] = {}
    for node in result.nodes:
        by_type.setdefault(node.resource_type, []).append(node.status)
    assert by_type["model"] == ["success"] * (len(STAGING) + len(MARTS) + len(SNAPSHOTS) + len(AGGREGATES)
                                              + len(INTERMEDIATE) + len(SERVING_MODELS))
    assert len(by_type["test"]) >= 50 and set(by_type["test"]) == {"pass"}
    assert len(by_type["unit_test"]) >= 6 and set(by_type["unit_test"]) == {"pass"}
    singular = {n.name for n in result.nodes if n.name.startswith("assert_")}
    assert {"assert_period_percentages_sum_to_100", "assert_churned_30d_subset_of_90d",
            "assert_churn_risk_score_within_0_100", "assert_churn_risk_level_matches_score",
            "assert_actual_resolution_hours_not_negative"} <= singular


def test_models_land_exactly_in_their_schemas(built: Scenario) -> None:
    rows = query(built.settings, "select table_schema, table_name, table_type from information_schema.tables "
                 "where table_schema not in ('pg_catalog', 'information_schema', 'analytics', 'audit', 'private')",
                 "admin")
    found = {(schema, name): kind for schema, name, kind in rows}
    assert {name for (schema, name) in found if schema == "marts"} == {*MARTS, *SNAPSHOTS, *AGGREGATES, *INTERMEDIATE}
    assert {name for (schema, name) in found if schema == "staging"} == set(STAGING)
    assert {name for (schema, name) in found if schema == "serving"} == {*SERVING_VIEWS, "marts_build",
                                                                        "pipeline_status"}
    assert {name for (schema, name) in found if schema == "pii"} == set(SNAPSHOTS)
    tables = {*MARTS, *SNAPSHOTS, *AGGREGATES, *INTERMEDIATE} - {"mart_churned_customers"}
    assert all(found[("marts", m)] == "BASE TABLE" for m in tables)
    assert found[("marts", "mart_churned_customers")] == "VIEW"  # over int_customer_churn_activity
    assert all(found[("staging", s)] == "VIEW" for s in STAGING)
    assert all(found[("serving", v)] == "VIEW" for v in SERVING_VIEWS)
    assert found[("serving", "marts_build")] == "BASE TABLE" and found[("pii", "churn_list_snapshots")] == "VIEW"


def test_serving_views_have_their_marts_columns(built: Scenario) -> None:
    """Same names, same order: the spec's queries run on `serving` as written for `marts`."""
    def columns(schema: str, name: str) -> list[str]:
        return [r[0] for r in query(built.settings, "select column_name from information_schema.columns where "
                                    f"table_schema = '{schema}' and table_name = '{name}' order by ordinal_position",
                                    "admin")]

    for mart in (*MARTS, *AGGREGATES):
        assert columns("serving", mart) == columns("marts", mart), mart
    lists = columns("marts", "churn_list_snapshots")
    assert columns("serving", "churn_list_snapshots") == columns("pii", "churn_list_snapshots") == [
        *lists, "customer_name", "email", "phone"]


def test_ticket_mart_has_one_row_per_ticket_with_dimensions(built: Scenario) -> None:
    tickets = query(built.settings, "select count(*) from analytics.support_tickets", "admin")[0][0]
    total, distinct, missing_dims, created = query(
        built.settings,
        "select count(*), count(distinct ticket_id), count(*) filter (where customer_segment is null or "
        "product_type is null or category_name is null or created_year is null), count(distinct created_month) "
        "from marts.mart_ticket_analytics",
    )[0]
    assert tickets > 10_000
    assert total == distinct == tickets
    assert missing_dims == 0
    assert created == 11  # January .. November 2025


def test_v12_flag_marks_the_regression_after_the_release(built: Scenario) -> None:
    first, before, sep_oct = query(
        built.settings,
        "select min(created_date) filter (where is_v12_related), "
        "count(*) filter (where is_v12_related and created_date < date '2025-09-15'), "
        "count(*) filter (where is_v12_related and created_date between date '2025-09-15' and date '2025-10-31') "
        "from marts.mart_ticket_analytics",
    )[0]
    assert first >= date(2025, 9, 15)  # release v1.2
    assert before == 0
    assert sep_oct > 1_000


def test_spec_sample_queries_return_sensible_rows(built: Scenario) -> None:
    results = {name: query(built.settings, sql, "transformer") for name, sql in SPEC_QUERIES.items()}
    assert all(results.values()), {name: len(rows) for name, rows in results.items()}

    top = results["1 top root causes"]
    assert len(top) == 5
    assert [r[2] for r in top] == sorted((r[2] for r in top), reverse=True)
    assert all(0 < r[3] <= 100 and 0 <= r[4] <= 100 for r in top)
    # October 2025 is the v1.2 spike: its top causes are v1.2 regressions
    assert "Loan application crashes on submit" in {r[0] for r in top}

    impact = {r[0]: (r[1], r[2]) for r in results["2 v1.2 impact"]}
    assert {"Digital Lending", "Payments"} <= set(impact)
    assert impact["Digital Lending"][0] > 100 and impact["Digital Lending"][1] > 0

    at_risk = {r[0]: (r[1], r[2]) for r in results["3 high-value churn risk"]}
    assert set(at_risk) == {"Standard", "Premium", "Business", "Student"}
    assert all(count > 0 and clv > 0 for count, clv in at_risk.values())

    assert len(results["4 v1.2 tickets affecting Digital Lending"]) == impact["Digital Lending"][0]

    premium = results["5 Premium churned in last 30 days"]
    assert 50 < len(premium) < 600
    with connect("transformer", built.settings) as conn:
        cols = [d.name for d in conn.execute(SPEC_QUERIES["5 Premium churned in last 30 days"]).description]
    clv = [row[cols.index("estimated_clv")] for row in premium]
    assert clv == sorted(clv, reverse=True)


def test_spec_sample_queries_answer_the_same_for_the_reader_on_serving(built: Scenario) -> None:
    """The reader runs the spec's queries with `marts.` read as `serving.`: the same answers, contacts masked."""
    for name, sql in SPEC_QUERIES.items():
        raw = query(built.settings, sql, "transformer")
        served = query(built.settings, sql.replace("marts.", "serving."), "reader")
        if name.startswith("5 "):  # select *: everything equal but customer_name, email, phone (columns 2-4)
            assert sorted(r[:1] + r[4:] for r in served) == sorted(r[:1] + r[4:] for r in raw)
            assert all(r[1].startswith("masked-") and r[2].endswith("@masked.invalid") for r in served)
            assert not {r[2] for r in served} & {r[2] for r in raw}
        else:
            assert sorted(served) == sorted(raw), name
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            query(built.settings, sql, "reader")


def test_reader_reads_serving_but_nothing_raw(built: Scenario) -> None:
    for view in (*SERVING_VIEWS, "marts_build", "pipeline_status"):
        query(built.settings, f"select * from serving.{view} limit 1", "reader")
    for relation in (*(f"marts.{m}" for m in (*MARTS, *SNAPSHOTS, *AGGREGATES)), "staging.stg_tickets",
                     "staging.stg_customers",
                     "analytics.customers", "audit.quarantine", "private.masking_key", "pii.churn_list_snapshots"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            query(built.settings, f"select * from {relation} limit 1", "reader")


def test_period_percentages_sum_to_100(built: Scenario) -> None:
    rows = query(
        built.settings,
        "select created_year, created_month, sum(pct_of_period), sum(total_tickets), min(period_tickets), count(*) "
        "from marts.mart_top_root_causes group by 1, 2 order by 1, 2",
    )
    per_month = dict(((y, m), n) for y, m, n in query(
        built.settings,
        "select created_year, created_month, count(*) from marts.mart_ticket_analytics group by 1, 2"))
    assert len(rows) == 11
    for year, month, pct, tickets, period, groups in rows:
        assert pct == 100, (year, month, pct)
        assert tickets == period == per_month[(year, month)]
        assert groups > 10


def test_churn_counts_are_in_the_spec_range(built: Scenario) -> None:
    customers = query(built.settings, "select count(*) from analytics.customers", "admin")[0][0]
    total, churned_30, churned_90, as_of, never, levels = query(
        built.settings,
        "select count(*), count(*) filter (where is_churned_30d), count(*) filter (where is_churned_90d), "
        "min(as_of_date), count(*) filter (where not has_logged_in), count(distinct churn_risk_level) "
        "from marts.mart_churned_customers",
    )[0]
    latest_login = query(built.settings,
                         "select max((login_at at time zone 'UTC')::date) from analytics.customer_logins", "admin")
    assert as_of == latest_login[0][0] == date(2025, 11, 7)
    assert total == customers  # everyone had signed up by the latest login date
    assert 1_000 <= churned_30 <= 2_000, churned_30  # spec: ~1,500
    assert 2_500 <= churned_90 <= 4_500, churned_90  # spec: 3,000+
    assert never < total * 0.1
    assert levels == 5


def test_churn_as_of_a_date_is_stable(built: Scenario) -> None:
    # rerunning for the same date gives the identical table
    assert built.as_of_full_rows[0] == built.as_of_full_rows[1]
    # and loading the days after it changes nothing but current customer attributes
    assert built.as_of_partial_data == built.as_of_full_data[0] == built.as_of_full_data[1]
    assert built.as_of_partial_data.split(":")[0] != "0"


def test_staging_cleans_stray_case_and_whitespace(built: Scenario) -> None:
    raw, clean = query(
        built.settings,
        "select (select count(distinct subject) from analytics.support_tickets), "
        "(select count(distinct subject) from staging.stg_tickets)",
        "transformer",
    )[0]
    assert raw > clean == 34  # 34 subject lines, each also sent padded, upper- and lower-cased


def test_docs_generate_writes_a_catalog_of_the_marts(built: Scenario) -> None:
    result = dbt(["docs", "generate"], built.settings, built.artifacts)
    assert result.success, result.summary()
    catalog = json.loads((built.artifacts / "target" / "catalog.json").read_text())
    nodes = {n["metadata"]["name"]: n for n in catalog["nodes"].values()}
    assert set(MARTS) | set(STAGING) <= set(nodes)
    assert {"pct_of_period", "pct_open", "total_tickets"} <= set(nodes["mart_top_root_causes"]["columns"])


def test_parse_writes_the_manifest_without_a_database(built: Scenario, tmp_path: Path) -> None:
    unreachable = replace(built.settings, embedded_port=1)  # nothing listens there: parse must not connect
    manifest = json.loads(build_manifest(unreachable, target_path=tmp_path / "target").read_text())
    models = {n["name"] for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    assert {*MARTS, *SNAPSHOTS, *AGGREGATES, *INTERMEDIATE, *STAGING} | SERVING_MODELS == models
    exposures = {e["name"]: set(e["depends_on"]["nodes"]) for e in manifest["exposures"].values()}
    assert exposures["support_churn_export"] == {"model.support_analytics.serving_churn_list_snapshots",
                                                 "model.support_analytics.pii_churn_list_snapshots"}
    assert "model.support_analytics.serving_mart_top_root_causes" in exposures["mcp_kpi_top_root_causes"]
    contracted = {n["name"] for n in manifest["nodes"].values() if n["config"].get("contract", {}).get("enforced")}
    assert contracted == {*MARTS, *SNAPSHOTS, *AGGREGATES, "serving_marts_build"}
