"""alertsieve: page or suppress every monitoring alert, suppressing as much noise as possible while
suppressing fewer than 1.5% of actionable alerts. This package is the pure core: it imports no Ray."""

__version__ = "0.1.0"
