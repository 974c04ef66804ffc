"""Signed commands from the cloud: verification, validation, the durable inbox, tools."""
