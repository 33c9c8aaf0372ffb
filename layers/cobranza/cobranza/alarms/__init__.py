"""Business alarms that reach people (SPEC §8): the hourly job, the alarm list, urgent emails and the digest."""
