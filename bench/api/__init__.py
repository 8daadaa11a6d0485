"""Read API benchmark: wrk against gunicorn on a board of 1,000,000 players."""
