"""Encoders (GCN, MPNN, dense PaiNN), task heads and target normalization.

Modules: ``base`` (the AtomFeatures / Encoder contract; batches are ``molmtl.data.molbatch``'s
MolBatch), ``gcn``, ``mpnn``, ``painn`` (encoders, each registered in ``registry.ENCODERS``),
``heads`` (``make_head``, ``HEAD_OPTIONS``), ``normalize`` (``TargetScaler``). Nothing is
imported here, so that importing ``molmtl.models.base`` stays cheap (PyTorch Geometric loads
only with the 2D encoders).
"""
