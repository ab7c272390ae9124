"""How much one simulation may take on: it runs the whole engine, for seconds."""

__all__ = ["MAX_AUDIENCE", "MAX_DAYS"]

#: The most virtual days a forecast or what-if covers.
MAX_DAYS = 90
#: The most contacts a forecast or what-if copies and runs.
MAX_AUDIENCE = 50_000
