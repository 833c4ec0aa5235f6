"""The head of a network file for a generated sample archive (``generate_sample``).

Tests append their own routes and destinations to :data:`SAMPLE_SOURCES`; like them
it is a ``str.format`` template, its braces doubled.
"""

SAMPLE_SOURCES = """\
tracking: sqlite:///ledger.db
sources:
  - {{name: store01, path: store01}}
  - {{name: store02, path: store02}}
  - {{name: store03, path: store03}}
"""
