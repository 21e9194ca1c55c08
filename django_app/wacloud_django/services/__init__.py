"""Everything wacloud does, as plain functions. Views, tasks, admin actions and
management commands are one-line calls into these modules."""
