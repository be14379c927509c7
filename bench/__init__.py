"""duban's benchmarks: `python -m bench [--quick] [--no-write]` measures everything and prints one table.

The modules measure one subject each (engine, telegram, understanding, scale, startup) and return rows of
`bench.common.Row`; `bench.__main__` runs them side by side, prints the table and writes docs/benchmarks.md.
"""
