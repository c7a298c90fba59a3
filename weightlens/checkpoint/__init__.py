"""Reading checkpoints: headers, discovery of files and shards, decoding of tensors."""

from weightlens.checkpoint.discover import Checkpoint, Unreadable, natural_key, open_checkpoint
from weightlens.checkpoint.dtypes import DTYPES, DType, decode
from weightlens.checkpoint.header import FileHeader, TensorInfo, read_header
from weightlens.checkpoint.reader import read_tensor

__all__ = [
    "DTYPES",
    "Checkpoint",
    "DType",
    "FileHeader",
    "TensorInfo",
    "Unreadable",
    "decode",
    "natural_key",
    "open_checkpoint",
    "read_header",
    "read_tensor",
]
