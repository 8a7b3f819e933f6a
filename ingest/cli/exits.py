"""The exit statuses of `ingest`, one place for every command to return them from.

    EXIT_OK           0    everything worked
    EXIT_FAILED       1    something failed at run time (each failure named on stderr)
    EXIT_USAGE        2    configuration or usage error
    EXIT_INTERRUPTED  130  stopped by Ctrl-C (128 + SIGINT, as shells report it)
"""

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 130
