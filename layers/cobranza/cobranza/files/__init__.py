"""File adapters: streaming readers for portfolio files."""
