"""The local web page and JSON API for store technicians."""
