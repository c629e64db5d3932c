"""The pipeline's steps as ESPnet command lines (shared by the demo, tests and recipes)."""
