"""Over-fit check of both training signals: a broken gradient path fails here.

Eight utterances, train = valid, tiny sizes, a fixed number of updates with
ESPnet's real trainer: phoneme CR-CTC pretraining must bring the greedy phone
error rate down, and LLM-ASR SFT on that encoder must reach a high teacher-forced
token accuracy. The thresholds are far from what the run reaches and far
from what an untrained model gives (PER 1.0, token accuracy < 0.2), so they
test that learning happens, not how well.
"""

import shutil

import pytest

from espnet_llm_entropy.analysis.learning_curves import read_learning_curve
from espnet_llm_entropy.analysis.phone_error_rate import phone_error_rate
from espnet_llm_entropy.pipeline import espnet_steps

pytestmark = pytest.mark.slow

TINY = ["--encoder_conf", "output_size=48", "--encoder_conf", "linear_units=96", "--encoder_conf", "attention_heads=2",
        "--batch_size", "8", "--num_att_plot", "0", "--seed", "0", "--num_iters_per_epoch", "30",
        "--specaug", "none", "--keep_nbest_models", "1"]
# the preset's piecewise-linear schedule, here with warm-up to lr over 40 updates and the inverse-sqrt
# decay after it (what warmuplr with warmup_steps=40 gives)
PRETRAIN = TINY + ["--max_epoch", "8", "--optim_conf", "lr=0.003", "--scheduler_conf", "warmup_steps_list=[0, 40]",
                   "--scheduler_conf", "warmup_lr_list=[0.0, 0.003]",
                   "--model_conf", "cr_weight=0", "--model_conf", "head_hidden_size=128",
                   "--cka_monitor_conf", "check_interval=1000", "--probe_conf", "num_utts=4"]
SFT = TINY + ["--max_epoch", "4", "--optim_conf", "lr=0.003", "--scheduler_conf", "warmup_steps=20",
              "--llm_conf", "train_mode=full"]


@pytest.fixture(scope="module")
def overfit(tmp_path_factory):
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (run `make setup`)")
    from espnet_llm_entropy.testing.experiment_setup import build_tiny_experiment

    root = tmp_path_factory.mktemp("overfit")
    exp = build_tiny_experiment(root, 8, 2, 2)
    # validate on the training utterances: this measures fitting, not generalisation
    shutil.rmtree(exp.stats / "valid")
    shutil.copytree(exp.stats / "train", exp.stats / "valid")
    train = exp.data / "train"
    espnet_steps.train(exp.pretrain_config, exp.phones, train, train, exp.stats, root / "pretrain", PRETRAIN)
    espnet_steps.train(
        exp.sft_config, exp.phones, train, train, exp.stats, root / "sft",
        SFT + ["--llm_conf", f"path={exp.llm_dir}", "--speech_encoder_init", str(root / "pretrain" / "latest.pth")],
    )
    return root, exp


def test_pretraining_fits_eight_utterances(overfit):
    root, exp = overfit
    curve = read_learning_curve(root / "pretrain")
    assert [r["step"] for r in curve][-1] == 240
    assert curve[0]["valid_per"] > 0.9  # the blank plateau at first
    assert curve[-1]["valid_per"] < 0.5
    per = phone_error_rate(root / "pretrain", exp.data / "train")
    assert per.num_utts == 8
    assert per.per == pytest.approx(curve[-1]["valid_per"], abs=0.05)


def test_sft_fits_eight_utterances(overfit):
    root, _ = overfit
    curve = read_learning_curve(root / "sft")
    assert curve[-1]["step"] == 120
    assert curve[-1]["valid_acc"] > 0.8
    assert curve[-1]["valid_acc"] > curve[0]["valid_acc"] + 0.3
