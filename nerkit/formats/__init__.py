"""File formats, read and written; each module meets the others in nerkit's sentence records."""
