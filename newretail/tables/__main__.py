"""``python -m newretail.tables``: print the data dictionary (``make docs`` writes it to docs/data_dictionary.md)."""

from newretail.tables.schemas import data_dictionary

print(data_dictionary(), end="")
