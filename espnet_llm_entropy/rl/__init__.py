"""Reinforcement learning after joint SFT: GRPO's reward and objective as pure functions.

Below ``models/`` and ``train/``: it imports only ``evaluation/`` (the unit
error rate) and ``config_options``. The model-side forward pass is
``models/grpo_step.py``; the stage is ``--training_stage grpo``.
"""
