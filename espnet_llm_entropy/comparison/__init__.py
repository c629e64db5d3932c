"""Paradigm comparison: train several training strategies under one budget, measure, report.

* :mod:`.paradigm_spec`: a paradigm as data (``conf/paradigms/*.yaml``);
* :mod:`.workspace`: the data, LLM, token lists and statistics they share;
* :mod:`.paradigm_training`: one paradigm's ESPnet trainings for one seed;
* :mod:`.run_metrics`: decode, score, analyse one run into ``metrics.json``;
* :mod:`.task_graph`: runs the trainings a few at a time, in dependency order;
* :mod:`.aggregate`, :mod:`.comparison_report`, :mod:`.comparison_plots`:
  mean and spread over seeds, the paper's claims, tables and plots;
* :mod:`.comparison_runner`: all of it (``bin/compare_paradigms``).
"""
