"""The four training stages: schedule, CKA-triggered encoder publication, hot-swap, drift.

See :mod:`espnet_llm_entropy.train.multi_stage_trainer` for the ESPnet options.
"""
