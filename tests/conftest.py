"""Shared paths for the test drivers: every test runs from any directory."""
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
BUILD = ROOT / "build"
TEST_BUILD = BUILD / "tests"
