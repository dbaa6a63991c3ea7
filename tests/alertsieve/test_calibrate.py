from __future__ import annotations

import numpy as np
import pytest

from alertsieve.calibrate import Calibration, logit


def test_the_intercept_moves_probabilities_to_the_validation_share():
    rng = np.random.default_rng(0)
    scores = np.full(4000, 0.02)
    labels = rng.uniform(size=4000) < 0.08  # the model says 2%, validation shows about 8%
    calibration = Calibration.fit(scores, labels)
    assert calibration.apply(scores)[0] == pytest.approx(labels.mean(), rel=0.05)
    assert calibration.intercept > 0


def test_the_map_keeps_the_ranking():
    rng = np.random.default_rng(1)
    scores = rng.uniform(1e-5, 0.99, 500)
    labels = rng.uniform(size=500) < scores / 3
    out = Calibration.fit(scores, labels).apply(scores)
    assert np.array_equal(np.argsort(out), np.argsort(scores))
    assert ((out > 0) & (out < 1)).all()


def test_separable_or_one_class_validation_stays_finite():
    scores = np.concatenate([np.full(100, 1e-6), np.full(5, 0.999)])
    labels = np.array([False] * 100 + [True] * 5)
    assert abs(Calibration.fit(scores, labels).intercept) < 5
    assert Calibration.fit(scores, np.zeros(105, dtype=bool)) == Calibration()
    assert Calibration().apply(scores).tolist() == scores.tolist()


def test_logit_is_clipped():
    assert np.isfinite(logit(np.array([0.0, 1.0]))).all()
