"""Point-in-time customer features: one implementation for training and serving."""
