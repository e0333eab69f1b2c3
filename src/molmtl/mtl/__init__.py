"""Multi-task strategies (how tasks share parameters) and balancers (how their losses combine)."""
