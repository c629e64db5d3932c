import shutil

import pytest
import torch

from espnet_llm_entropy.models.adaptor import FrameStackMLPAdaptor
from espnet_llm_entropy.models.hf_causal_lm import HFCausalLM
from espnet_llm_entropy.models.llm_asr import LLMASRModel
from espnet_llm_entropy.testing.tiny_components import build_tiny_speech_encoder
from espnet_llm_entropy.text.llm_tokenizer import load_llm_tokenizer

PHONES = ["<blank>", "<unk>", "a1", "b", "c"]


def _model(llm_dir, train_mode="lora", ctc_weight=0.3, seed=0):
    torch.manual_seed(seed)
    llm = HFCausalLM(str(llm_dir), train_mode=train_mode,
                     lora_conf={"r": 4, "alpha": 8, "dropout": 0.0})
    enc = build_tiny_speech_encoder(specaug=False)
    adaptor = FrameStackMLPAdaptor(enc.output_size(), llm.hidden_size, stack=4)
    return LLMASRModel(len(PHONES), PHONES, enc, adaptor, llm, load_llm_tokenizer(llm_dir),
                       ctc_weight=ctc_weight, ctc_head_hidden_size=16)


def _batch(model, audio_batch, texts=("hello world", "你好", "open the door")):
    ids = [model.tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
    width = max(map(len, ids))
    tok = torch.full((3, width), -1)
    for i, row in enumerate(ids):
        tok[i, : len(row)] = torch.tensor(row)
    phones = torch.tensor([[2, 3], [4, -1], [2, 4]])
    return dict(speech=audio_batch[0], speech_lengths=audio_batch[1], text=phones,
                text_lengths=torch.tensor([2, 1, 2]), llm_tokens=tok,
                llm_tokens_lengths=torch.tensor([len(r) for r in ids]))


def _trained_params(model, batch):
    model.train()
    model.zero_grad()
    loss, stats, _ = model(**batch)
    loss.backward()
    return {n for n, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}


@pytest.mark.parametrize("mode", ["frozen", "lora", "full"])
def test_gradients_reach_exactly_the_trainable_parts(tiny_llm_dir, audio_batch, mode):
    model = _model(tiny_llm_dir, train_mode=mode)
    got = _trained_params(model, _batch(model, audio_batch))
    llm_grads = {n for n in got if n.startswith("llm.")}
    assert any(n.startswith("speech_encoder.") for n in got)
    assert any(n.startswith("adaptor.") for n in got)
    assert any(n.startswith("ctc_head.") for n in got)
    if mode == "frozen":
        assert llm_grads == set()
    elif mode == "lora":
        assert llm_grads and all("lora_" in n for n in llm_grads)
    else:
        assert any("embed_tokens" in n for n in llm_grads) and not any("lora_" in n for n in llm_grads)


def test_loss_counts_only_transcript_tokens_and_eos(tiny_llm_dir, audio_batch):
    model = _model(tiny_llm_dir, ctc_weight=0.0).eval()
    batch = _batch(model, audio_batch)
    emb, emb_len, _, _ = model.speech_embeddings(batch["speech"], batch["speech_lengths"])
    nll, _, row = model.transcript_nll(emb, emb_len, batch["llm_tokens"], batch["llm_tokens_lengths"])
    assert nll.numel() == int((batch["llm_tokens_lengths"] + 1).sum())
    assert torch.bincount(row).tolist() == (batch["llm_tokens_lengths"] + 1).tolist()
    loss, stats, _ = model(**batch)
    assert torch.isclose(loss, nll.sum() / 3, atol=1e-5)


def test_checkpoint_leaves_base_llm_out_and_round_trips(tiny_llm_dir, audio_batch, tmp_path):
    model = _model(tiny_llm_dir)
    batch = _batch(model, audio_batch)
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    model.train()
    model(**batch)[0].backward()
    opt.step()
    state = model.state_dict()
    llm_keys = [k for k in state if k.startswith("llm.") and k != "llm._extra_state"]
    assert llm_keys and all("lora_" in k for k in llm_keys)
    torch.save(state, tmp_path / "m.pth")
    other = _model(tiny_llm_dir, seed=1)
    other.load_state_dict(torch.load(tmp_path / "m.pth", weights_only=True))
    model.eval(); other.eval()
    with torch.no_grad():
        assert torch.allclose(model(**batch)[0], other(**batch)[0], atol=1e-6)


def test_checkpoint_from_another_base_llm_is_refused(tiny_llm_dir, audio_batch, tmp_path):
    model = _model(tiny_llm_dir)
    changed = tmp_path / "other_llm"
    shutil.copytree(tiny_llm_dir, changed)
    cfg = (changed / "config.json").read_text().replace('"rms_norm_eps": 1e-06', '"rms_norm_eps": 1e-05')
    (changed / "config.json").write_text(cfg)
    other = _model(changed)
    with pytest.raises(ValueError, match="base LLM mismatch"):
        other.load_state_dict(model.state_dict())


def test_missing_trainable_keys_are_an_error_even_non_strict(tiny_llm_dir):
    model = _model(tiny_llm_dir)
    state = model.state_dict()
    del state["adaptor.mlp.0.weight"]
    with pytest.raises(RuntimeError, match="adaptor.mlp.0.weight"):
        model.load_state_dict(state, strict=False)


def test_batched_generation_equals_one_at_a_time(tiny_llm_dir, audio_batch):
    model = _model(tiny_llm_dir).eval()
    speech, lengths = audio_batch
    batched, _ = model.generate(speech, lengths, max_new_tokens=6)
    single = [model.generate(speech[i:i + 1, : lengths[i]], lengths[i:i + 1], max_new_tokens=6)[0][0]
              for i in range(3)]
    assert batched == single


def test_greedy_output_is_the_argmax_of_a_teacher_forced_pass(tiny_llm_dir, audio_batch):
    model = _model(tiny_llm_dir).eval()
    speech, lengths = audio_batch
    hyps, _ = model.generate(speech, lengths, max_new_tokens=5)
    for i, hyp in enumerate(hyps):
        if not hyp:
            continue
        emb, emb_len, _, _ = model.speech_embeddings(speech[i:i + 1], lengths[i:i + 1])
        toks = torch.tensor([hyp])
        with torch.no_grad():
            nll, correct, _ = model.transcript_nll(emb, emb_len, toks, torch.tensor([len(hyp)]))
        # every generated token is the teacher-forced argmax (the last target is EOS,
        # which greedy search only predicts when it stopped before max_new_tokens)
        assert correct[: len(hyp)].all()


def test_adaptor_size_mismatch_is_a_clear_error(tiny_llm_dir):
    llm = HFCausalLM(str(tiny_llm_dir), train_mode="frozen")
    enc = build_tiny_speech_encoder()
    with pytest.raises(ValueError, match="does not match the LLM hidden size"):
        LLMASRModel(5, PHONES, enc, FrameStackMLPAdaptor(32, llm.hidden_size + 1), llm,
                    load_llm_tokenizer(tiny_llm_dir))


def test_llm_directory_errors(tmp_path, tiny_llm_dir):
    with pytest.raises(FileNotFoundError, match="no config.json"):
        HFCausalLM(str(tmp_path / "nope"))
    with pytest.raises(ValueError, match="target_modules"):
        HFCausalLM(str(tiny_llm_dir), lora_conf={"target_modules": ["not_a_module"]})
    with pytest.raises(ValueError, match="train_mode"):
        HFCausalLM(str(tiny_llm_dir), train_mode="half")
    with pytest.raises(FileNotFoundError, match="no tokenizer"):
        load_llm_tokenizer(tmp_path)


def test_merged_lora_gives_the_same_logits_and_restores_weights_exactly(tiny_llm_dir):
    model = _model(tiny_llm_dir)
    with torch.no_grad():  # make LoRA non-zero so merging changes the weights
        for name, p in model.llm.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.1)
    before = {k: v.clone() for k, v in model.llm.model.state_dict().items()}
    ids = torch.tensor([[3, 4, 5, 6]])
    emb = model.llm.embed_tokens(ids)
    mask = torch.ones_like(ids)
    with torch.no_grad():
        plain = model.llm.lm_head(model.llm.hidden_states(emb, mask))
        with model.llm.merged_lora():
            merged = model.llm.lm_head(model.llm.hidden_states(emb, mask))
            inside = model.llm.model.state_dict()
            changed = [k for k in before if "base_layer" in k and not torch.equal(before[k], inside[k])]
    assert changed  # the deltas really were folded into the base weights
    assert torch.allclose(plain, merged, atol=1e-5)
    after = model.llm.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def _keep_head_model(llm_dir):
    torch.manual_seed(0)
    llm = HFCausalLM(str(llm_dir), train_mode="full")
    enc = build_tiny_speech_encoder(specaug=False)
    adaptor = FrameStackMLPAdaptor(enc.output_size(), llm.hidden_size, stack=4)
    return LLMASRModel(len(PHONES), PHONES, enc, adaptor, llm, load_llm_tokenizer(llm_dir),
                       ctc_weight=0.0, ctc_head_hidden_size=16, keep_ctc_head=True)


def test_kept_ctc_head_is_frozen_and_counts_only_once_trained(tiny_llm_dir, audio_batch):
    model = _keep_head_model(tiny_llm_dir)
    assert model.ctc_head is not None
    assert not any(p.requires_grad for p in model.ctc_head.parameters())
    got = _trained_params(model, _batch(model, audio_batch))
    assert not any(n.startswith("ctc_head.") for n in got)  # ctc_weight 0: evidence only
    model.eval()
    enc, enc_lengths = model.encode(*audio_batch)
    assert model.ctc_phone_counts(enc, enc_lengths) is None  # an untrained head is no evidence
    model.ctc_head_trained.fill_(True)
    counts = model.ctc_phone_counts(enc, enc_lengths)
    assert counts.shape == (3,) and counts.dtype == torch.long and bool((counts >= 0).all())
    # the flag travels in checkpoints; a checkpoint written before it existed loads as untrained
    state = model.state_dict()
    assert bool(state["ctc_head_trained"])
    fresh = _keep_head_model(tiny_llm_dir)
    fresh.load_state_dict(state)
    assert bool(fresh.ctc_head_trained)
    del state["ctc_head_trained"]
    fresh.load_state_dict(state)
    assert not bool(fresh.ctc_head_trained)


def test_models_without_a_head_carry_no_flag(tiny_llm_dir):
    model = _model(tiny_llm_dir, ctc_weight=0.0)
    assert model.ctc_head is None and "ctc_head_trained" not in model.state_dict()


def test_empty_transcripts_train_towards_eos_alone(tiny_llm_dir, audio_batch):
    """A non-speech example (empty transcript, empty phone target) gives a finite loss whose
    LLM part is the NLL of EOS alone, and a CTC part that pulls towards blanks."""
    model = _model(tiny_llm_dir, ctc_weight=0.3).eval()
    batch = _batch(model, audio_batch)
    batch["llm_tokens_lengths"] = torch.tensor([0, 2, 3])
    batch["text_lengths"] = torch.tensor([0, 1, 2])
    loss, stats, _ = model(**batch)
    assert torch.isfinite(loss) and torch.isfinite(stats["loss_ctc"])
    emb, emb_len, _, _ = model.speech_embeddings(batch["speech"], batch["speech_lengths"])
    nll, _, row = model.transcript_nll(emb, emb_len, batch["llm_tokens"], batch["llm_tokens_lengths"])
    assert torch.bincount(row).tolist() == [1, 3, 4]
    all_empty = dict(batch, llm_tokens=batch["llm_tokens"][:, :0], text=batch["text"][:, :0],
                     llm_tokens_lengths=torch.zeros(3, dtype=torch.long),
                     text_lengths=torch.zeros(3, dtype=torch.long))
    loss, _, _ = model(**all_empty)
    assert torch.isfinite(loss)
