"""Lesson code of the U-Net ISBI 2012 course kit: configuration, metrics and training."""
