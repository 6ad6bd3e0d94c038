"""The table contract: every table's schema and category values, the manifest format and the dataset reader.

It sits to the left of both the generator and the readers: ``newretail.generate`` writes through it, everything
else reads through it. It imports nothing of ``newretail`` but :mod:`newretail.scenario` and, for the folder of
its verification stamps (:mod:`newretail.tables.stamps`), :mod:`newretail.cache`.
``python -m newretail.tables`` prints the data dictionary (``docs/data_dictionary.md``).
"""

from newretail.tables.dataset import Dataset, DatasetError, VerifyReport, open_dataset, verify
from newretail.tables.manifest import MANIFEST, ManifestError, file_record, load_manifest, save_manifest, sha256_file
from newretail.tables.schemas import SCHEMAS, data_dictionary, polars_schema
from newretail.tables.tally import Measure, Tally, group_arrays, group_key, tally

__all__ = [
    "MANIFEST",
    "SCHEMAS",
    "Dataset",
    "DatasetError",
    "ManifestError",
    "Measure",
    "Tally",
    "VerifyReport",
    "data_dictionary",
    "file_record",
    "group_arrays",
    "group_key",
    "load_manifest",
    "open_dataset",
    "polars_schema",
    "save_manifest",
    "sha256_file",
    "tally",
    "verify",
]
