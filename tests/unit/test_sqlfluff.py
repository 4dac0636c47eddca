"""The committed sqlfluff config (.sqlfluff) lints the dbt project with dbt's own compiler and no warehouse.

The test lints a copy of the dbt project with one extra model written against the house style, with the profile
pointing at a port where nothing listens: sqlfluff's stock dbt templater would stop at "dbt tried to connect to the
database"; ours (include/sqlfluff_dbt.py) must compile every file and report the extra model's faults only.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SQLFLUFF = Path(sys.executable).parent / "sqlfluff"

OFF_STYLE_MODEL = """\
-- upper-case keyword, leading comma, implicit alias, and a last select that is not `select * from final`
with

customers as (

    select * from {{ ref('stg_customers') }}

),

final as (

    SELECT
        customer_id
        , customer_name name

    from customers

)

select customer_id from final
"""


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # released on close: nothing listens there


def test_lint_compiles_without_a_warehouse_and_flags_only_the_off_style_model(tmp_path: Path) -> None:
    for name in (".sqlfluff", ".sqlfluffignore"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "dbt", tmp_path / "dbt", ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    (tmp_path / "dbt" / "models" / "marts" / "mart_off_style.sql").write_text(OFF_STYLE_MODEL)
    env = {"PATH": str(Path(sys.executable).parent), "HOME": str(tmp_path),
           "SA_DBT_HOST": "127.0.0.1", "SA_DBT_PORT": str(_closed_port())}

    run = subprocess.run([str(SQLFLUFF), "lint", "dbt", "--format", "json"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)

    assert run.returncode == 1, run.stderr
    results = {Path(f["filepath"]).as_posix(): f["violations"] for f in json.loads(run.stdout)}
    assert "dbt/models/marts/mart_churned_customers.sql" in results, "every model is linted"
    assert "dbt/tests/assert_ticket_analytics_has_every_ticket.sql" in results, "singular tests are linted"
    assert not any(path.startswith("dbt/macros/") for path in results), "macros are linted where they are used"
    found = {v["code"] for v in results.pop("dbt/models/marts/mart_off_style.sql")}
    assert {"CP01", "LT04", "AL02", "CV13"} <= found, found
    # no violation elsewhere, not even a templating error (TMP): dbt compiled every file without the warehouse
    assert {path: v for path, v in results.items() if v} == {}
