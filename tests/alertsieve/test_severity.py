import pytest

from alertsieve.severity import severity_level


@pytest.mark.parametrize(
    ("labels", "level"),
    [
        ({"severity": "critical"}, 1.0),
        ({"severity": " CRITICAL "}, 1.0),
        ({"severity": "warning"}, 0.5),
        ({"severity": "info"}, 0.0),
        ({"priority": "P2"}, 0.75),
        ({"level": "minor"}, 0.25),
        ({"severity": "bogus"}, None),
        ({"team": "x"}, None),
    ],
)
def test_severity_level(labels, level):
    assert severity_level(labels) == level
