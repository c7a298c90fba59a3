"""A corpus of malformed safetensors files, each with the phrase its error message must contain."""

from __future__ import annotations

import json
import struct

VALID_ENTRY = {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}


def raw_file(header: bytes, data: bytes = b"\0" * 16, declared: int | None = None) -> bytes:
    n = len(header) if declared is None else declared
    return struct.pack("<Q", n) + header + data


def with_header(doc: object, data: bytes = b"\0" * 16) -> bytes:
    return raw_file(json.dumps(doc).encode(), data)


MALFORMED: dict[str, tuple[bytes, str]] = {
    "empty file": (b"", "0 bytes"),
    "shorter than 8 bytes": (b"\x01\x02\x03", "3 bytes"),
    "header longer than file": (raw_file(b"{}", b"", declared=1000), "exceeds the file size"),
    "header over 100 MB": (raw_file(b"{}", b"", declared=200 * 1024 * 1024), "100 MB"),
    "not JSON": (raw_file(b"{not json}"), "not valid JSON"),
    "JSON array": (with_header([1, 2]), "must be a JSON object"),
    "not UTF-8": (raw_file(b'{"\xff\xfe": 1}'), "not valid UTF-8"),
    "duplicate keys": (raw_file(b'{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}', b"\0" * 8), "duplicate key"),
    "unknown dtype": (with_header({"w": {**VALID_ENTRY, "dtype": "F12"}}), "unknown dtype 'F12'"),
    "negative dim": (with_header({"w": {**VALID_ENTRY, "shape": [-2, 2]}}), "non-negative integers"),
    "float dim": (with_header({"w": {**VALID_ENTRY, "shape": [2.0, 2]}}), "non-negative integers"),
    "bool dim": (with_header({"w": {**VALID_ENTRY, "shape": [True, 2]}}), "non-negative integers"),
    "missing offsets": (with_header({"w": {"dtype": "F32", "shape": [2]}}), "missing data_offsets"),
    "entry not an object": (with_header({"w": [1, 2]}), "expected an object"),
    "reversed offsets": (with_header({"w": {**VALID_ENTRY, "data_offsets": [16, 0]}}), "0 <= begin <= end"),
    "three offsets": (with_header({"w": {**VALID_ENTRY, "data_offsets": [0, 8, 16]}}), "data_offsets must be"),
    "length mismatch": (with_header({"w": {**VALID_ENTRY, "shape": [3, 2]}}), "needs 24 bytes"),
    "offsets past data": (with_header({"w": {**VALID_ENTRY, "data_offsets": [0, 32], "shape": [4, 2]}}), "run past the data buffer"),
    "truncated data": (with_header({"w": VALID_ENTRY}, data=b"\0" * 10), "run past the data buffer"),
    "overlap": (
        with_header({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}),
        "overlap",
    ),
    "bad metadata": (with_header({"__metadata__": {"k": 1}, "w": VALID_ENTRY}), "__metadata__"),
    "1 TB tensor": (with_header({"w": {"dtype": "F32", "shape": [1 << 18, 1 << 20], "data_offsets": [0, 1 << 40]}}), "run past the data buffer"),
    "pickle renamed": (b"\x80\x04\x95" + b"\0" * 40, "pickle"),
    "zip renamed": (b"PK\x03\x04" + b"\0" * 40, "ZIP archive"),
    "text renamed": (b"hello, this is a text file, not weights\n", "not safetensors"),
}
