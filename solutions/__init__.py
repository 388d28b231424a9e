"""The authored source of the assignment (an nbgrader notebook) and access to its reference solution."""
