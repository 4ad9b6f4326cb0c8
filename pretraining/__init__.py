"""Pre-training methods (MultiTalent, MAE, SparkMAE/S3D, Models Genesis, VoCo) and weight transfer."""
