"""Small causal LMs built locally (tests, demo) and helpers to pretrain them."""
