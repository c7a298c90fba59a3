"""Header validation: every malformed file gives one HeaderError naming the file and the problem."""

from __future__ import annotations

import numpy as np
import pytest

from tests.checkpoint.corpus import MALFORMED
from weightlens.checkpoint import read_header
from weightlens.errors import InputError
from weightlens.testing import write_safetensors


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_header_is_rejected_with_a_clear_message(tmp_path, case: str) -> None:  # type: ignore[no-untyped-def]
    content, phrase = MALFORMED[case]
    path = tmp_path / "bad.safetensors"
    path.write_bytes(content)
    with pytest.raises(InputError) as info:
        read_header(path)
    message = str(info.value)
    assert message.startswith(str(path))
    assert phrase in message
    assert "\n" not in message


def test_valid_header_is_parsed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = write_safetensors(tmp_path / "ok.safetensors", {"b": np.zeros((3, 4), np.float32), "a": np.zeros(5, np.float16)}, metadata={"format": "pt"})
    h = read_header(path)
    assert h.metadata == {"format": "pt"}
    assert h.size == path.stat().st_size
    by_name = {t.name: t for t in h.tensors}
    assert by_name["a"].shape == (5,) and by_name["a"].nbytes == 10 and by_name["a"].dtype == "F16"
    assert by_name["b"].shape == (3, 4) and by_name["b"].nbytes == 48
    assert by_name["b"].offset == 8 + h.header_size + 10  # data laid out in name order
    assert len(h.sha256) == 64


def test_zero_size_tensors_may_share_an_offset(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = write_safetensors(tmp_path / "z.safetensors", {"a": np.zeros((0, 3), np.float32), "b": np.zeros((0,), np.float32), "c": np.ones(2, np.float32)})
    assert {t.name for t in read_header(path).tensors} == {"a", "b", "c"}


def test_missing_file_and_directory(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError, match="cannot read"):
        read_header(tmp_path / "nope.safetensors")
    with pytest.raises(InputError, match="is a directory"):
        read_header(tmp_path)
