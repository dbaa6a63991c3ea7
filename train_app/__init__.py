"""Ray adapters for training: Ray Train fitting of the core classifier, retraining jobs, promotion."""
