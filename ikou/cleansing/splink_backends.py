"""The database splink scores on (dedup.backend, docs/dedup.md): DuckDB in this process, within
dedup.memory_limit and spilling into the run's staging folder, or Spark (the active session, or a
local one)."""

from __future__ import annotations

import os
from pathlib import Path

from ikou.errors import IkouError
from ikou.i18n import tr


def db_api(backend: str, memory_limit: str = "512MB", spill: Path | None = None):
    """splink's database API for the configured backend (docs/dedup.md)."""
    if backend == "spark":
        return spark_api(spill)
    from splink import DuckDBAPI

    from ikou.db import connect
    con = connect()
    # DuckDB takes up to 80 % of the machine by default; scoring a million persons fits in far
    # less when it may spill, and spilled pairs are personal data: they go to the run's own
    # staging folder (DuckDB's default for an in-memory database is ./.tmp, the current folder)
    con.execute(f"set memory_limit = '{memory_limit}'")
    if spill is not None:
        spill.mkdir(parents=True, exist_ok=True)
        con.execute(f"set temp_directory = '{str(spill).replace(chr(39), chr(39) * 2)}'")
    return DuckDBAPI(connection=con)


def spark_api(spill: Path | None):
    """splink's SparkAPI on the active Spark session (spark-submit, a cluster), or else a local one
    (``local[*]``, splink's similarity UDF jar on its classpath, scratch space in the run's
    staging folder)."""
    import shutil
    try:
        from pyspark.sql import SparkSession
        from splink.backends.spark import SparkAPI, similarity_jar_location
    except ImportError as exc:
        raise IkouError(tr("dedup.backend spark needs pyspark"), hint=tr("pip install 'ikou[spark]' (see "
                                                                     "docs/dedup.md), or use backend: duckdb")) from exc
    spark = SparkSession.getActiveSession()
    if spark is None:
        if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
            raise IkouError(tr("dedup.backend spark needs Java (17 or later) for a local Spark session"),
                            hint=tr("install a JDK (e.g. apt-get install openjdk-17-jre-headless), or use "
                                    "backend: duckdb"))
        builder = (SparkSession.builder.master("local[*]").appName("ikou-dedup")
                   .config("spark.jars", similarity_jar_location()).config("spark.ui.enabled", "false")
                   .config("spark.sql.shuffle.partitions", "8"))
        if spill is not None:
            spill.mkdir(parents=True, exist_ok=True)
            builder = builder.config("spark.local.dir", str(spill))
        spark = builder.getOrCreate()
    if spill is not None and spark.sparkContext.getCheckpointDir() is None:
        spark.sparkContext.setCheckpointDir(str(spill / "checkpoints"))  # splink breaks lineages with checkpoints
    return SparkAPI(spark_session=spark)
