"""Parsers of benchmark outputs: each a pure function from raw text to unified records."""

from recipebench.parsers.common import Parsed, ParseError
from recipebench.parsers.detect import TOOLS, parse

__all__ = ["ParseError", "Parsed", "TOOLS", "parse"]
