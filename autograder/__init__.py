"""Instructor and grader tools for the U-Net assignment: release generation and grading, built on nbgrader."""
