"""Fine-tuning: schedules, optimisers, profiles, the training loop and checkpoints."""
