"""Prepared-dataset format: reader, writer and validator."""
