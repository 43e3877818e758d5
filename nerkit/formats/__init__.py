"""File formats that nerkit reads and writes, one module each."""
