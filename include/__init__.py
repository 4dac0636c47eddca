"""Support-analytics warehouse job: plain, typed Python used by the DAGs, CLIs and tests."""
