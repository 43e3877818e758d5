"""File formats, read and write, one module each; a format module never imports the model."""
