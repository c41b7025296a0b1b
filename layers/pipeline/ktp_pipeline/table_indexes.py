"""The jobs table's index names, in a module of their own so the CLI's read commands can use them
without importing the job store (and pydantic with it)."""

BY_STATUS_INDEX = "by-status"  # status + updated_at → every job (non-personal attributes)
BY_OBJECT_INDEX = "by-object"  # object_key + bucket → the job's attempts (keys and non-personal attributes)
