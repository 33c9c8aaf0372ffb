"""DynamoDB access: PynamoDB models and the repositories built on them.

This package is the only code that talks to DynamoDB.
"""
