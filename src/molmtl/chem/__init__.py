"""Molecules: parsing (SMILES, XYZ, SDF/MOL), validation, 3D embedding and 2D graph features.

RDKit is imported inside the functions that need it: a machine with geometry files only (the
GPU node) reads XYZ input without it.
"""
