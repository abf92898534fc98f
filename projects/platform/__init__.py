"""The composition root: one process serving every project's API plus the model server, and the portal.

The only package allowed to import projects; projects never import each other or this package.
"""
