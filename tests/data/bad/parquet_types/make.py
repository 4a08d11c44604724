"""Parquet files with column types trialpanel does not decode, or decodes
but must not take as hours: the `parquet_types` cases of tests/catalogue.rs.

Regenerate (Python 3 with polars 1.x; the files are committed):

    python3 make.py

Each register is the base trial's register (../_base/register.csv) with one
column changed or added.
"""

import decimal

import polars as pl

base = pl.read_csv("../_base/register.csv", schema_overrides={"code": pl.String})

# Unused columns of types trialpanel does not read: the register loads.
base.with_columns(
    pl.lit(decimal.Decimal("1.50")).cast(pl.Decimal(10, 2)).alias("amount"),
    pl.lit("2016-03-07").str.to_date().alias("paid"),
    pl.lit("2016-03-07 10:00").str.to_datetime().alias("stamp"),
).write_parquet("register_unused_types.parquet")

# Hours as decimal: used, not decodable, named with its type.
base.with_columns(pl.col("hours").cast(pl.Decimal(10, 2))).write_parquet(
    "register_decimal_hours.parquet"
)

# Hours as booleans: decodable, but not hours.
base.with_columns((pl.col("hours") > 0).alias("hours")).write_parquet(
    "register_bool_hours.parquet"
)

# Hours as unsigned 64-bit integers, 2^64 - 1 in data row 2.
base.with_columns(
    pl.when(pl.int_range(pl.len()) == 1)
    .then(pl.lit(2**64 - 1, dtype=pl.UInt64))
    .otherwise(pl.col("hours").round(0).cast(pl.UInt64))
    .alias("hours")
).write_parquet("register_u64_hours.parquet")

# A person table with a date column: fine when the covariates are listed,
# named when it would be read as a covariate.
pl.read_csv("../_base/persons.csv").with_columns(
    pl.lit("1980-01-01").str.to_date().alias("birth")
).write_parquet("persons_date.parquet")
