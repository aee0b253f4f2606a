"""The background process: sends due messages and runs the periodic jobs."""
