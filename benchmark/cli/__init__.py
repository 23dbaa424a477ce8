"""The ``vcval`` command line: a thin layer of argparse over library functions."""
