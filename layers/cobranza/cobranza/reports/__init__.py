"""The daily report per tenant (SPEC §9): its figures and charts, its HTML and PDF, where they are kept."""
