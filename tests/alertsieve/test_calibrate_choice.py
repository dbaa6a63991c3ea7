from __future__ import annotations

import numpy as np

from alertsieve.calibrate import Calibration, logit


def test_over_confident_scores_are_flattened_by_the_held_out_choice():
    rng = np.random.default_rng(3)
    true_logit = rng.normal(-2.0, 1.0, 6000)
    labels = rng.uniform(size=6000) < 1 / (1 + np.exp(-true_logit))
    over_confident = 1 / (1 + np.exp(-4 * true_logit))  # logits four times too far apart
    chosen = Calibration.choose(over_confident, labels)
    assert chosen.kind == "platt"
    assert 0.15 < chosen.slope < 0.4
    assert chosen.held_out_log_loss["platt"] < chosen.held_out_log_loss["none"]
    # the smallest probabilities come back up to what the labels show
    low = true_logit < -4
    assert chosen.apply(over_confident)[low].mean() > 10 * over_confident[low].mean()


def test_well_calibrated_scores_are_kept_or_barely_moved():
    rng = np.random.default_rng(4)
    scores = rng.uniform(0.01, 0.6, 5000)
    labels = rng.uniform(size=5000) < scores
    chosen = Calibration.choose(scores, labels)
    assert np.allclose(logit(chosen.apply(scores)), logit(scores), atol=0.15)


def test_the_slope_never_sharpens():
    rng = np.random.default_rng(5)
    true_logit = rng.normal(-1.0, 2.0, 4000)
    labels = rng.uniform(size=4000) < 1 / (1 + np.exp(-true_logit))
    under_confident = 1 / (1 + np.exp(-0.3 * true_logit))
    fitted = Calibration.fit(under_confident, labels, "platt")
    assert fitted.slope == 1.0
