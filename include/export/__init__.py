"""Publishing mart contents for downstream teams (churn lists)."""
