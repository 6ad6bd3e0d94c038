"""Studies that run the generator again: of the toolkit's own methods over many generated days (the coverage of the
claims' intervals, :mod:`~newretail.studies.coverage`), of the store estimators on fresh simulated cities
(:mod:`~newretail.studies.store_failures`) and of the two readings of the report's conversion figure, each
calibrated (:mod:`~newretail.studies.readings`). Unlike the analyses, a study may import the generator."""
