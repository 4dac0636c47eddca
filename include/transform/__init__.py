"""Running the dbt project: its environment (profile values from settings) and in-process invocation."""
