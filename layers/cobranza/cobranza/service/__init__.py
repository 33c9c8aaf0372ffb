"""Use cases called by the Lambda handlers."""
