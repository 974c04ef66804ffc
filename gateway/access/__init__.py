"""Technicians' access to the gateway: users kept on the box, their second factor, the
audit of what they do."""
