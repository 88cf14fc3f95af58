"""Tests of ``sqlweave run``: notebooks executed headless in real kernels."""
