"""Airflow's local-settings hook (this folder is `[core] plugins_folder`, which Airflow puts on sys.path): preload
the heavy libraries in the processes that fork task processes (include/preload.py)."""

import sys

from include.preload import preload

preload(sys.argv)
