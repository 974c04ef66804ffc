"""The command-line tools that work beside the daemon: they read the configuration,
ask the running daemon through its local API or read its database when it is
stopped (``store-gateway devices``, ``prices``, ``users``, ``web-cert``). They sit
above the packages they join, which do not import them."""
