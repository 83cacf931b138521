"""The engine as a service: the HTTP API (``app``), its shapes (``schemas``) and ``/metrics``."""
