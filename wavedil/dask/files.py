"""placeholder"""
from dataclasses import dataclass


@dataclass
class FileResult:
    pass


class FileTable:
    pass


def process_files() -> None:
    pass
