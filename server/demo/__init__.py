"""The fictional demo school that `make run` seeds."""
