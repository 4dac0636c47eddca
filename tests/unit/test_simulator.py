"""The source-system simulator: layout, manifests, reproducibility, integrity and the realism the marts rely on.

Generations are real (no mocks) and small: scale 1 once for the volume/realism figures, 0.1 for the
byte-level reproducibility checks.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import re
import statistics
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from include.simulator import DEFECTS, MANIFEST, TABLE_NAMES, TABLES, generate
from include.simulator.__main__ import main

START, END = date(2025, 11, 1), date(2025, 11, 7)
DAYS = [(START + timedelta(days=i)).isoformat() for i in range(7)]
FOLDERS = ["history", *DAYS]
RELEASE = datetime.fromisoformat("2025-09-15T00:00:00+00:00")
COLUMNS = {t.name: t.columns for t in TABLES}


def read_table(path: Path) -> list[dict[str, str]]:
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, strict=True)
        header = next(reader)
        return [dict(zip(header, row, strict=True)) for row in reader]


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


def file_hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def simulator_scale1(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    root = tmp_path_factory.mktemp("sim_scale1")
    return root, generate(root, scale=1.0)


@pytest.fixture(scope="module")
def simulator_data(simulator_scale1: tuple[Path, object]) -> dict[str, dict[str, list[dict[str, str]]]]:
    root, _ = simulator_scale1
    return {folder: {t: read_table(root / folder / f"{t}.csv.gz") for t in TABLE_NAMES} for folder in FOLDERS}


def latest(data: dict[str, dict[str, list[dict[str, str]]]], table: str) -> dict[str, dict[str, str]]:
    """Rows by key after replaying history then each day, as the warehouse upsert would."""
    key = next(t.primary_key for t in TABLES if t.name == table)
    state: dict[str, dict[str, str]] = {}
    for folder in FOLDERS:
        for row in data[folder][table]:
            state[row[key]] = row
    return state


# --- layout and manifests -------------------------------------------------------------------------------------


def test_every_folder_has_seven_files_with_contract_headers_and_a_manifest(simulator_scale1):
    root, report = simulator_scale1
    assert [f.name for f in report.folders] == FOLDERS
    for folder in FOLDERS:
        names = sorted(p.name for p in (root / folder).iterdir())
        assert names == sorted([MANIFEST, *(f"{t}.csv.gz" for t in TABLE_NAMES)])
        for table in TABLE_NAMES:
            with gzip.open(root / folder / f"{table}.csv.gz", "rb") as handle:
                first = handle.readline()
            assert first == (",".join(COLUMNS[table]) + "\r\n").encode()


def test_manifest_describes_each_file_exactly_and_is_canonical_json(simulator_scale1):
    _, report = simulator_scale1
    for folder in report.folders:
        text = (folder.path / MANIFEST).read_text()
        manifest = json.loads(text)
        assert text == json.dumps(manifest, sort_keys=True, indent=2) + "\n"
        assert manifest["logical_date"] == folder.name
        assert manifest["generated_by"] == "include.simulator"
        assert (manifest["seed"], manifest["scale"]) == (42, 1.0)
        assert sorted(manifest["files"]) == sorted(TABLE_NAMES)
        for table, entry in manifest["files"].items():
            path = folder.path / entry["file"]
            assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
            assert entry["rows"] == len(read_table(path)) == folder.rows[table]
            assert entry["columns"] == list(COLUMNS[table])


def test_manifest_is_written_after_every_file_of_its_folder(simulator_scale1):
    root, _ = simulator_scale1
    for folder in FOLDERS:
        manifest_time = (root / folder / MANIFEST).stat().st_mtime_ns
        assert all(p.stat().st_mtime_ns <= manifest_time for p in (root / folder).glob("*.csv.gz"))
        assert not list((root / folder).glob(".*tmp"))


def test_gzip_headers_carry_no_name_and_no_timestamp(simulator_scale1):
    root, _ = simulator_scale1
    head = (root / "history" / "support_tickets.csv.gz").read_bytes()[:10]
    assert head[:3] == b"\x1f\x8b\x08"
    assert head[3] == 0, "no FNAME/FEXTRA flags"
    assert head[4:8] == b"\x00\x00\x00\x00", "mtime 0"


# --- reproducibility ------------------------------------------------------------------------------------------


def test_same_arguments_give_byte_identical_files(tmp_path):
    first = file_hashes(generate(tmp_path / "a", scale=0.1).out)
    second = file_hashes(generate(tmp_path / "b", scale=0.1).out)
    assert first == second
    assert len(first) == 8 * 8


def test_a_later_end_date_leaves_history_and_earlier_days_unchanged(tmp_path):
    short = file_hashes(generate(tmp_path / "short", scale=0.1, end=date(2025, 11, 3)).out)
    long = file_hashes(generate(tmp_path / "long", scale=0.1, end=date(2025, 11, 7)).out)
    assert short, "nothing written"
    assert {k: long[k] for k in short} == short
    assert any(k.startswith("2025-11-07/") for k in long)


def test_a_nightly_delivery_of_one_day_equals_that_day_written_with_the_history(tmp_path):
    """What the local source system delivers each night (`include.source_system`) is the same day as the demo's."""
    full = file_hashes(generate(tmp_path / "full", scale=0.1, end=date(2025, 11, 4)).out)
    night = generate(tmp_path / "night", scale=0.1, start=date(2025, 11, 4), end=date(2025, 11, 4),
                     with_history=False)
    assert [f.name for f in night.folders] == ["2025-11-04"] and not (tmp_path / "night" / "history").exists()
    delivered = file_hashes(night.out)
    assert delivered and delivered == {k: v for k, v in full.items() if k.startswith("2025-11-04/")}


def test_another_seed_gives_other_data(tmp_path):
    a = file_hashes(generate(tmp_path / "a", scale=0.05, end=START).out)
    b = file_hashes(generate(tmp_path / "b", scale=0.05, end=START, seed=7).out)
    assert a["history/support_tickets.csv.gz"] != b["history/support_tickets.csv.gz"]
    assert a["history/products.csv.gz"] == b["history/products.csv.gz"], "the catalogue is fixed"


# --- what each folder holds -----------------------------------------------------------------------------------


def test_history_holds_only_what_happened_before_start(simulator_data):
    cutoff = datetime.fromisoformat(f"{START}T00:00:00+00:00")
    for table, rows in simulator_data["history"].items():
        column = "login_at" if table == "customer_logins" else "updated_at"
        assert rows, table
        assert max(ts(r[column]) for r in rows) < cutoff, table


def test_day_folders_hold_rows_created_or_changed_that_day(simulator_data):
    for day in DAYS:
        for table in ("customers", "customer_products", "support_tickets", "customer_logins"):
            column = "login_at" if table == "customer_logins" else "updated_at"
            rows = simulator_data[day][table]
            assert all(r[column][:10] == day for r in rows), (day, table)
        keys = [r["ticket_id"] for r in simulator_data[day]["support_tickets"]]
        assert len(keys) == len(set(keys)), "one version per ticket per day"
    resent = [
        r for d in DAYS for r in simulator_data[d]["support_tickets"] if r["created_at"][:10] != r["updated_at"][:10]
    ]
    assert any(r["status"] in ("resolved", "closed") for r in resent), "tickets are re-sent when resolved"


def test_reference_tables_are_resent_whole_only_on_the_day_they_change(simulator_data):
    changes = {"products": "2025-11-03", "root_causes": "2025-11-05", "ticket_categories": "2025-11-06"}
    for table, change_day in changes.items():
        full = len(simulator_data["history"][table])
        for day in DAYS:
            rows = simulator_data[day][table]
            if day == change_day:
                assert len(rows) >= full
                assert max(r["updated_at"][:10] for r in rows) == day
            else:
                assert rows == [], (table, day)
    fee = {r["product_id"]: r["monthly_fee"] for r in simulator_data["2025-11-03"]["products"]}
    assert fee["P007"] == "8.99"
    categories = {r["category_id"]: r["category_name"] for r in simulator_data["2025-11-06"]["ticket_categories"]}
    assert categories["TC08"] == "Fraud & Security"


def test_primary_keys_are_unique_per_file_and_ids_are_stable_text(simulator_data):
    patterns = {
        "customers": r"C\d{8}",
        "products": r"P\d{3}",
        "customer_products": r"H\d{9}",
        "ticket_categories": r"TC\d{2}",
        "root_causes": r"RC\d{3}",
        "support_tickets": r"T\d{9}",
        "customer_logins": r"L\d{10}",
    }
    for folder in FOLDERS:
        for t in TABLES:
            keys = [r[t.primary_key] for r in simulator_data[folder][t.name]]
            assert len(keys) == len(set(keys)), (folder, t.name)
            assert all(re.fullmatch(patterns[t.name], k) for k in keys), (folder, t.name)


def test_every_foreign_key_resolves_across_history_and_days(simulator_data):
    ids = {t: set(latest(simulator_data, t)) for t in TABLE_NAMES}
    for folder in FOLDERS:
        d = simulator_data[folder]
        for row in d["customer_products"]:
            assert row["customer_id"] in ids["customers"] and row["product_id"] in ids["products"]
        for row in d["customer_logins"]:
            assert row["customer_id"] in ids["customers"]
        for row in d["support_tickets"]:
            assert row["customer_id"] in ids["customers"]
            assert row["product_id"] in ids["products"]
            assert row["category_id"] in ids["ticket_categories"]
            assert row["root_cause_id"] == "" or row["root_cause_id"] in ids["root_causes"]


def test_schema_is_the_contract_used_by_the_extract():
    contract = pytest.importorskip("include.contract")
    for t in TABLES:
        assert contract.table(t.name).column_names == t.columns
        assert contract.table(t.name).primary_key == t.primary_key


# --- realism --------------------------------------------------------------------------------------------------


def test_volumes_at_scale_one(simulator_data):
    customers = latest(simulator_data, "customers")
    tickets = latest(simulator_data, "support_tickets")
    holdings = latest(simulator_data, "customer_products")
    products = latest(simulator_data, "products")
    causes = latest(simulator_data, "root_causes")
    categories = {r["category_name"] for r in latest(simulator_data, "ticket_categories").values()}
    logins = sum(len(simulator_data[f]["customer_logins"]) for f in FOLDERS)
    assert 9_000 <= len(customers) <= 11_000
    assert 13_500 <= len(tickets) <= 17_500
    assert 8 <= len(products) <= 12
    assert {"Digital Lending", "Savings", "Cards", "Payments", "Investments"} <= {
        p["product_type"] for p in products.values()
    }
    assert 1.5 <= len(holdings) / len(customers) <= 2.0
    assert {"Login & Access", "Payments", "Loan Application", "Cards", "KYC", "App Performance"} <= categories
    assert 15 <= len(causes) <= 25
    assert {r["severity"] for r in causes.values()} == {"low", "medium", "high", "critical"}
    assert sum(r["related_release"] == "v1.2" for r in causes.values()) >= 3
    assert {"Standard", "Premium", "Business", "Student"} == {c["customer_segment"] for c in customers.values()}
    assert len({c["city"] for c in customers.values()}) >= 10
    assert 10 <= logins / len(customers) <= 20


def test_enumerations_are_clean_and_only_subjects_carry_stray_formatting(simulator_data):
    allowed = {
        "channel": {"app", "web", "phone", "email", "chat"},
        "priority": {"low", "medium", "high", "urgent"},
        "status": {"open", "in_progress", "resolved", "closed"},
        "app_version": {"", "v1.0", "v1.1", "v1.2"},
    }
    tickets = list(latest(simulator_data, "support_tickets").values())
    for column, values in allowed.items():
        assert {t[column] for t in tickets} == values, column
    stray = [t["subject"] for t in tickets if t["subject"] != t["subject"].strip() or t["subject"].isupper()]
    assert 0.01 < len(stray) / len(tickets) < 0.08
    assert any('"' in t["subject"] for t in tickets) and any("," in t["subject"] for t in tickets)
    logins = [r for f in FOLDERS for r in simulator_data[f]["customer_logins"]]
    assert {r["device"] for r in logins} == {"ios", "android", "web"}
    assert all(r["app_version"] == "" for r in logins if r["device"] == "web")


def test_ticket_lifecycle_fields_are_consistent(simulator_data):
    for folder in FOLDERS:
        for t in simulator_data[folder]["support_tickets"]:
            created = ts(t["created_at"])
            done = t["status"] in ("resolved", "closed")
            assert (t["resolved_at"] != "") == done == (t["resolution_time_hours"] != "")
            assert (t["first_response_at"] != "") == (t["status"] != "open")
            if t["first_response_at"]:
                assert ts(t["first_response_at"]) >= created
            if done:
                resolved = ts(t["resolved_at"])
                assert resolved >= created and resolved >= ts(t["first_response_at"])
                hours = (resolved - created).total_seconds() / 3600
                assert abs(float(t["resolution_time_hours"]) - hours) <= 0.0051
            else:
                assert t["satisfaction_score"] == ""
            assert t["satisfaction_score"] in ("", "1", "2", "3", "4", "5")
            assert ts(t["updated_at"]) >= created


def test_resolution_has_a_long_tail_ordered_by_priority_and_drives_satisfaction(simulator_data):
    done = [t for t in latest(simulator_data, "support_tickets").values() if t["resolved_at"]]
    hours = defaultdict(list)
    for t in done:
        hours[t["priority"]].append(float(t["resolution_time_hours"]))
    medians = {p: statistics.median(v) for p, v in hours.items()}
    assert medians["urgent"] < medians["high"] < medians["medium"] < medians["low"]
    everything = sorted(float(t["resolution_time_hours"]) for t in done)
    assert everything[int(0.95 * len(everything))] > 4 * statistics.median(everything), "long tail"
    scored = [t for t in done if t["satisfaction_score"]]
    assert 0.5 < len(scored) / len(done) < 0.8, "the survey is sometimes unanswered"
    fast = [int(t["satisfaction_score"]) for t in scored if float(t["resolution_time_hours"]) < 8]
    slow = [int(t["satisfaction_score"]) for t in scored if float(t["resolution_time_hours"]) > 72]
    assert statistics.mean(fast) - statistics.mean(slow) > 1.0


def test_v12_release_causes_a_spike_concentrated_in_lending_and_payments(simulator_data):
    tickets = latest(simulator_data, "support_tickets").values()
    v12_causes = {
        r["root_cause_id"] for r in latest(simulator_data, "root_causes").values() if r["related_release"] == "v1.2"
    }
    product_type = {p["product_id"]: p["product_type"] for p in latest(simulator_data, "products").values()}
    four_weeks = timedelta(days=28)
    before = sum(RELEASE - four_weeks <= ts(t["created_at"]) < RELEASE for t in tickets)
    after = sum(RELEASE <= ts(t["created_at"]) < RELEASE + four_weeks for t in tickets)
    assert after >= 1.5 * before
    regressions = [t for t in tickets if t["root_cause_id"] in v12_causes]
    others = [t for t in tickets if t["root_cause_id"] not in v12_causes]
    assert len(regressions) > 0.4 * before
    assert all(t["app_version"] == "v1.2" and ts(t["created_at"]) >= RELEASE for t in regressions)

    def focus_share(rows: list[dict[str, str]]) -> float:
        return sum(product_type[t["product_id"]] in ("Digital Lending", "Payments") for t in rows) / len(rows)

    assert focus_share(regressions) >= 0.7
    assert focus_share(regressions) > focus_share(others) + 0.2
    lending = Counter(product_type[t["product_id"]] for t in regressions)
    assert lending["Digital Lending"] > 0.25 * len(regressions)


def test_churn_proportions_at_the_end_date(simulator_data):
    customers = latest(simulator_data, "customers")
    last_login: dict[str, date] = {}
    for folder in FOLDERS:
        for row in simulator_data[folder]["customer_logins"]:
            day = date.fromisoformat(row["login_at"][:10])
            if day > last_login.get(row["customer_id"], date.min):
                last_login[row["customer_id"]] = day
    d = END
    churned_30 = [c for c in customers if d - timedelta(60) <= last_login.get(c, date.min) < d - timedelta(30)]
    churned_90 = [c for c in customers if d - timedelta(120) <= last_login.get(c, date.min) < d - timedelta(30)]
    share_30, share_90 = len(churned_30) / len(customers), len(churned_90) / len(customers)
    assert 0.10 <= share_30 <= 0.20, share_30
    assert 0.25 <= share_90 <= 0.40, share_90
    assert 1.6 <= share_90 / share_30 <= 3.0
    premium = {c for c, row in customers.items() if row["customer_segment"] == "Premium"}
    assert len(premium & set(churned_30)) > 50, "retention has Premium customers to call"
    active = [c for c in customers if last_login.get(c, date.min) >= d - timedelta(30)]
    assert len(active) > 0.4 * len(customers)


def test_churners_close_products_and_segments_change(simulator_data):
    holdings = latest(simulator_data, "customer_products").values()
    closed = [h for h in holdings if h["closed_at"]]
    assert 0.05 < len(closed) / len(holdings) < 0.5
    assert all(h["closed_at"] >= h["opened_at"] for h in closed)
    last_login: dict[str, str] = {}
    for folder in FOLDERS:
        for row in simulator_data[folder]["customer_logins"]:
            last_login[row["customer_id"]] = max(last_login.get(row["customer_id"], ""), row["login_at"])
    quiet = {c for c, at in last_login.items() if at < "2025-09-01"}

    def close_rate(rows: list[dict[str, str]]) -> float:
        return sum(bool(h["closed_at"]) for h in rows) / len(rows)

    assert close_rate([h for h in holdings if h["customer_id"] in quiet]) > 2 * close_rate(
        [h for h in holdings if h["customer_id"] not in quiet]
    )
    history = simulator_data["history"]["customers"]
    changed = [c for c in history if c["updated_at"][:10] > c["signup_date"]]
    assert 0.01 < len(changed) / len(history) < 0.15
    resent = {
        c["customer_id"]
        for d in DAYS
        for c in simulator_data[d]["customers"]
        if c["updated_at"][:10] > c["signup_date"]
    }
    assert resent, "segment changes are re-sent on the day they happen"


def test_some_tickets_are_open_at_every_date(simulator_data):
    tickets = list(latest(simulator_data, "support_tickets").values())
    day = date(2025, 1, 2)
    while day <= END:
        moment = datetime.fromisoformat(f"{day}T00:00:00+00:00")
        open_then = sum(
            ts(t["created_at"]) < moment and (not t["resolved_at"] or ts(t["resolved_at"]) >= moment) for t in tickets
        )
        assert open_then > 0, day
        day += timedelta(days=1)
    for d in DAYS:
        assert any(t["status"] in ("open", "in_progress") for t in simulator_data[d]["support_tickets"]), d


# --- interface ------------------------------------------------------------------------------------------------


def test_report_counts_rows_per_table_per_folder(simulator_scale1, simulator_data):
    _, report = simulator_scale1
    for folder in report.folders:
        assert folder.rows == {t: len(simulator_data[folder.name][t]) for t in TABLE_NAMES}
    assert report.total_rows == sum(sum(f.rows.values()) for f in report.folders)
    assert report.defects == ()
    assert "malformed_row" in DEFECTS and len(DEFECTS) == 15


def test_cli_writes_folders_and_prints_a_summary(tmp_path, capsys):
    code = main(["--out", str(tmp_path), "--scale", "0.02", "--end", "2025-11-02", "--defect", "orphan_fk"])
    assert code == 0
    out = capsys.readouterr().out
    assert (tmp_path / "2025-11-02" / MANIFEST).is_file()
    assert "defect orphan_fk" in out and "rows in" in out


def test_rerun_into_the_same_folder_replaces_files_and_manifest(tmp_path):
    generate(tmp_path, scale=0.02, end=START, defects=["missing_manifest"])
    assert not (tmp_path / START.isoformat() / MANIFEST).exists()
    generate(tmp_path, scale=0.02, end=START)
    manifest = json.loads((tmp_path / START.isoformat() / MANIFEST).read_text())
    assert manifest["files"]["support_tickets"]["rows"] == len(
        read_table(tmp_path / START.isoformat() / "support_tickets.csv.gz")
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scale": 0}, "scale"),
        ({"start": date(2025, 11, 8), "end": date(2025, 11, 7)}, "start"),
        ({"history_start": date(2020, 1, 1)}, "history_start"),
        ({"defects": ["no_such_defect"]}, "unknown defect"),
        ({"defects": ["orphan_fk:products"]}, "orphan_fk"),
        ({"defects": ["bad_type::2025-12-01"]}, "not written"),
        ({"defects": ["bad_type", "orphan_fk"]}, "one file takes one defect"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_written(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        generate(tmp_path / "out", **kwargs)
    assert not (tmp_path / "out").exists()


def test_csv_quoting_round_trips(tmp_path):
    report = generate(tmp_path, scale=0.05, end=START)
    raw = gzip.decompress((report.folder("history").path / "support_tickets.csv.gz").read_bytes()).decode()
    quoted = [line for line in raw.split("\r\n") if '"' in line]
    assert quoted, "some subjects need quoting"
    for line in quoted:
        row = next(csv.reader(io.StringIO(line), strict=True))
        assert len(row) == len(COLUMNS["support_tickets"])


def test_long_ranges_are_written_in_passes_without_changing_any_day(tmp_path):
    long = generate(tmp_path / "long", scale=0.02, start=date(2025, 10, 1), end=date(2025, 11, 7))
    short = generate(tmp_path / "short", scale=0.02, start=date(2025, 10, 1), end=date(2025, 10, 3))
    assert len(long.folders) == 1 + 38
    assert all((f.path / MANIFEST).is_file() for f in long.folders)
    long_hashes, short_hashes = file_hashes(long.out), file_hashes(short.out)
    assert {k: long_hashes[k] for k in short_hashes} == short_hashes


def test_history_may_start_on_the_first_day(tmp_path):
    report = generate(tmp_path, scale=0.02, history_start=START, start=START, end=START)
    history = report.folder("history").rows
    assert history["customers"] > 0 and history["products"] == 11
    assert history["support_tickets"] == history["customer_logins"] == 0
    assert report.folder(START.isoformat()).rows["customer_logins"] > 0


def test_large_generations_report_progress_per_chunk_of_customers(tmp_path: Path) -> None:
    from include.simulator.population import Sizing

    lines: list[str] = []
    generate(tmp_path, scale=0.2, start=date(2025, 11, 1), end=date(2025, 11, 1), progress=lines.append)
    chunks = Sizing.at(0.2).chunks()
    assert len(lines) == len(chunks) and lines[-1].startswith("history…2025-11-01: customers")
    assert f"chunk {len(chunks)} of {len(chunks)}" in lines[-1]
