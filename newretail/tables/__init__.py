"""The table contract: every table's schema and category values, the manifest format and the dataset reader.

It sits to the left of both the generator and the readers: ``newretail.generate`` writes through it, everything
else reads through it. It imports nothing of ``newretail`` but :mod:`newretail.scenario`.
``python -m newretail.tables`` prints the data dictionary (``docs/data_dictionary.md``).
"""

from newretail.tables.dataset import Dataset, DatasetError, VerifyReport, open_dataset, verify
from newretail.tables.manifest import MANIFEST, ManifestError, file_record, load_manifest, save_manifest, sha256_file
from newretail.tables.schemas import SCHEMAS, data_dictionary, polars_schema

__all__ = [
    "MANIFEST",
    "SCHEMAS",
    "Dataset",
    "DatasetError",
    "ManifestError",
    "VerifyReport",
    "data_dictionary",
    "file_record",
    "load_manifest",
    "open_dataset",
    "polars_schema",
    "save_manifest",
    "sha256_file",
    "verify",
]
