"""The MCP server of the warehouse (`sa mcp`): read-only KPI tools over the masked `serving` views."""
