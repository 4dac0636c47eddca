"""KPI queries shared by the MCP server and the Airflow UI's KPI page (`queries`)."""
