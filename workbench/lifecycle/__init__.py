"""A number's life after registration: bulk deletion and purge (F7), retention, disclosure, correction and
suspension of use (F9), the inquiry log, backups."""
