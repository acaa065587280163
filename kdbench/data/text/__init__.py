"""Text data: labelled sentences from CSV/TSV files, a WordPiece tokenizer trained on the
training split only, token ids padded to a fixed length (InputSpec kind "tokens")."""
