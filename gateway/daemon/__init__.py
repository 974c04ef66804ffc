"""The daemon: lifecycle, supervised components, signals."""
