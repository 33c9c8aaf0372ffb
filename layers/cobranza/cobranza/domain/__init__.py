"""Pure business rules: no boto3, no PynamoDB, no clock reads ("today" is always an argument)."""
