"""Administration command: tenants and API keys (and field agents), local or deployed."""
