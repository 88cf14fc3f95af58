"""Tests of the IPython magics and the extension's lifecycle, through a real
InteractiveShell."""
