"""API plumbing shared by every app: error mapping, pagination, JSON 404/500, health."""
