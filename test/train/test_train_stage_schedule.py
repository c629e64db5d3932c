import pytest
import torch
from torch import nn

from espnet_llm_entropy.train.stage_schedule import (
    DEFAULT_STAGE_SCHEDULE,
    StageSpec,
    apply_training_stage,
    parse_stage_schedule,
    stage_trainable_flags,
)

# parameter names of an LLM-ASR model with a LoRA LLM (base weights built frozen)
LLM_ASR = {
    "speech_encoder.encoder.embed.conv.0.weight": True,
    "speech_encoder.encoder.encoders.0.feed_forward.w_1.weight": True,
    "adaptor.mlp.0.weight": True,
    "llm.model.base_model.model.layers.0.q_proj.base_layer.weight": False,
    "llm.model.base_model.model.layers.0.q_proj.lora_A.default.weight": True,
}
PHONEME_CTC = {
    "speech_encoder.encoder.embed.conv.0.weight": True,
    "ctc_head.layers.0.weight": True,
}


def trainable(flags):
    return sorted(n for n, f in flags.items() if f)


def test_default_stages_on_llm_asr_names():
    specs = parse_stage_schedule(None)
    lora = "llm.model.base_model.model.layers.0.q_proj.lora_A.default.weight"
    enc = [n for n in LLM_ASR if n.startswith("speech_encoder.")]
    assert trainable(stage_trainable_flags(LLM_ASR, specs["align"])) == ["adaptor.mlp.0.weight"]
    assert trainable(stage_trainable_flags(LLM_ASR, specs["ia_sft"])) == sorted(["adaptor.mlp.0.weight", lora])
    # the LoRA base stays frozen even though "llm" trains; the CKA head is optional
    assert trainable(stage_trainable_flags(LLM_ASR, specs["joint_sft"])) == sorted(enc + ["adaptor.mlp.0.weight", lora])
    assert trainable(stage_trainable_flags(PHONEME_CTC, specs["pretrain"])) == sorted(PHONEME_CTC)


def test_optional_group_trains_when_present():
    names = dict(LLM_ASR, **{"ctc_head.layers.0.weight": True})
    flags = stage_trainable_flags(names, parse_stage_schedule(None)["joint_sft"])
    assert flags["ctc_head.layers.0.weight"] is True
    ia_sft = stage_trainable_flags(names, parse_stage_schedule(None)["ia_sft"])
    assert ia_sft["ctc_head.layers.0.weight"] is False


def test_prefix_matching_nothing_is_an_error():
    spec = StageSpec("align", trainable=("adapter",))  # typo of "adaptor"
    with pytest.raises(ValueError, match=r"stage 'align': trainable prefix 'adapter' matches no parameter.*adaptor"):
        stage_trainable_flags(LLM_ASR, spec)
    with pytest.raises(ValueError, match="frozen prefix 'speech_encoder.frontend'"):
        stage_trainable_flags(LLM_ASR, StageSpec("x", trainable=("speech_encoder",),
                                                 frozen=("speech_encoder.frontend",)))
    # the pretraining stage on an LLM-ASR model: ctc_head is absent
    with pytest.raises(ValueError, match="ctc_head"):
        stage_trainable_flags(LLM_ASR, parse_stage_schedule(None)["pretrain"])


def test_prefix_matches_whole_name_components_only():
    names = {"adaptor.w": True, "adaptor_extra.w": True}
    flags = stage_trainable_flags(names, StageSpec("s", trainable=("adaptor",)))
    assert flags == {"adaptor.w": True, "adaptor_extra.w": False}


def test_frozen_carves_out_of_a_trainable_group():
    spec = parse_stage_schedule({"joint_sft": {"trainable": ["speech_encoder", "adaptor"],
                                               "frozen": ["speech_encoder.encoder.embed"]}})["joint_sft"]
    flags = stage_trainable_flags(LLM_ASR, spec)
    assert flags["speech_encoder.encoder.embed.conv.0.weight"] is False
    assert flags["speech_encoder.encoder.encoders.0.feed_forward.w_1.weight"] is True


def test_override_keeps_other_default_stages_and_rejects_bad_entries():
    specs = parse_stage_schedule({"align": {"trainable": ["adaptor", "llm"]}})
    assert specs["align"].trainable == ("adaptor", "llm")
    assert specs["ia_sft"].trainable == tuple(DEFAULT_STAGE_SCHEDULE["ia_sft"]["trainable"])
    with pytest.raises(ValueError, match=r"--stage_schedule.align: unknown keys \['trainabel'\]"):
        parse_stage_schedule({"align": {"trainabel": ["adaptor"]}})
    with pytest.raises(ValueError, match="expected a list"):
        parse_stage_schedule({"align": {"trainable": "adaptor"}})


def test_apply_sets_requires_grad_on_a_module():
    model = nn.Module()
    model.speech_encoder = nn.Linear(2, 2)
    model.adaptor = nn.Linear(2, 2)
    model.llm = nn.Linear(2, 2)
    model.llm.weight.requires_grad_(False)  # e.g. a frozen base weight
    counts = apply_training_stage(model, parse_stage_schedule(None)["ia_sft"])
    assert [n for n, p in model.named_parameters() if p.requires_grad] == ["adaptor.weight", "adaptor.bias", "llm.bias"]
    assert counts == {"speech_encoder": 0, "adaptor": 6, "llm": 2}
    loss = sum(p.sum() for p in model.parameters() if p.requires_grad) + model.speech_encoder(torch.ones(1, 2)).sum()
    loss.backward()
    assert model.speech_encoder.weight.grad is None


def test_frozen_batchnorm_keeps_its_statistics():
    from espnet_llm_entropy.train.stage_schedule import freeze_running_statistics

    model = nn.Module()
    model.speech_encoder = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    model.adaptor = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4))
    apply_training_stage(model, parse_stage_schedule(None)["align"])
    model.train()
    assert freeze_running_statistics(model) == 1
    before = model.speech_encoder[1].running_mean.clone()
    model.adaptor(model.speech_encoder(torch.randn(8, 3) + 5))
    assert torch.equal(model.speech_encoder[1].running_mean, before)
    assert not torch.equal(model.adaptor[1].running_mean, torch.zeros(4))  # trainable BN still updates
