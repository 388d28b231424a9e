"""ISBI 2012 data loading and synthetic stand-ins for the U-Net course kit."""
