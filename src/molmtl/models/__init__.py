"""Encoders (GCN, MPNN, dense PaiNN), task heads and the batch they share."""
